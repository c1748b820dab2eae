import ImscopeCore
import Percentiles

/// The audit as JSON (`{"messages": [...], "summary": {...}}`, keys sorted, one line) and as text for people.
public enum AuditReport {
    /// Counts per status and latency percentiles (send → ACK, send → delivery) overall, per messageType and per
    /// user pair.
    public struct Summary {
        public var counts: [AuditStatus: Int]
        public var ack: LatencySummary
        public var delivery: LatencySummary
        public var byType: [String: (ack: LatencySummary, delivery: LatencySummary, count: Int)]
        public var byPair: [String: (delivery: LatencySummary, count: Int)]

        public init(_ messages: [AuditedMessage]) {
            counts = [:]
            var acks: [Duration] = []
            var deliveries: [Duration] = []
            var typeAcks: [String: [Duration]] = [:]
            var typeDeliveries: [String: [Duration]] = [:]
            var typeCounts: [String: Int] = [:]
            var pairDeliveries: [String: [Duration]] = [:]
            var pairCounts: [String: Int] = [:]
            for m in messages {
                counts[m.status, default: 0] += 1
                let type = m.messageType.map(String.init) ?? "?"
                typeCounts[type, default: 0] += 1
                if let a = m.ackLatency {
                    acks.append(a)
                    typeAcks[type, default: []].append(a)
                }
                for user in m.deliveries.keys.sorted() {
                    let pair = "\(m.fromId ?? "?") -> \(user)"
                    pairCounts[pair, default: 0] += 1
                    guard let d = m.deliveryLatency(to: user) else { continue }
                    deliveries.append(d)
                    typeDeliveries[type, default: []].append(d)
                    pairDeliveries[pair, default: []].append(d)
                }
            }
            ack = LatencySummary(acks)
            delivery = LatencySummary(deliveries)
            byType = typeCounts.reduce(into: [:]) { out, entry in
                out[entry.key] = (
                    LatencySummary(typeAcks[entry.key] ?? []), LatencySummary(typeDeliveries[entry.key] ?? []),
                    entry.value
                )
            }
            byPair = pairCounts.reduce(into: [:]) { out, entry in
                out[entry.key] = (LatencySummary(pairDeliveries[entry.key] ?? []), entry.value)
            }
        }
    }

    public static func json(_ messages: [AuditedMessage], origin: Timestamp?) -> String {
        var out = "{\"messages\":["
        for (i, m) in messages.enumerated() {
            if i > 0 { out += "," }
            out += message(m, origin: origin)
        }
        out += "],\"summary\":" + summaryJSON(Summary(messages)) + "}"
        return out
    }

    static func message(_ m: AuditedMessage, origin: Timestamp?) -> String {
        var fields: [(String, String)] = [
            ("msgId", quoted(m.msgId)), ("fromId", m.fromId.map(quoted) ?? "null"),
            ("destId", m.destId.map(quoted) ?? "null"), ("messageType", m.messageType.map(String.init) ?? "null"),
            ("typeName", m.typeName.map(quoted) ?? "null"), ("event", quoted(m.event)),
            ("status", quoted(m.status.rawValue)), ("sent", sighting(m.sent, origin)),
            ("acked", sighting(m.ack, origin)), ("retries", String(m.retries)),
        ]
        if case .failed(let why)? = m.ackStatus { fields.append(("ackError", quoted(why))) }
        if let target = m.refersTo { fields.append(("refersTo", quoted(target))) }
        if !m.referredBy.isEmpty {
            let refs = m.referredBy.map {
                "{\"fromId\":\($0.fromId.map(quoted) ?? "null"),\"kind\":\(quoted($0.kind)),\"msgId\":\(quoted($0.msgId))}"
            }
            fields.append(("referredBy", "[" + refs.joined(separator: ",") + "]"))
        }
        fields.append(("ackLatencyMs", m.ackLatency.map(ms) ?? "null"))
        let deliveries = m.deliveries.keys.sorted().map { user in
            "{\"frames\":[" + m.deliveries[user]!.map { $0.frame.map(String.init) ?? "null" }.joined(separator: ",")
                + "],\"latencyMs\":" + (m.deliveryLatency(to: user).map(ms) ?? "null") + ",\"to\":" + quoted(user)
                + "}"
        }
        fields.append(("delivered", "[" + deliveries.joined(separator: ",") + "]"))
        return "{" + fields.sorted { $0.0 < $1.0 }.map { "\(quoted($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }

    static func sighting(_ s: Sighting?, _ origin: Timestamp?) -> String {
        guard let s else { return "null" }
        let time = s.ts.flatMap { ts in origin.map { String(ts.seconds(since: $0), decimals: 6) } } ?? "null"
        return "{\"conn\":\(s.conn.map(String.init) ?? "null"),\"frame\":\(s.frame.map(String.init) ?? "null"),"
            + "\"time\":\(time)}"
    }

    static func summaryJSON(_ s: Summary) -> String {
        let counts = AuditStatus.allCases.map { "\(quoted($0.rawValue)):\(s.counts[$0] ?? 0)" }.joined(separator: ",")
        let types = s.byType.keys.sorted().map { t in
            let e = s.byType[t]!
            return "\(quoted(t)):{\"ack\":\(latency(e.ack)),\"count\":\(e.count),\"delivery\":\(latency(e.delivery))}"
        }
        let pairs = s.byPair.keys.sorted().map { p in
            let e = s.byPair[p]!
            return "\(quoted(p)):{\"count\":\(e.count),\"delivery\":\(latency(e.delivery))}"
        }
        return "{\"ack\":\(latency(s.ack)),\"byPair\":{\(pairs.joined(separator: ","))},"
            + "\"byType\":{\(types.joined(separator: ","))},\"delivery\":\(latency(s.delivery)),"
            + "\"messages\":\(s.counts.values.reduce(0, +)),\"status\":{\(counts)}}"
    }

    static func latency(_ l: LatencySummary) -> String {
        "{"
            + (["count": String(l.count)].merging(
                Dictionary(
                    uniqueKeysWithValues: Quantile.allCases.map {
                        ($0.rawValue, l[$0].map { String($0, decimals: 6) } ?? "null")
                    })
            ) { a, _ in a }).sorted { $0.key < $1.key }.map { "\(quoted($0.key)):\($0.value)" }.joined(separator: ",")
            + "}"
    }

    /// For people: the summary, then every message that was not delivered as it should have been.
    public static func text(_ messages: [AuditedMessage]) -> String {
        let s = Summary(messages)
        var lines: [String] = []
        let counts = AuditStatus.allCases.filter { (s.counts[$0] ?? 0) > 0 }.map { "\(s.counts[$0]!) \($0.rawValue)" }
        lines.append("audit: \(messages.count) messages: " + (counts.isEmpty ? "none" : counts.joined(separator: ", ")))
        func percentiles(_ l: LatencySummary) -> String {
            l.count == 0
                ? "none measured"
                : "\(l.count): "
                    + [Quantile.p50, .p90, .p99, .max].map { "\($0.rawValue) \(String(l[$0]!, decimals: 6)) ms" }
                    .joined(separator: ", ")
        }
        lines.append("send -> ack \(percentiles(s.ack))")
        lines.append("send -> delivery \(percentiles(s.delivery))")
        for m in messages where ![.delivered, .notRouted].contains(m.status) {
            var line = "\(m.status.rawValue) \(m.msgId) \(m.event) messageType=\(m.messageType.map(String.init) ?? "?")"
            if let name = m.typeName { line += " (\(name))" }
            line += " \(m.fromId ?? "?") -> \(m.destId ?? "?")"
            if let frame = m.sent?.frame { line += " sent frame \(frame)" }
            if case .failed(let why)? = m.ackStatus { line += ": \(why)" }
            lines.append(line)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func ms(_ d: Duration) -> String {
        String(Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15, decimals: 6)
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
