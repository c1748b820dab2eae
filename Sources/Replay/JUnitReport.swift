/// The verdict as JUnit XML, the shape Jenkins, GitLab and GitHub test reporters read: `<testsuites>` with a
/// `<testsuite>` per client, a `<testcase>` per expected server message (and per unexpected one) with the readable
/// diff in its `<failure>`, and errors (the run's, a client's) as a `<testcase>` with an `<error>`.
public enum JUnitReport {
    public static func render(_ verdict: Verdict) -> String {
        var suites: [String] = []
        var tests = 0
        var failures = 0
        var errors = 0
        var skipped = 0
        if let error = verdict.error {
            suites.append(
                suite(name: "replay", cases: [errorCase(name: "replay", classname: "replay", error)], errors: 1))
            tests += 1
            errors += 1
        }
        for client in verdict.clients {
            let classname = "replay." + client.name
            var cases: [String] = []
            var expectedIndex = 0
            var unexpectedIndex = 0
            var clientSkipped = 0
            for outcome in client.outcomes {
                let name: String
                if let e = outcome.expected {
                    expectedIndex += 1
                    name = "#\(expectedIndex) \(e.label)"
                } else {
                    unexpectedIndex += 1
                    name = "unexpected #\(unexpectedIndex) \(outcome.actual?.label ?? "")"
                }
                var body = ""
                if outcome.isNoiseOnly {
                    // Values differed only where learned noise is: skipped, not failed (nor silently passed).
                    let text = VerdictText.details(outcome)
                    body =
                        "<skipped message=\"\(escape("noise: " + (text.split(separator: "\n").first.map(String.init) ?? "")))\"/>"
                    skipped += 1
                    clientSkipped += 1
                } else if outcome.status == .matched, !outcome.ignored.isEmpty {
                    body = "<system-out>" + escape(VerdictText.details(outcome), attribute: false) + "</system-out>"
                } else if outcome.status != .matched {
                    let text = VerdictText.details(outcome)
                    let first = text.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? ""
                    body =
                        "<failure message=\"\(escape("\(outcome.status.rawValue): \(first)"))\" type=\"\(outcome.status.rawValue)\">"
                        + escape(text, attribute: false) + "</failure>"
                }
                cases.append(testcase(name: name, classname: classname, body: body))
            }
            if let error = client.error {
                cases.append(errorCase(name: "client", classname: classname, error))
            }
            let counts = client.counts
            tests += cases.count
            failures += counts.differences
            errors += client.error == nil ? 0 : 1
            // The suite's time: seconds from the client's first connect to the last server message it received.
            let last = client.outcomes.compactMap { $0.actual?.time }.max() ?? 0
            suites.append(
                suite(
                    name: client.name, cases: cases, failures: counts.differences, errors: client.error == nil ? 0 : 1,
                    skipped: clientSkipped, time: last))
        }
        if !verdict.goals.isEmpty {
            // Each latency goal a testcase: a release gate shows in the same report as the messages.
            let cases = verdict.goals.map { r in
                testcase(
                    name: r.goal.description, classname: "replay.latency",
                    body: r.met
                        ? "" : "<failure message=\"\(escape(VerdictText.goalLine(r)))\" type=\"latency\"/>")
            }
            let missed = verdict.goalsMissed
            suites.append(suite(name: "latency goals", cases: cases, failures: missed))
            tests += cases.count
            failures += missed
        }
        let time = formatTime(verdict.duration)
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            + "<testsuites name=\"imscope replay\" tests=\"\(tests)\" failures=\"\(failures)\" errors=\"\(errors)\" "
            + "skipped=\"\(skipped)\" time=\"\(time)\">\n" + suites.joined() + "</testsuites>\n"
    }

    private static func suite(
        name: String, cases: [String], failures: Int = 0, errors: Int = 0, skipped: Int = 0, time: Double = 0
    ) -> String {
        "  <testsuite name=\"\(escape(name))\" tests=\"\(cases.count)\" failures=\"\(failures)\" errors=\"\(errors)\" "
            + "skipped=\"\(skipped)\" time=\"\(formatTime(time))\">\n" + cases.joined() + "  </testsuite>\n"
    }

    private static func testcase(name: String, classname: String, body: String) -> String {
        let open = "    <testcase name=\"\(escape(name))\" classname=\"\(escape(classname))\""
        return body.isEmpty ? open + "/>\n" : open + ">\n      " + body + "\n    </testcase>\n"
    }

    private static func errorCase(name: String, classname: String, _ error: String) -> String {
        testcase(
            name: name, classname: classname,
            body: "<error message=\"\(escape(error))\">" + escape(error, attribute: false) + "</error>")
    }

    static func formatTime(_ seconds: Double) -> String {
        let ms = Int64((max(0, seconds) * 1000).rounded())
        let frac = String(ms % 1000)
        return "\(ms / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
    }

    /// Text for XML 1.0 attribute values (or content): `&`, `<`, `>` and, in attributes, `"` as entities; tab and
    /// newline as character references in attributes (which would otherwise normalise them to spaces), carriage
    /// return always (parsers turn a raw one into a newline); the control characters XML 1.0 cannot carry at all,
    /// not even as references, written as `\uXXXX`.
    public static func escape(_ s: String, attribute: Bool = true) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += attribute ? "&quot;" : "\""
            case "\t": out += attribute ? "&#9;" : "\t"
            case "\n": out += attribute ? "&#10;" : "\n"
            case "\r": out += "&#13;"
            default:
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
