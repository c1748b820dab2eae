import ArgumentParser
import Foundation
import IMProtocol
import Records
import Replay
import ReplayClient

/// Which recorded sessions `replay` and `export` take, and from where: a capture (its sessions on `--port`) or a
/// replay script that `export` wrote.
struct SessionChoice: ParsableArguments {
    @Option(
        name: .customLong("conn"),
        help: ArgumentHelp("Only the session of connection N (repeatable).", valueName: "n"))
    var conns: [Int] = []

    @Option(
        name: .customLong("user"),
        help: ArgumentHelp("Only the sessions of user ID (repeatable).", valueName: "id"))
    var users: [String] = []

    @Option(help: "Server port of the recorded sessions (repeatable).")
    var port: [UInt16] = [9092]

    @Flag(help: "Take Socket.IO sessions on any port.")
    var anyPort = false

    /// What a source holds: the script, the ignore patterns a script file carries, and how many sessions of a
    /// capture began before it did (not replayable: their handshake is not in it).
    struct Loaded {
        var script: ReplayScript
        var ignore: [String] = []
        var unopened = 0
    }

    /// Reads `source`: a script file (`.json`, or any file that starts with `{`) or a capture. Throws
    /// ``ReplayError/cannotRun(_:)`` with a one-line reason when it cannot, or when no session is left.
    func load(_ source: String) throws -> Loaded {
        let script = isScript(source)
        var loaded = try script ? readScriptFile(source) : readCapture(source)
        if !conns.isEmpty { loaded.script.clients.removeAll { c in !c.conns.contains(where: conns.contains) } }
        if !users.isEmpty { loaded.script.clients.removeAll { c in !users.contains(c.user ?? "") } }
        if loaded.script.clients.isEmpty {
            let chosen = conns.isEmpty && users.isEmpty ? "" : " matching --conn/--user"
            let ports =
                anyPort || script
                ? "" : " on port \(port.map(String.init).joined(separator: ", ")) (--port, --any-port)"
            let unopened =
                loaded.unopened == 0
                ? "" : "; \(loaded.unopened) began before the capture did (their handshake is not in it)"
            throw ReplayError.cannotRun("no Socket.IO session\(chosen) in \(source)\(ports)\(unopened)")
        }
        return loaded
    }

    func isScript(_ source: String) -> Bool {
        if source.hasSuffix(".json") { return true }
        guard let handle = FileHandle(forReadingAtPath: source),
            let head = try? handle.read(upToCount: 64)
        else { return false }
        return head.first { !$0.isASCIIWhitespace } == UInt8(ascii: "{")
    }

    func readScriptFile(_ source: String) throws -> Loaded {
        guard let data = FileManager.default.contents(atPath: source) else {
            throw ReplayError.cannotRun("cannot read \(source)")
        }
        do {
            let (script, ignore) = try ScriptJSON.parse(Array(data))
            return Loaded(script: script, ignore: ignore)
        } catch {
            throw ReplayError.cannotRun("\(source): \(error)")
        }
    }

    func readCapture(_ source: String) throws -> Loaded {
        let builder = ScriptBuilder()
        do {
            guard try readOwnedRecords(files: [source], ports: port, anyPort: anyPort, into: builder) else {
                throw ReplayError.cannotRun("cannot read \(source)")
            }
        } catch let error as ReplayError {
            throw error
        } catch {
            throw ReplayError.cannotRun("\(source): \(error)")
        }
        return Loaded(script: builder.script, unopened: builder.unopened.count)
    }
}

extension UInt8 {
    fileprivate var isASCIIWhitespace: Bool { self == 0x20 || self == 0x0A || self == 0x0D || self == 0x09 }
}

extension IMScope {
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Write a capture's Socket.IO sessions as a replay script (JSON) to keep, edit and replay.",
            discussion: """
                The script holds every recorded client: its handshake, what it sent and when (and after which \
                server message), and what the server sent it. 'imscope replay SCRIPT.json --server URL' runs it as \
                it runs the capture. Keys are sorted and the output deterministic, so the file diffs well. See \
                Docs/replay-script.md. Exit status: 0 written, 2 no session to write.
                """)

        @Argument(help: ArgumentHelp("A capture file (pcap or pcapng).", valueName: "capture"))
        var capture: String

        @Option(
            name: .shortAndLong,
            help: ArgumentHelp("Write the script to FILE ('-': standard output).", valueName: "file"))
        var output: String = "-"

        @Option(help: ArgumentHelp("An ignore pattern to write into the script (repeatable).", valueName: "path"))
        var ignore: [String] = []

        @OptionGroup var sessions: SessionChoice

        func run() throws {
            for text in ignore {
                do {
                    _ = try IgnorePattern(parsing: text)
                } catch {
                    throw ValidationError("--ignore \(text): \(error)")
                }
            }
            let loaded: SessionChoice.Loaded
            do {
                loaded = try sessions.load(capture)
            } catch {
                printError("export: error: \(error)")
                throw ExitCode(2)
            }
            let text = ScriptJSON.render(
                loaded.script, source: (capture as NSString).lastPathComponent, ignore: loaded.ignore + ignore)
            if output == "-" {
                print(text, terminator: "")
                return
            }
            do {
                try text.write(toFile: output, atomically: true, encoding: .utf8)
            } catch {
                printError("export: error: cannot write \(output): \(error.localizedDescription)")
                throw ExitCode(2)
            }
            let n = loaded.script.clients.count
            printError(
                "export: \(n) client\(n == 1 ? "" : "s"), \(loaded.script.clients.reduce(0) { $0 + $1.steps.count }) "
                    + "steps, \(loaded.script.clients.reduce(0) { $0 + $1.expected.count }) expected server messages "
                    + "-> \(output)")
        }
    }
}
