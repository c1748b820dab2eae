import Percentiles

/// What a replay measured of itself and the server, for `--copies` load runs and `--max-latency` goals:
/// - replies: an event the client sent with an ack id, to the server's ACK (by event name too);
/// - deliveries: a message id one client sent, to an event carrying it at another client of the same copy;
/// - send lag: how late each step went out after its recorded time (scaled by `--speed`; not measured with
///   `--no-delay`), which includes waiting for its causes when the server was slower than in the recording;
/// - send error: the replayer's own part of that, from when the step was due (its recorded time, or when its causes
///   had come if later) to when it went out.
public struct LoadSummary: Sendable, Equatable {
    /// The copies run (1 without `--copies`), the clients, and the most connected at once.
    public var copies: Int
    public var clients: Int
    public var peakConnected: Int
    /// Socket.IO packets the clients sent; server messages they received, cross-copy ones included.
    public var sent: Int
    public var received: Int
    public var crossCopy: Int
    /// From the start of the run to the last client's end.
    public var seconds: Double
    public var reply: LatencySummary
    public var replyByEvent: [String: LatencySummary]
    public var delivery: LatencySummary
    public var sendLag: LatencySummary
    public var sendError: LatencySummary

    public init(
        copies: Int, clients: Int, peakConnected: Int, sent: Int, received: Int, crossCopy: Int, seconds: Double,
        reply: LatencySummary, replyByEvent: [String: LatencySummary], delivery: LatencySummary,
        sendLag: LatencySummary, sendError: LatencySummary = LatencySummary(count: 0, values: [:])
    ) {
        self.copies = copies
        self.clients = clients
        self.peakConnected = peakConnected
        self.sent = sent
        self.received = received
        self.crossCopy = crossCopy
        self.seconds = seconds
        self.reply = reply
        self.replyByEvent = replyByEvent
        self.delivery = delivery
        self.sendLag = sendLag
        self.sendError = sendError
    }

    public var sentPerSecond: Double { seconds > 0 ? Double(sent) / seconds : 0 }
    public var receivedPerSecond: Double { seconds > 0 ? Double(received) / seconds : 0 }
}

/// `--max-latency [EVENT:]QUANTILE=LIMIT`: the server's replies (ACKs to the clients' events) must come within
/// LIMIT at that quantile, over all events or one event's; a release gate like Speedscale's per-exchange goals.
/// LIMIT takes `ms`, `s` or `us` (a bare number is milliseconds).
public struct LatencyGoal: Sendable, Equatable, CustomStringConvertible {
    public var event: String?
    public var quantile: Quantile
    /// Milliseconds.
    public var limit: Double

    public enum ParseError: Error, CustomStringConvertible {
        case form(String)
        case quantile(String)
        case limit(String)

        public var description: String {
            switch self {
            case .form(let text): return "'\(text)': write [EVENT:]QUANTILE=LIMIT, e.g. p99=50ms or chat:p99.9=200ms"
            case .quantile(let q):
                return "'\(q)' is no quantile (\(Quantile.allCases.map(\.rawValue).joined(separator: ", ")))"
            case .limit(let l): return "'\(l)' is no duration (50ms, 0.2s, 500us)"
            }
        }
    }

    public init(event: String? = nil, quantile: Quantile, limit: Double) {
        self.event = event
        self.quantile = quantile
        self.limit = limit
    }

    public init(parsing text: String) throws {
        guard let eq = text.lastIndex(of: "=") else { throw ParseError.form(text) }
        var left = Substring(text[..<eq])
        let right = text[text.index(after: eq)...].trimmingPrefix(" ")
        if let colon = left.lastIndex(of: ":") {
            event = String(left[..<colon])
            left = left[left.index(after: colon)...]
            guard !event!.isEmpty else { throw ParseError.form(text) }
        }
        guard let q = Quantile(rawValue: left.lowercased()) else { throw ParseError.quantile(String(left)) }
        quantile = q
        let units: [(String, Double)] = [("ms", 1), ("us", 0.001), ("µs", 0.001), ("s", 1000)]
        var number = Substring(right)
        var scale = 1.0
        for (unit, s) in units where number.hasSuffix(unit) {
            number = number.dropLast(unit.count)
            scale = s
            break
        }
        guard let value = Double(number), value >= 0, value.isFinite else { throw ParseError.limit(String(right)) }
        limit = value * scale
    }

    public var description: String {
        (event.map { "\($0):" } ?? "") + "\(quantile.rawValue)=\(LatencyGoal.format(limit))ms"
    }

    static func format(_ ms: Double) -> String {
        ms == ms.rounded() && ms < 1e15 ? String(Int64(ms)) : String(ms, decimals: 3)
    }

    /// The goal against what was measured: the observed value, and whether it was met (a goal with no replies to
    /// measure is not met: a gate must not pass on nothing).
    public func check(_ load: LoadSummary) -> LatencyGoalResult {
        let summary = event.map { load.replyByEvent[$0] ?? LatencySummary(count: 0, values: [:]) } ?? load.reply
        let observed = summary[quantile]
        return LatencyGoalResult(
            goal: self, observed: observed, count: summary.count, met: (observed ?? .infinity) <= limit)
    }
}

public struct LatencyGoalResult: Sendable, Equatable {
    public var goal: LatencyGoal
    /// Milliseconds; nil when no reply was measured.
    public var observed: Double?
    public var count: Int
    public var met: Bool
}
