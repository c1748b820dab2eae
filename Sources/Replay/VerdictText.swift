import Percentiles

/// The verdict for people, on stderr: a line per client, each difference with its path (pastable into
/// `--ignore`), values and recorded frame, the ignore rules, and one closing line.
public enum VerdictText {
    public static func summary(_ verdict: Verdict) -> String {
        var lines: [String] = []
        // A load run of hundreds of clients lists those with something to say; the others in one line.
        let many = verdict.clients.count > 20
        var quiet = 0
        for client in verdict.clients {
            let c = client.counts
            if many && c.differences == 0 && client.error == nil {
                quiet += 1
                continue
            }
            var parts = Outcome.Status.allCases.filter { c[$0] > 0 }.map { "\(c[$0]) \($0.rawValue)" }
            if parts.isEmpty { parts = ["no server messages"] }
            lines.append("\(client.name): " + parts.joined(separator: ", "))
            if let error = client.error { lines.append("\(client.name): error: \(oneLine(error))") }
        }
        for client in verdict.clients where !many {
            // Each ignored path once, in first-seen order, with how often its values differed.
            var order: [String] = []
            var seen: [String: Int] = [:]
            for ignored in client.outcomes.flatMap(\.ignored) {
                let text = "\(ignored.path) (\(ignored.reason))"
                if seen[text] == nil { order.append(text) }
                seen[text, default: 0] += 1
            }
            guard !order.isEmpty else { continue }
            let listed = order.map { seen[$0]! > 1 ? "\($0) x\(seen[$0]!)" : $0 }
            lines.append("\(client.name) ignored: " + listed.joined(separator: ", "))
        }
        for client in verdict.clients {
            var index = 0
            for outcome in client.outcomes {
                if outcome.expected != nil { index += 1 }
                guard outcome.status != .matched else { continue }
                let what = outcome.expected.map { "#\(index) \($0.label)" } ?? (outcome.actual?.label ?? "")
                lines.append("\(client.name) \(outcome.status.rawValue) \(what)")
                lines += details(outcome).split(separator: "\n").map { "  " + $0 }
            }
        }
        if quiet > 0 {
            lines.append("\(plural(quiet, "other client")): every expected server message matched")
        }
        if !verdict.ignore.isEmpty {
            lines.append("ignored: " + verdict.ignore.map(\.description).joined(separator: ", "))
        }
        if let load = verdict.load, verdict.isLoadRun || !verdict.goals.isEmpty { lines += loadLines(load) }
        lines += verdict.goals.map(goalLine)
        lines.append(closing(verdict))
        return lines.joined(separator: "\n") + "\n"
    }

    /// The load figures: clients, messages and rates, cross-copy traffic, latency percentiles.
    static func loadLines(_ l: LoadSummary) -> [String] {
        func ms(_ x: Double?) -> String { x.map { String($0, decimals: 3) + " ms" } ?? "-" }
        func percentiles(_ s: LatencySummary) -> String {
            s.count == 0
                ? "none measured"
                : "\(s.count): " + Quantile.allCases.map { "\($0.rawValue) \(ms(s[$0]))" }.joined(separator: ", ")
        }
        var lines = [
            "load: \(plural(l.clients, "client")) in \(plural(l.copies, "copy", "copies")) (\(l.peakConnected) at once), "
                + "\(l.sent) sent (\(String(l.sentPerSecond, decimals: 3))/s), \(l.received) received "
                + "(\(String(l.receivedPerSecond, decimals: 3))/s, \(l.crossCopy) cross-copy) in \(String(l.seconds, decimals: 3)) s",
            "replies \(percentiles(l.reply))",
        ]
        if l.replyByEvent.count > 1 {
            for (event, s) in l.replyByEvent.sorted(by: { $0.key < $1.key }) {
                lines.append("  \(event) \(percentiles(s))")
            }
        }
        lines.append("deliveries \(percentiles(l.delivery))")
        lines.append("send lag \(percentiles(l.sendLag))")
        lines.append("send error \(percentiles(l.sendError))")
        return lines
    }

    /// One latency goal's result.
    public static func goalLine(_ r: LatencyGoalResult) -> String {
        let what = r.goal.event.map { "replies to \($0)" } ?? "replies"
        guard let observed = r.observed else { return "latency goal \(r.goal): missed (no \(what) measured)" }
        return "latency goal \(r.goal): \(r.met ? "met" : "missed") (\(what) \(r.goal.quantile.rawValue) "
            + "\(String(observed, decimals: 3)) ms over \(r.count))"
    }

    /// The closing line: the run's error, or how many differences in how many clients, or that all matched.
    public static func closing(_ verdict: Verdict) -> String {
        if let error = verdict.error { return "replay: error: \(oneLine(error))" }
        let counts = verdict.counts
        let failed = verdict.clients.filter { $0.counts.differences > 0 || $0.error != nil }.count
        let errors = verdict.clients.filter { $0.error != nil }.count
        let missed = verdict.goalsMissed
        let goals = missed > 0 ? "; \(missed) of \(plural(verdict.goals.count, "latency goal")) missed" : ""
        if failed == 0 {
            return "replay: all \(plural(counts.expected, "expected server message")) matched" + goals
        }
        var line = "replay: \(plural(counts.differences, "difference"))"
        if errors > 0 { line += " and \(plural(errors, "client error"))" }
        return line + " in \(failed) of \(plural(verdict.clients.count, "client"))" + goals
    }

    /// The readable diff of one outcome, a line per difference; what a JUnit failure holds.
    public static func details(_ outcome: Outcome) -> String {
        switch outcome.status {
        case .matched:
            return outcome.ignored.map { "\($0.path): ignored (\($0.reason))" }.joined(separator: "\n")
        case .changed:
            return outcome.differences.map(\.description).joined(separator: "\n")
        case .missing:
            let e = outcome.expected!  // a missing outcome always has its expectation
            return "never came; expected \(argsText(e))"
        case .unexpected:
            let a = outcome.actual!  // an unexpected outcome always has what came
            return "not expected; got \(argsText(a))"
        }
    }

    static func argsText(_ m: ServerMessage) -> String {
        var text = "args " + JSONValue.array(m.args).json
        if !m.attachments.isEmpty {
            text += " attachments " + m.attachments.map { DiffValue.bytes($0).text }.joined(separator: " ")
        }
        return text
    }

    /// `s` on one line for a terminal: control characters (line breaks included) written as JSON escapes.
    public static func oneLine(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return s }
        var out = ""
        for scalar in s.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += String(JSONValue.quoted(String(scalar)).dropFirst().dropLast())
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func plural(_ n: Int, _ noun: String, _ nouns: String? = nil) -> String {
        "\(n) \(n == 1 ? noun : nouns ?? noun + "s")"
    }
}
