import ArgumentParser

/// Commands whose issues have not landed yet: they say so instead of pretending.
protocol NotYetAvailable: ParsableCommand {}

extension NotYetAvailable {
    func run() throws {
        printError("imscope: '\(Self._commandName)' is not available yet in this version; 'imscope read' is.")
        throw ExitCode(1)
    }
}

extension IMScope {
    struct Stats: NotYetAvailable {
        static let configuration = CommandConfiguration(
            commandName: "stats", abstract: "Counts and rates per layer, type, user, connection.")
        @Argument var files: [String] = []
    }
    struct Report: NotYetAvailable {
        static let configuration = CommandConfiguration(
            commandName: "report", abstract: "A self-contained HTML timeline.")
        @Argument var files: [String] = []
        @Option(name: .shortAndLong) var output: String?
    }
}
