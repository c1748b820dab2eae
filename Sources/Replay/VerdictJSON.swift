import Foundation
import Percentiles

/// The whole verdict as one JSON object (`--format json`), keys sorted, one line:
///
///     {"exit": 0|1|2, "error": string|null, "duration": seconds,
///      "ignore": [pattern],
///      "summary": {"matched", "changed", "missing", "unexpected"},
///      "clients": [{"name", "conns": [n], "sid": string|null, "error": string|null,
///                   "summary": {…},
///                   "outcomes": [{"status": "matched"|"changed"|"missing"|"unexpected",
///                                 "expected": message|null, "actual": message|null,
///                                 "differences": [{"path", "expected", "actual"}],
///                                 "ignored": [{"path", "reason"}]}]}],
///      "load": {"copies", "clients", "connected" (the most at once), "sent", "received", "crossCopy",
///               "seconds", "sentPerSecond", "receivedPerSecond",
///               "latency": {"reply": latency, "delivery": latency, "replyByEvent": {event: latency}},
///               "sendLag": latency, "sendError": latency} | null (a run that could not run),
///      "goals": [{"goal": "chat:p99=50ms", "observed": ms|null, "count", "met": bool}]}
///
/// A latency is `{"count", "p50", "p90", "p99", "p99.9", "max"}` in milliseconds (null when count is 0).
///
/// A message is `{"kind", "namespace", "name", "ackId", "args", "attachments": [base64], "frame", "time"}` (absent
/// fields null). A difference's sides are the JSON value, `{"bytes": base64}` for an attachment, or
/// `{"missing": true}` when that side has no value there; its `path` is pastable into `--ignore`.
public enum VerdictJSON {
    public static func render(_ verdict: Verdict) -> String {
        let clients: [JSONValue] = verdict.clients.map { client in
            .object([
                "name": .string(client.name),
                "conns": .array(client.conns.map { .number(String($0)) }),
                "sid": client.sid.map(JSONValue.string) ?? .null,
                "error": client.error.map(JSONValue.string) ?? .null,
                "summary": summary(client.counts),
                "outcomes": .array(client.outcomes.map(outcome)),
            ])
        }
        let root = JSONValue.object([
            "exit": .number(String(verdict.exitCode)),
            "error": verdict.error.map(JSONValue.string) ?? .null,
            "duration": .number(JUnitReport.formatTime(verdict.duration)),
            "ignore": .array(verdict.ignore.map { .string($0.description) }),
            "summary": summary(verdict.counts),
            "clients": .array(clients),
            "load": verdict.load.map(load) ?? .null,
            "goals": .array(
                verdict.goals.map {
                    .object([
                        "goal": .string($0.goal.description), "met": .bool($0.met), "count": .number(String($0.count)),
                        "observed": $0.observed.map { .number(String($0, decimals: 3)) } ?? .null,
                    ])
                }),
        ])
        return root.json
    }

    static func load(_ l: LoadSummary) -> JSONValue {
        func number(_ x: Double) -> JSONValue { .number(String(x, decimals: 3)) }
        func latency(_ s: LatencySummary) -> JSONValue {
            var members: [String: JSONValue] = ["count": .number(String(s.count))]
            for q in Quantile.allCases { members[q.rawValue] = s[q].map(number) ?? .null }
            return .object(members)
        }
        return .object([
            "copies": .number(String(l.copies)), "clients": .number(String(l.clients)),
            "connected": .number(String(l.peakConnected)), "sent": .number(String(l.sent)),
            "received": .number(String(l.received)), "crossCopy": .number(String(l.crossCopy)),
            "seconds": number(l.seconds), "sentPerSecond": number(l.sentPerSecond),
            "receivedPerSecond": number(l.receivedPerSecond),
            "latency": .object([
                "reply": latency(l.reply), "delivery": latency(l.delivery),
                "replyByEvent": .object(l.replyByEvent.mapValues(latency)),
            ]),
            "sendLag": latency(l.sendLag), "sendError": latency(l.sendError),
        ])
    }

    static func summary(_ c: OutcomeCounts) -> JSONValue {
        .object(Dictionary(uniqueKeysWithValues: Outcome.Status.allCases.map { ($0.rawValue, .number(String(c[$0]))) }))
    }

    static func outcome(_ o: Outcome) -> JSONValue {
        .object([
            "status": .string(o.status.rawValue),
            "expected": o.expected.map(message) ?? .null,
            "actual": o.actual.map(message) ?? .null,
            "differences": .array(
                o.differences.map {
                    .object([
                        "path": .string($0.path.description), "expected": side($0.expected), "actual": side($0.actual),
                    ])
                }),
            "ignored": .array(
                o.ignored.map { .object(["path": .string($0.path.description), "reason": .string($0.reason)]) }),
        ])
    }

    static func message(_ m: ServerMessage) -> JSONValue {
        .object([
            "kind": .string(m.kind.rawValue),
            "namespace": .string(m.namespace),
            "name": m.name.map(JSONValue.string) ?? .null,
            "ackId": m.ackId.map { .number(String($0)) } ?? .null,
            "args": .array(m.args),
            "attachments": .array(m.attachments.map { .string(Data($0).base64EncodedString()) }),
            "frame": m.frame.map { .number(String($0)) } ?? .null,
            "time": m.time.isFinite ? .number(JSONValue.numberText(m.time)) : .null,
        ])
    }

    static func side(_ v: DiffValue) -> JSONValue {
        switch v {
        case .json(let json): return json
        case .bytes(let b): return .object(["bytes": .string(Data(b).base64EncodedString())])
        case .absent: return .object(["missing": .bool(true)])
        }
    }
}
