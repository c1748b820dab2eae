import ArgumentParser
import Capture
import Foundation
import IMProtocol
import Pipeline
import Records
import Replay
import ReplayClient

extension ReplayOptions.TransportChoice: ExpressibleByArgument {}

extension IMScope {
    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "replay",
            abstract: "Replay a capture's Socket.IO clients against a server and compare what it sends.",
            discussion: """
                Every recorded client becomes a live client with its own Engine.IO session, sending what it sent, \
                at the recorded offsets and after what it had received. What the server sends each one is matched \
                to what it sent in the recording. Exit status: 0 when every expected server message came as \
                recorded, 1 when there were differences, 2 when the replay could not run (the reason on stderr). \
                See Docs/replay.md.
                """)

        @Argument(
            help: ArgumentHelp(
                "A capture file (pcap or pcapng), or a replay script that 'imscope export' wrote.", valueName: "source")
        )
        var source: String

        @OptionGroup var sessions: SessionChoice

        @Option(help: ArgumentHelp("The server: http://, https://, ws:// or wss://host:port.", valueName: "url"))
        var server: String

        @Option(
            name: .customLong("header"),
            help: ArgumentHelp(
                "A handshake header, 'Name: value' (repeatable; replaces a recorded one).", valueName: "header"))
        var headers: [String] = []

        @Option(help: "websocket, polling, or as-recorded.")
        var transport: ReplayOptions.TransportChoice = .asRecorded

        @Option(help: "Play the recorded offsets this many times faster.")
        var speed: Double = 1

        @Flag(help: "Send as soon as each step's causes have come, ignoring recorded offsets.")
        var noDelay = false

        @Option(help: ArgumentHelp("Seconds to wait for a handshake, an answer or a step's cause.", valueName: "s"))
        var timeout: Double = 10

        @Flag(help: "Do not check the server's TLS certificate.")
        var insecure = false

        @Option(help: ArgumentHelp("Trust the CA certificates in FILE (PEM).", valueName: "file"))
        var ca: String?

        @Flag(help: "Match each client's server messages as a multiset, not in order.")
        var unordered = false

        @Option(
            help: ArgumentHelp(
                "Do not compare values at PATH (repeatable), e.g. chat.args[0].receiveTime.", valueName: "path"))
        var ignore: [String] = []

        @Option(
            help: ArgumentHelp(
                "Replay twice against a server you trust and write the paths that differed to FILE (noise).",
                valueName: "file"))
        var learnNoise: String?

        @Option(
            help: ArgumentHelp(
                "Ignore the paths in FILE (from --learn-noise; repeatable), reporting noise-only messages as skipped.",
                valueName: "file"))
        var noise: [String] = []

        @Option(
            help: ArgumentHelp(
                "Run N copies of every recorded client at once, each copy with its own users (a load run).",
                valueName: "n"))
        var copies: Int?

        @Option(
            help: ArgumentHelp(
                "How copies name their users: {user} and {copy} (default {user}-{copy}).", valueName: "template"))
        var copyId: String?

        @Option(help: ArgumentHelp("Spread the copies' starts over S seconds.", valueName: "s"))
        var ramp: Double = 0

        @Option(
            help: ArgumentHelp(
                "Fail unless the server's replies (ACKs) come within a goal: [EVENT:]QUANTILE=LIMIT, e.g. p99=50ms "
                    + "(repeatable; quantiles p50, p90, p99, p99.9, max).",
                valueName: "goal"))
        var maxLatency: [String] = []

        @Option(help: ArgumentHelp("Write a JUnit XML report to FILE.", valueName: "file"))
        var junit: String?

        @Option(help: "The verdict on standard output: none (default) or json.")
        var format: VerdictFormat = .none

        @Flag(name: .shortAndLong, help: "No progress line and no summary on stderr (only the one-line result).")
        var quiet = false

        enum VerdictFormat: String, ExpressibleByArgument {
            case none, json
        }

        func validate() throws {
            guard speed > 0, speed.isFinite else { throw ValidationError("--speed must be a positive number") }
            guard timeout > 0, timeout <= 86400 else {
                throw ValidationError("--timeout must be between 0 and 86400 s")
            }
            if let copies, !(1...100_000).contains(copies) {
                throw ValidationError("--copies must be between 1 and 100000")
            }
            if copies == nil && (copyId != nil || ramp != 0) {
                throw ValidationError("--\(copyId != nil ? "copy-id" : "ramp") goes with --copies N")
            }
            if copies != nil && learnNoise != nil {
                throw ValidationError("--learn-noise learns from plain replays; run it without --copies")
            }
            guard ramp >= 0, ramp <= 86400 else { throw ValidationError("--ramp must be between 0 and 86400 s") }
            if let copyId {
                do { _ = try CopyNaming(template: copyId) } catch {
                    throw ValidationError("--copy-id \(copyId): \(error)")
                }
            }
            for goal in maxLatency {
                do { _ = try LatencyGoal(parsing: goal) } catch { throw ValidationError("--max-latency \(error)") }
            }
            for h in headers {
                guard let colon = h.firstIndex(of: ":"), !h[..<colon].trimmingCharacters(in: .whitespaces).isEmpty
                else { throw ValidationError("--header '\(h)': write it as 'Name: value'") }
            }
        }

        func run() async throws {
            var options: ReplayOptions
            do {
                options = ReplayOptions(server: try ServerAddress(parsing: server))
            } catch {
                throw ValidationError("\(error)")
            }
            options.tls = TLSOptions(insecure: insecure, caFile: ca)
            options.headers = headers.map { h in
                let colon = h.firstIndex(of: ":")!
                return (
                    String(h[..<colon]).trimmingCharacters(in: .whitespaces),
                    String(h[h.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
                )
            }
            options.transport = transport
            options.speed = speed
            options.noDelay = noDelay
            options.timeout = .milliseconds(Int64(timeout * 1000))
            if let ca, !FileManager.default.isReadableFile(atPath: ca) {
                throw ValidationError("--ca \(ca): cannot read the file")
            }

            var patterns = IgnorePattern.defaults
            for text in ignore {
                do {
                    patterns.append(try IgnorePattern(parsing: text))
                } catch {
                    throw ValidationError("--ignore \(text): \(error)")
                }
            }

            let script: ReplayScript
            do {
                let loaded = try sessions.load(source)
                script = loaded.script
                for text in loaded.ignore {
                    do {
                        patterns.append(try IgnorePattern(parsing: text))
                    } catch {
                        throw ReplayError.cannotRun("\(source): ignore \(text): \(error)")
                    }
                }
                if loaded.unopened > 0 && !quiet {
                    let n = loaded.unopened
                    printError(
                        "replay: \(n) session\(n == 1 ? "" : "s") began before the capture did (no handshake in it) "
                            + "and \(n == 1 ? "is" : "are") not replayed")
                }
            } catch {
                // No replay: the reports still say why, as for any replay that could not run.
                try finish(Verdict(clients: [], error: "\(error)", ignore: patterns, duration: 0))
                return
            }
            var noisePatterns: [IgnorePattern] = []
            for file in noise {
                do {
                    let text = try String(contentsOfFile: file, encoding: .utf8)
                    noisePatterns += try Noise.parse(text)
                } catch let error as Noise.ReadError {
                    throw ValidationError("--noise \(file): \(error)")
                } catch {
                    throw ValidationError("--noise \(file): cannot read it (\(error.localizedDescription))")
                }
            }
            let plan = try copies.map {
                CopyPlan(copies: $0, naming: try CopyNaming(template: copyId ?? CopyNaming.defaultTemplate), ramp: ramp)
            }
            let goals = try maxLatency.map { try LatencyGoal(parsing: $0) }
            if let copies {
                // Each client holds a socket (two while polling upgrades): raise the soft limit on open files as
                // load tools do, or say what is missing before a thousand connects fail one by one.
                let needed = copies * script.clients.count * 2 + 64
                if let limit = Self.raiseOpenFileLimit(to: needed), limit < needed {
                    let why =
                        "--copies \(copies) needs about \(needed) open files and the limit is \(limit) "
                        + "(raise the hard limit: ulimit -Hn, or limits.conf)"
                    try finish(Verdict(clients: [], error: why, ignore: patterns, duration: 0))
                    return
                }
            }
            let began = ContinuousClock.now
            var run = await ReplayRunner.run(
                script, options: options, copies: plan, progress: progressPrinter(script))
            if progressShown { clearProgress() }
            if let learnNoise, run.error == nil {
                // A second run against the same trusted server: what differs between the two (or from the
                // recording) is noise.
                let second = await ReplayRunner.run(script, options: options, progress: progressPrinter(script))
                if progressShown { clearProgress() }
                let learner = Matcher(
                    rules: IgnoreRules(patterns: patterns, clientMsgIds: script.clientMessageIds), ordered: !unordered)
                let learned = Noise.learn(
                    script, runs: [run.clients.map(\.received), second.clients.map(\.received)], matcher: learner)
                if second.error == nil {
                    do {
                        try Noise.render(learned, source: (source as NSString).lastPathComponent, server: server)
                            .write(toFile: learnNoise, atomically: true, encoding: .utf8)
                    } catch {
                        printError(
                            "replay: error: cannot write --learn-noise \(learnNoise): \(error.localizedDescription)")
                        throw ExitCode(2)
                    }
                    printError(
                        "replay: learned \(learned.patterns.count) noise path\(learned.patterns.count == 1 ? "" : "s") "
                            + "from two runs -> \(learnNoise)" + learned.patterns.map { "\n  \($0)" }.joined())
                    for what in learned.unlearnable where !quiet {
                        printError("replay: not noise (a message, not a value): \(what)")
                    }
                    noisePatterns += learned.patterns.compactMap { try? IgnorePattern(parsing: $0) }
                }
                run = second
            }
            let runs = run.clients
            let elapsed = ContinuousClock.now - began
            // Each copy is judged with its own message ids (renamed per copy).
            let replayed = run.scripts.flatMap { copy in
                let matcher = Matcher(
                    rules: IgnoreRules(patterns: patterns, clientMsgIds: copy.clientMessageIds, noise: noisePatterns),
                    ordered: !unordered)
                return copy.clients.map { (client: $0, matcher: matcher) }
            }
            let clients = zip(replayed, runs).map { replayed, run in
                let client = replayed.client
                return replayed.matcher.verdict(
                    name: client.name, conns: client.conns, sid: client.sid, expected: client.expected,
                    actual: run.received, error: run.failure)
            }
            // A replay that could not run judges no client: what did not come because it stopped is no difference.
            let verdict = Verdict(
                clients: run.error == nil ? clients : [], error: run.error, ignore: patterns + noisePatterns,
                duration: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
                load: run.error == nil ? run.load : nil,
                goals: run.error == nil ? goals.map { $0.check(run.load) } : [])
            for (client, run) in zip(replayed.map(\.client), runs) {
                // What the client could not decode of what the server sent (a message it made nothing of shows
                // as missing; this says why).
                for note in run.notes where !quiet { printError("\(client.name): \(note)") }
                if let ended = run.endedByServer, !quiet {
                    printError("\(client.name): \(ended)\(run.unsent > 0 ? "; \(run.unsent) steps not sent" : "")")
                }
            }
            try finish(verdict)
        }

        /// Raises the soft limit on open files towards `wanted` (at most the hard limit); the limit now, nil when it
        /// cannot be read.
        static func raiseOpenFileLimit(to wanted: Int) -> Int? {
            var limit = rlimit()
            guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
            if limit.rlim_cur < rlim_t(wanted) {
                limit.rlim_cur = min(limit.rlim_max, rlim_t(wanted))
                _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
                guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
            }
            return Int(clamping: limit.rlim_cur)
        }

        /// Writes the verdict (`--junit`, `--format json`, the summary on stderr) and exits with its status.
        func finish(_ verdict: Verdict) throws {
            if let junit {
                do {
                    try JUnitReport.render(verdict).write(toFile: junit, atomically: true, encoding: .utf8)
                } catch {
                    printError("replay: error: cannot write --junit \(junit): \(error.localizedDescription)")
                    throw ExitCode(2)
                }
            }
            if format == .json { print(VerdictJSON.render(verdict)) }
            // A replay that could not run says why in one line; its missing messages would only repeat it.
            let brief = quiet || verdict.exitCode == 2
            printErrorRaw(brief ? VerdictText.closing(verdict) + "\n" : VerdictText.summary(verdict))
            throw ExitCode(verdict.exitCode)
        }

        var progressShown: Bool { !quiet && isatty(2) == 1 }

        func progressPrinter(_ script: ReplayScript) -> (@Sendable (ReplayProgress) -> Void)? {
            guard progressShown else { return nil }
            return { p in
                printErrorRaw(
                    "\r\u{1b}[Kreplay: \(p.connected)/\(p.clients) clients connected, \(p.sent)/\(p.steps) steps, "
                        + "\(p.finished) done")
            }
        }

        func clearProgress() { printErrorRaw("\r\u{1b}[K") }
    }
}
