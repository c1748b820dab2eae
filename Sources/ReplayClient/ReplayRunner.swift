import AsyncHTTPClient
import NIOCore
import NIOPosix
import Percentiles
import Replay

/// How a replay runs: `--server`, `--header`, `--transport`, `--speed`, `--no-delay`, `--timeout`, TLS.
public struct ReplayOptions: Sendable {
    public enum TransportChoice: String, Sendable, CaseIterable {
        case asRecorded = "as-recorded"
        case websocket, polling
    }

    public var server: ServerAddress
    public var tls = TLSOptions()
    /// `--header 'Name: value'`: added to every client's handshake, replacing a recorded header of that name.
    public var headers: [(name: String, value: String)] = []
    public var transport = TransportChoice.asRecorded
    /// Recorded offsets are divided by it.
    public var speed = 1.0
    /// Sends as soon as their causes have come, ignoring recorded offsets.
    public var noDelay = false
    /// The longest wait for anything: a handshake, an answer, a step's cause.
    public var timeout: Duration = .seconds(10)

    public init(server: ServerAddress) { self.server = server }
}

/// `--copies N`: N copies of every recorded client at once, each copy with its own users (``CopyNaming``), their
/// connects spread over `ramp` seconds (copy k starts `ramp × (k-1) / N` after the first).
public struct CopyPlan: Sendable {
    public var copies: Int
    public var naming: CopyNaming
    public var ramp: Double

    public init(copies: Int, naming: CopyNaming, ramp: Double = 0) {
        self.copies = copies
        self.naming = naming
        self.ramp = ramp
    }
}

/// What one replayed client saw.
public struct ClientRun: Sendable {
    public var received: [ServerMessage]
    /// Why the client could not run (the replay's exit 2), nil when it ran.
    public var failure: String?
    /// The server ended the session before the recorded end (the client stopped sending then).
    public var endedByServer: String?
    /// Steps the client did not send (after a failure or the server's end).
    public var unsent: Int
    public var notes: [String]
    /// What the load summary counts: packets sent, server messages received (cross-copy ones too) and those of
    /// other copies; the server's replies; message ids sent and received, with when; each send's lag.
    var sent = 0
    var receivedCount = 0
    var crossCopy = 0
    var replies: [(event: String, latency: Duration)] = []
    var sentIds: [(id: String, at: ContinuousClock.Instant)] = []
    var receivedIds: [(id: String, at: ContinuousClock.Instant)] = []
    var lags: [Duration] = []
    var errors: [Duration] = []
}

/// What a replay saw: each client's run, and why the replay could not run when it could not.
public struct ReplayRun: Sendable {
    /// The scripts run: the script itself, or its copies (renamed), in copy order; ``clients`` follows them.
    public var scripts: [ReplayScript]
    public var clients: [ClientRun]
    /// The first client failure, which stopped the replay (exit 2); in a load run, only when every copy stopped.
    public var error: String?
    public var load: LoadSummary
}

/// What the replay reports as it goes (for progress on a terminal).
public struct ReplayProgress: Sendable {
    public var clients: Int
    public var connected: Int
    public var finished: Int
    public var sent: Int
    public var steps: Int
}

/// Runs a ``ReplayScript``'s clients at once against one server, each on the recording's clock (scaled by
/// `speed`) and after its recorded causes: a step the client took after receiving a server message waits until
/// that message's counterpart has come in the replay (or the timeout passes). With copies, each copy is its own
/// replay (its own recorded order and causes; one copy's failure stops that copy only), all sharing the event
/// loop and HTTP client.
public enum ReplayRunner {
    public static func run(
        _ script: ReplayScript, options: ReplayOptions, copies plan: CopyPlan? = nil,
        progress: (@Sendable (ReplayProgress) -> Void)? = nil
    ) async -> ReplayRun {
        let scripts = plan.map { p in (1...max(1, p.copies)).map { script.copy($0, naming: p.naming) } } ?? [script]
        let owners = plan.map { CopyOwners(script, copies: $0.copies, naming: $0.naming) }
        let total = scripts.reduce(0) { $0 + $1.clients.count }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var config = HTTPClient.Configuration(
            tlsConfiguration: options.server.tls ? options.tls.configuration() : nil)
        config.connectionPool = .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(8, 3 * total))
        config.timeout.connect = LiveClient.timeAmount(options.timeout)
        // Every connection goes to --server: a redirect to elsewhere is an answer, not a place to go.
        config.redirectConfiguration = .disallow
        let http = HTTPClient(eventLoopGroupProvider: .shared(group), configuration: config)
        let tally = Tally(
            clients: total, steps: scripts.reduce(0) { $0 + $1.clients.reduce(0) { $0 + $1.steps.count } })
        let start = ContinuousClock.now
        var contexts: [Context] = []
        for (g, copy) in scripts.enumerated() {
            let ids = copy.clientMessageIds
            let sequencer = Sequencer(copy)
            let lives = copy.clients.map { client in
                var headers = client.headers
                for (name, value) in options.headers {
                    headers.removeAll { $0.name.lowercased() == name.lowercased() }
                    headers.append((name, value))
                }
                let transport: ScriptTransport =
                    switch options.transport {
                    case .asRecorded: client.transport
                    case .websocket: .websocket
                    case .polling: .polling
                    }
                return LiveClient(
                    script: client,
                    settings: .init(
                        server: options.server, tls: options.tls, timeout: options.timeout, headers: headers,
                        transport: transport, owners: owners, copy: g + 1),
                    http: http, group: group, clientMessageIds: ids)
            }
            // The first client that cannot run stops its copy at once: its failure aborts the copy's sequence and
            // halts every client's waits and sleeps.
            for live in lives {
                await live.setOnFailure { reason in
                    Task {
                        await sequencer.abort(reason)
                        for other in lives { await other.halt() }
                    }
                }
            }
            let offset = plan.map { $0.ramp * Double(g) / Double(scripts.count) } ?? 0
            contexts.append(
                Context(
                    options: options, start: start + .nanoseconds(Int64(offset * 1e9)), sequencer: sequencer,
                    expectations: Expectations(copy, clientMessageIds: ids), lives: lives, tally: tally,
                    progress: progress))
        }
        var runs = await withTaskGroup(of: (Int, Int, ClientRun).self) { tasks in
            for (g, copy) in scripts.enumerated() {
                for (index, client) in copy.clients.enumerated() {
                    let context = contexts[g]
                    tasks.addTask { (g, index, await runClient(client, index, context)) }
                }
            }
            var runs = scripts.map { [ClientRun?](repeating: nil, count: $0.clients.count) }
            for await (g, index, run) in tasks { runs[g][index] = run }
            return runs.map { $0.map { $0! } }
        }
        let end = ContinuousClock.now
        try? await http.shutdown()
        try? await group.shutdownGracefully()
        // A failure the abort has not recorded yet (it goes through a task of its own) still stops the copy.
        var errors: [String?] = []
        for (g, context) in contexts.enumerated() {
            let error = await context.sequencer.aborted ?? runs[g].lazy.compactMap(\.failure).first
            errors.append(error)
            // In a load run the copy's other clients say why they stopped.
            if let error, scripts.count > 1 {
                for i in runs[g].indices where runs[g][i].failure == nil {
                    runs[g][i].failure = "stopped with its copy: \(error)"
                }
            }
        }
        let error = scripts.count == 1 || errors.allSatisfy({ $0 != nil }) ? errors.lazy.compactMap { $0 }.first : nil
        let load = measure(
            runs, copies: scripts.count, peak: await tally.peak, seconds: (end - start).seconds)
        return ReplayRun(scripts: scripts, clients: runs.flatMap { $0 }, error: error, load: load)
    }

    /// The load summary of a run: counts, replies by event, deliveries joined per copy, send lags.
    static func measure(_ runs: [[ClientRun]], copies: Int, peak: Int, seconds: Double) -> LoadSummary {
        let all = runs.flatMap { $0 }
        var byEvent: [String: [Duration]] = [:]
        for run in all { for r in run.replies { byEvent[r.event, default: []].append(r.latency) } }
        var deliveries: [Duration] = []
        for copy in runs {
            var sent: [String: (client: Int, at: ContinuousClock.Instant)] = [:]
            for (c, run) in copy.enumerated() {
                for s in run.sentIds where sent[s.id] == nil { sent[s.id] = (c, s.at) }
            }
            for (c, run) in copy.enumerated() {
                for r in run.receivedIds {
                    if let s = sent[r.id], s.client != c { deliveries.append(r.at - s.at) }
                }
            }
        }
        return LoadSummary(
            copies: copies, clients: all.count, peakConnected: peak, sent: all.reduce(0) { $0 + $1.sent },
            received: all.reduce(0) { $0 + $1.receivedCount }, crossCopy: all.reduce(0) { $0 + $1.crossCopy },
            seconds: seconds, reply: LatencySummary(all.flatMap { $0.replies.map(\.latency) }),
            replyByEvent: byEvent.mapValues { LatencySummary($0) }, delivery: LatencySummary(deliveries),
            sendLag: LatencySummary(all.flatMap(\.lags)), sendError: LatencySummary(all.flatMap(\.errors)))
    }

    /// What every client's run shares.
    struct Context: Sendable {
        var options: ReplayOptions
        var start: ContinuousClock.Instant
        var sequencer: Sequencer
        var expectations: Expectations
        var lives: [LiveClient]
        var tally: Tally
        var progress: (@Sendable (ReplayProgress) -> Void)?
    }

    /// The tally is kept whether or not progress is shown (the load summary reads it).
    static func report(_ p: ReplayProgress, _ context: Context) { context.progress?(p) }

    static func runClient(_ client: ScriptClient, _ index: Int, _ context: Context) async -> ClientRun {
        let options = context.options
        let live = context.lives[index]
        func scheduled(_ offset: Double) -> ContinuousClock.Instant {
            context.start + .nanoseconds(Int64(max(0, offset) / options.speed * 1e9))
        }
        var lags: [Duration] = []
        var errors: [Duration] = []
        // Sleeps until the recorded offset, in slices, so that a replay stopped meanwhile stops this client too.
        // A copy's clock starts at its place in the ramp: offset 0 waits for it too (with --no-delay, only for it).
        func at(_ offset: Double) async {
            let when = options.noDelay ? context.start : scheduled(offset)
            while ContinuousClock.now < when, !Task.isCancelled, await live.alive {
                try? await Task.sleep(until: min(when, .now + .milliseconds(200)), clock: .continuous)
            }
        }
        guard await context.sequencer.turn(index, 0) else {
            return ClientRun(received: [], failure: nil, endedByServer: nil, unsent: client.steps.count, notes: [])
        }
        await context.expectations.waitBefore(frame: client.frame, in: context.lives, timeout: options.timeout)
        await at(client.start)
        do {
            // A replay stopped meanwhile connects no more clients (connect() throws when halted).
            try await live.connect()
            await context.sequencer.done(index, 0)
        } catch {
            await context.sequencer.abort("\(error)")
            await live.shutdown()
            return ClientRun(
                received: await live.received, failure: "\(error)", endedByServer: nil, unsent: client.steps.count,
                notes: await live.notes)
        }
        report(await context.tally.connected(), context)
        let counts = context.expectations.counts[index]
        // The first answer to a CONNECT of each namespace.
        var namespaces = Set<String>()
        let connects = client.expected.indices.filter {
            client.expected[$0].kind == .connect && namespaces.insert(client.expected[$0].namespace).inserted
        }
        var unsent = 0
        for (i, step) in client.steps.enumerated() {
            guard await context.sequencer.turn(index, i + 1) else {
                unsent = client.steps.count - i
                break
            }
            if let cause = step.after {
                // The answers to the CONNECTs before the cause first: without one the session never came up, and
                // the replay cannot run.
                for c in connects where c <= cause {
                    if !(await live.waitFor(client.expected[c], index: c, count: 1, timeout: options.timeout)),
                        await live.alive
                    {
                        await live.connectUnanswered(namespace: client.expected[c].namespace)
                    }
                }
                _ = await live.waitFor(
                    client.expected[cause], index: cause, count: counts[cause], timeout: options.timeout)
            }
            // What every client had received before this step was taken.
            await context.expectations.waitBefore(frame: step.frame, in: context.lives, timeout: options.timeout)
            // The step is due at its recorded time, or when its causes came if that was later: how late it goes out
            // after that is the replayer's own error.
            let due = max(scheduled(client.start + step.time), ContinuousClock.now)
            await at(client.start + step.time)
            guard await live.alive else {
                unsent = client.steps.count - i
                break
            }
            if !options.noDelay {
                lags.append(ContinuousClock.now - scheduled(client.start + step.time))
                errors.append(ContinuousClock.now - due)
            }
            switch step.action {
            case .send(var packet):
                // An ACK answers the server's request by the id the server gave it in this run.
                if let request = step.answers,
                    let id = await live.ackId(ofCounterpartOf: client.expected[request], count: counts[request])
                {
                    packet.ackId = id
                }
                await live.send(packet)
                report(await context.tally.sent(), context)
            case .disconnect:
                await live.disconnect()
                report(await context.tally.sent(), context)
            }
            await context.sequencer.done(index, i + 1)
        }
        if let failure = await live.failure { await context.sequencer.abort(failure) }
        await context.sequencer.abandon(index)
        await live.shutdown()
        report(await context.tally.finished(), context)
        return ClientRun(
            received: await live.received, failure: await live.failure, endedByServer: await live.endedByServer,
            unsent: unsent, notes: await live.notes, sent: client.steps.count - unsent,
            receivedCount: await live.receivedCount, crossCopy: await live.crossCopy, replies: await live.replies,
            sentIds: await live.sentIds, receivedIds: await live.receivedIds, lags: lags, errors: errors)
    }
}

/// Every client's expectations with their recorded frames: before an action recorded at frame F is taken, each
/// client waits (at most the timeout, once per message) for the counterparts of what the server had sent every
/// client before F. The replay then follows the capture's order of cause and effect across clients, even with
/// `--no-delay`: a message one client sends is not routed to another before that one has had what it had.
struct Expectations: Sendable {
    /// Per client and expectation: how many messages like it the recording had up to it (its counterpart is the
    /// n-th).
    let counts: [[Int]]
    let expected: [[ServerMessage]]

    init(_ script: ReplayScript, clientMessageIds: Set<String>) {
        expected = script.clients.map(\.expected)
        counts = script.clients.map { client in
            var seen: [MessageKey: Int] = [:]
            return client.expected.map { m in
                let key = MessageKey(m, clientMsgIds: clientMessageIds)
                seen[key, default: 0] += 1
                return seen[key]!
            }
        }
    }

    func waitBefore(frame: UInt64?, in lives: [LiveClient], timeout: Duration) async {
        guard let frame else { return }
        for (d, live) in lives.enumerated() {
            guard let k = expected[d].lastIndex(recordedBefore: frame) else { continue }
            _ = await live.waitFor(expected[d][k], index: k, count: counts[d][k], timeout: timeout)
        }
    }
}

/// Keeps the recorded order of what all clients did: a client connects or takes a step only once every connect and
/// step recorded before it (by frame) has been taken, so two clients' actions a few milliseconds apart in the
/// recording do not swap in the replay. A client that stops gives up its remaining turns.
actor Sequencer {
    /// Every client's actions (index 0: the connect, then its steps) in recorded order.
    private let order: [(client: Int, action: Int)]
    private var position: [Int: [Int: Int]] = [:]
    private var finished: [Bool]
    private var next = 0
    private var waiting: [Int: CheckedContinuation<Void, Never>] = [:]
    /// Why the run stopped early (the first client that could not run), nil while it goes on.
    private(set) var aborted: String?

    init(_ script: ReplayScript) {
        var all: [(key: (UInt64, Double), client: Int, action: Int)] = []
        for (c, client) in script.clients.enumerated() {
            // A client's own actions never go out of its order: each key is at least its previous one's (else a
            // client would wait for a turn only its own later action could free).
            var key = (client.frame ?? .max, client.start)
            all.append((key, c, 0))
            for (i, step) in client.steps.enumerated() {
                let own = (step.frame ?? .max, client.start + step.time)
                if own > key { key = own }
                all.append((key, c, i + 1))
            }
        }
        all.sort { a, b in (a.key.0, a.key.1, a.client, a.action) < (b.key.0, b.key.1, b.client, b.action) }
        order = all.map { ($0.client, $0.action) }
        finished = Array(repeating: false, count: order.count)
        for (i, o) in order.enumerated() { position[o.client, default: [:]][o.action] = i }
    }

    /// Returns once every action recorded before this one has been taken (or given up); false when the run
    /// was aborted.
    func turn(_ client: Int, _ action: Int) async -> Bool {
        guard aborted == nil else { return false }
        guard let p = position[client]?[action], p > next else { return true }
        await withCheckedContinuation { waiting[p] = $0 }
        return aborted == nil
    }

    /// One client could not run: the replay cannot, and every client stops at its next turn.
    func abort(_ reason: String) {
        guard aborted == nil else { return }
        aborted = reason
        for (_, w) in waiting { w.resume() }
        waiting = [:]
    }

    func done(_ client: Int, _ action: Int) {
        guard let p = position[client]?[action] else { return }
        finished[p] = true
        advance()
    }

    /// A client that stopped: its actions not taken yet are given up.
    func abandon(_ client: Int) {
        for (_, p) in position[client] ?? [:] { finished[p] = true }
        advance()
    }

    private func advance() {
        while next < finished.count && finished[next] { next += 1 }
        if let w = waiting.removeValue(forKey: next) { w.resume() }
        // A waiter for a position already passed (given up around it) goes too.
        for p in Array(waiting.keys) where p <= next {
            waiting.removeValue(forKey: p)?.resume()
        }
    }
}

/// The counts behind ``ReplayProgress``.
actor Tally {
    var progress: ReplayProgress
    /// Clients connected and not finished; the most at once.
    private var live = 0
    private(set) var peak = 0

    init(clients: Int, steps: Int) {
        progress = ReplayProgress(clients: clients, connected: 0, finished: 0, sent: 0, steps: steps)
    }

    func connected() -> ReplayProgress {
        progress.connected += 1
        live += 1
        peak = max(peak, live)
        return progress
    }

    func sent() -> ReplayProgress {
        progress.sent += 1
        return progress
    }

    func finished() -> ReplayProgress {
        progress.finished += 1
        live -= 1
        return progress
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
