/// Learned noise: the paths whose values differ from run to run of a server the team trusts (a trace id, a
/// server time the default rules do not know). `--learn-noise FILE` replays twice and writes them; `--noise FILE`
/// ignores them, and reports a message that differed only there as noise (a skipped test case), not a failure.
///
/// The file is text a person can read and edit: one ignore pattern per line (the `--ignore` grammar), `#` comments
/// and blank lines allowed.
public enum Noise {
    /// What two replays against a trusted server teach: the paths that differed (between the runs, or from the
    /// recording), and the differences no path can describe (a message missing or unexpected), which noise cannot
    /// excuse.
    public struct Learned: Sendable, Equatable {
        public var patterns: [String]
        public var unlearnable: [String]

        public init(patterns: [String], unlearnable: [String]) {
            self.patterns = patterns
            self.unlearnable = unlearnable
        }
    }

    /// `runs[r][c]`: what client `c` received in run `r` (the runs of one script). `matcher` carries the rules in
    /// force (defaults, `--ignore`s, the client-sent msgIds), so only what they do not already ignore is learned.
    public static func learn(_ script: ReplayScript, runs: [[[ServerMessage]]], matcher: Matcher) -> Learned {
        var paths = Set<String>()
        var unlearnable: [String] = []
        for (c, client) in script.clients.enumerated() {
            for (r, run) in runs.enumerated() where c < run.count {
                for outcome in matcher.match(expected: client.expected, actual: run[c]) {
                    switch outcome.status {
                    case .matched: break
                    case .changed: paths.formUnion(outcome.differences.map(\.path.description))
                    case .missing, .unexpected:
                        let what = (outcome.expected ?? outcome.actual).map(\.label) ?? ""
                        unlearnable.append("run \(r + 1): \(client.name) \(outcome.status.rawValue) \(what)")
                    }
                }
            }
            // Between the runs: what the server made differently each time, whatever the recording says.
            for r in runs.indices.dropFirst() where c < runs[r].count && c < runs[0].count {
                for outcome in matcher.match(expected: runs[0][c], actual: runs[r][c]) where outcome.status == .changed
                {
                    paths.formUnion(outcome.differences.map(\.path.description))
                }
            }
        }
        return Learned(patterns: paths.sorted(), unlearnable: unlearnable)
    }

    /// The noise file's text.
    public static func render(_ learned: Learned, source: String, server: String) -> String {
        var out = "# imscope noise: values that differed between two replays of \(source) against \(server)\n"
        out += "# (or from the recording). One --ignore pattern per line; replay --noise FILE ignores them and\n"
        out += "# reports a message that differed only here as noise (skipped), not as a failure.\n"
        for p in learned.patterns { out += p + "\n" }
        return out
    }

    /// Why a noise file cannot be used: its line and what is wrong there.
    public struct ReadError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The patterns of a noise file's text.
    public static func parse(_ text: String) throws -> [IgnorePattern] {
        var patterns: [IgnorePattern] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            do {
                patterns.append(try IgnorePattern(parsing: line))
            } catch {
                throw ReadError(description: "line \(i + 1): \(error)")
            }
        }
        return patterns
    }
}
