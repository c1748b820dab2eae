/// How many outcomes of each status; what summaries and the JUnit totals count.
public struct OutcomeCounts: Sendable, Equatable {
    public var matched = 0
    public var changed = 0
    public var missing = 0
    public var unexpected = 0

    public init(matched: Int = 0, changed: Int = 0, missing: Int = 0, unexpected: Int = 0) {
        self.matched = matched
        self.changed = changed
        self.missing = missing
        self.unexpected = unexpected
    }

    public init(_ outcomes: [Outcome]) {
        for o in outcomes { self[o.status] += 1 }
    }

    public subscript(status: Outcome.Status) -> Int {
        get {
            switch status {
            case .matched: return matched
            case .changed: return changed
            case .missing: return missing
            case .unexpected: return unexpected
            }
        }
        set {
            switch status {
            case .matched: matched = newValue
            case .changed: changed = newValue
            case .missing: missing = newValue
            case .unexpected: unexpected = newValue
            }
        }
    }

    /// Changed, missing and unexpected together.
    public var differences: Int { changed + missing + unexpected }
    /// Expected server messages (every outcome but the unexpected).
    public var expected: Int { matched + changed + missing }

    static func + (l: OutcomeCounts, r: OutcomeCounts) -> OutcomeCounts {
        OutcomeCounts(
            matched: l.matched + r.matched, changed: l.changed + r.changed, missing: l.missing + r.missing,
            unexpected: l.unexpected + r.unexpected)
    }
}

/// The verdict on one replayed client: who it was in the recording and what became of each server message.
public struct ClientVerdict: Sendable, Equatable {
    /// `u1` (the recorded user id) or `conn 3`.
    public var name: String
    /// The recorded connection numbers this client's session used (polling and websocket may be several).
    public var conns: [Int]
    /// The recorded Engine.IO sid.
    public var sid: String?
    public var outcomes: [Outcome]
    /// Why this client could not run to the end (handshake refused, connection lost), if it could not.
    public var error: String?

    public init(name: String, conns: [Int], sid: String? = nil, outcomes: [Outcome], error: String? = nil) {
        self.name = name
        self.conns = conns
        self.sid = sid
        self.outcomes = outcomes
        self.error = error
    }

    /// The display name: the user id when the recording shows one, else `conn N` of its first connection.
    public static func displayName(userId: String?, conns: [Int]) -> String {
        if let userId, !userId.isEmpty { return userId }
        return "conn \(conns.first.map(String.init) ?? "?")"
    }

    public var counts: OutcomeCounts { OutcomeCounts(outcomes) }
}

/// The verdict of a replay run, which CI gates on through ``exitCode``.
public struct Verdict: Sendable, Equatable {
    public var clients: [ClientVerdict]
    /// Why the replay could not run (server unreachable, no Socket.IO session in the capture), if it could not.
    public var error: String?
    /// The ignore patterns used, defaults first.
    public var ignore: [IgnorePattern]
    /// Wall-clock seconds the replay took.
    public var duration: Double
    /// What the run measured (replies, deliveries, send lag, cross-copy traffic), when it ran.
    public var load: LoadSummary?
    /// `--max-latency` goals against ``load``.
    public var goals: [LatencyGoalResult]

    public init(
        clients: [ClientVerdict], error: String? = nil, ignore: [IgnorePattern], duration: Double,
        load: LoadSummary? = nil, goals: [LatencyGoalResult] = []
    ) {
        self.clients = clients
        self.error = error
        self.ignore = ignore
        self.duration = duration
        self.load = load
        self.goals = goals
    }

    public var counts: OutcomeCounts { clients.reduce(OutcomeCounts()) { $0 + $1.counts } }

    /// A load run (`--copies`): a client that could not run is the server failing under load, one failed client
    /// among the others, not a replay that could not run.
    public var isLoadRun: Bool { (load?.copies ?? 1) > 1 }

    /// Whether the run or any client failed to run.
    public var hasError: Bool { error != nil || clients.contains { $0.error != nil } }

    public var goalsMissed: Int { goals.filter { !$0.met }.count }

    /// 0 when every expectation and latency goal was met, 1 when differences were found or a goal missed, 2 when
    /// the replay (or, outside a load run, a client of it) could not run: an error outranks differences, since
    /// what did not run was not compared.
    public var exitCode: Int32 {
        if error != nil || (hasError && !isLoadRun) { return 2 }
        return counts.differences > 0 || hasError || goalsMissed > 0 ? 1 : 0
    }
}
