import AsyncHTTPClient
import EngineIO
import Foundation
import ImscopeCore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOSSL
import Replay
import SocketIO
import WebSocketKit

/// One live Engine.IO/Socket.IO client of a replay: its own handshake, heartbeats and transports (polling through
/// async-http-client, WebSocket through websocket-kit), sending what the script says through the project's
/// encoders and reading what the server sends through its decoders (``EngineIOPayload``, ``SocketIOSession``).
/// Everything the server sends that the verdict compares becomes a ``ServerMessage`` in ``received``.
actor LiveClient {
    struct Settings: Sendable {
        var server: ServerAddress
        var tls: TLSOptions
        var timeout: Duration
        var headers: [(name: String, value: String)]
        var transport: ScriptTransport
        /// With `--copies`: the copies' users, and this client's copy; what names another copy's user is counted
        /// (``crossCopy``) and not kept.
        var owners: CopyOwners? = nil
        var copy = 0
    }

    /// What the transports hand over, in the order it came (one stream keeps WebSocket messages and poll
    /// responses in order).
    enum Incoming: Sendable {
        case text([UInt8])
        case binary([UInt8])
        case payload([UInt8])
        case closed(String?)
    }

    let script: ScriptClient
    let settings: Settings
    let http: HTTPClient
    let group: any EventLoopGroup
    let clientMessageIds: Set<String>
    let version: Int
    let started = ContinuousClock.now

    private(set) var received: [ServerMessage] = []
    /// Every server message that came (cross-copy ones too), and those of another copy: counted here when they
    /// came through the decoder, on the event loop (``otherCopyFrames``) when a WebSocket frame was one.
    private var decodedCount = 0
    private var decodedCrossCopy = 0
    private let otherCopyFrames = NIOLockedValueBox(0)
    var receivedCount: Int { decodedCount + otherCopyFrames.withLockedValue { $0 } }
    var crossCopy: Int { decodedCrossCopy + otherCopyFrames.withLockedValue { $0 } }
    /// What the load summary measures: each event sent with an ack id, when (until its ACK comes); each ACK's
    /// round trip by the event it answered; the message ids the client sent and those it received in events, with
    /// when (deliveries are joined across the clients of a copy).
    private var awaitingAck: [Int64: (event: String, at: ContinuousClock.Instant)] = [:]
    private(set) var replies: [(event: String, latency: Duration)] = []
    private(set) var sentIds: [(id: String, at: ContinuousClock.Instant)] = []
    private(set) var receivedIds: [(id: String, at: ContinuousClock.Instant)] = []
    /// Why the client could not go on: the replay could not run (exit 2).
    private(set) var failure: String?
    /// The server ended the session (an Engine.IO close, the transport closed) before the client did.
    private(set) var endedByServer: String?
    private var closing = false
    /// The server sent a Socket.IO DISCONNECT or an Engine.IO close: a transport closing after it is no failure.
    private var serverSaidGoodbye = false
    /// The namespaces the server let the client join (a CONNECT answered) and has not disconnected it from.
    private var joined = Set<String>()
    /// The replay stopped (another client could not run): nothing more is sent or waited for.
    private var halted = false

    private var sid: String?
    private var socketSids: [String] = []
    private var pingInterval: Duration = .seconds(25)
    private var pingTimeout: Duration = .seconds(20)
    private var lastHeard = ContinuousClock.now
    private var upgrades: [String] = []
    private var onWebSocket = false
    private var ws: WebSocket?
    private let sio: SocketIOSession
    private var packetCount: UInt64 = 0

    private let incoming: AsyncStream<Incoming>
    private let feed: AsyncStream<Incoming>.Continuation
    private var tasks: [Task<Void, Never>] = []
    private var handshakeWaiter: CheckedContinuation<Void, any Error>?
    private var probeWaiter: CheckedContinuation<Void, any Error>?
    /// The server answered the upgrade probe (it may do so before the client waits for it).
    private var probeAnswered = false
    private var v3PongWaiting: ContinuousClock.Instant?

    private var counts: [MessageKey: Int] = [:]
    private var receivedByKey: [MessageKey: [Int]] = [:]
    private var waiters: [Int: Waiter] = [:]
    private var nextWaiter = 0
    /// The last POST sent or waiting to be: the next one goes after it.
    private var postTail: Task<Void, any Error>?

    struct Waiter {
        var key: MessageKey
        var count: Int
        var continuation: CheckedContinuation<Bool, Never>
        var timer: Task<Void, Never>?
    }

    init(
        script: ScriptClient, settings: Settings, http: HTTPClient, group: any EventLoopGroup,
        clientMessageIds: Set<String>
    ) {
        self.script = script
        self.settings = settings
        self.http = http
        self.group = group
        self.clientMessageIds = clientMessageIds
        self.version = script.engineIOVersion
        var limits = SocketIOLimits()
        limits.ackReorderNanoseconds = 0
        self.sio = SocketIOSession(limits: limits)
        (incoming, feed) = AsyncStream.makeStream(of: Incoming.self)
    }

    var now: Double {
        let d = ContinuousClock.now - started
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    // MARK: connecting

    /// The Engine.IO handshake on the transport the script (or `--transport`) says, then the upgrade when it
    /// upgrades. Throws ``ReplayError/cannotRun(_:)`` with a one-line reason.
    func connect() async throws {
        guard !halted else { throw ReplayError.cannotRun("\(script.name): the replay stopped") }
        tasks.append(Task { await self.consume() })
        let transport = settings.transport
        do {
            if transport == .websocket {
                try await openWebSocket(sid: nil)
                try await waitForHandshake()
            } else {
                try await pollingHandshake()
                tasks.append(Task { await self.pollLoop() })
                if transport == .pollingThenWebSocket {
                    guard upgrades.contains("websocket") else {
                        throw ReplayError.cannotRun(
                            "\(script.name): the server offers no upgrade to websocket (upgrades: \(upgrades))")
                    }
                    try await upgrade()
                }
            }
        } catch let error as ReplayError {
            throw error
        } catch {
            throw ReplayError.cannotRun("\(script.name): \(describe(error))")
        }
        tasks.append(Task { await self.heartbeat() })
    }

    private func query(transport: String, sid: String?) -> String {
        var query = script.query.map { "\($0.name)=\($0.value)" }
        query.append("EIO=\(version)")
        query.append("transport=\(transport)")
        if let sid { query.append("sid=\(sid)") }
        if transport == "polling" { query.append("t=\(Self.cacheBuster())") }
        return query.joined(separator: "&")
    }

    private func pollingURL(sid: String?) -> String {
        "\(settings.server.tls ? "https" : "http")://\(settings.server.urlHost):\(settings.server.port)\(script.path)?"
            + query(transport: "polling", sid: sid)
    }

    private static func cacheBuster() -> String {
        String(UInt64(Date().timeIntervalSince1970 * 1000), radix: 36) + String(Int.random(in: 0..<1000), radix: 36)
    }

    private var requestHeaders: HTTPHeaders {
        var h = HTTPHeaders()
        for (name, value) in settings.headers { h.replaceOrAdd(name: name, value: value) }
        return h
    }

    private func pollingHandshake() async throws {
        let body = try await get(pollingURL(sid: nil), timeout: settings.timeout)
        feed.yield(.payload(body))
        try await waitForHandshake()
    }

    private func waitForHandshake() async throws {
        if sid != nil { return }
        try await awaitSignal(.handshake, "no Engine.IO handshake from \(settings.server.display)")
    }

    /// What the client waits for from the server while it connects.
    enum Signal { case handshake, probe }

    /// Waits for the handshake's open packet or the probe's answer; throws ``ReplayError/cannotRun(_:)`` saying
    /// `what` did not come within the timeout.
    private func awaitSignal(_ signal: Signal, _ what: String) async throws {
        let message = "\(what) within \(settings.timeout)"
        try await withCheckedThrowingContinuation { continuation in
            if signal == .handshake { handshakeWaiter = continuation } else { probeWaiter = continuation }
            tasks.append(
                Task { [timeout = settings.timeout] in
                    try? await Task.sleep(for: timeout)
                    self.timeOut(signal, message)
                })
        }
    }

    private func timeOut(_ signal: Signal, _ what: String) {
        let error = ReplayError.cannotRun("\(script.name): \(what)")
        if signal == .handshake {
            handshakeWaiter?.resume(throwing: error)
            handshakeWaiter = nil
        } else {
            probeWaiter?.resume(throwing: error)
            probeWaiter = nil
        }
    }

    private func openWebSocket(sid: String?) async throws {
        var config = WebSocketClient.Configuration(
            tlsConfiguration: settings.server.tls ? settings.tls.configuration() : nil)
        config.maxFrameSize = 1 << 24
        let feed = self.feed
        let loop = group.next()
        let promise = loop.makePromise(of: WebSocket.self)
        // The upgrade, its failure and the timeout each try to complete the promise; the first wins.
        let settled = FirstWins()
        let settle: @Sendable (Result<WebSocket, any Error>) -> Void = { result in
            let first = settled.claim()
            if first {
                promise.completeWith(result)
            } else if case .success(let late) = result {
                _ = late.close()
            }
        }
        let what = "\(script.name): no WebSocket handshake from \(settings.server.display) within \(settings.timeout)"
        let timer = loop.scheduleTask(in: Self.timeAmount(settings.timeout)) {
            settle(.failure(ReplayError.cannotRun(what)))
        }
        WebSocket.connect(
            scheme: settings.server.tls ? "wss" : "ws", host: settings.server.host, port: settings.server.port,
            path: script.path, query: query(transport: "websocket", sid: sid), headers: requestHeaders,
            configuration: config, on: group
        ) { ws in
            // Another copy's event (a load run's bulk: a notice about each of a thousand users) is counted here
            // and goes no further: no hop to the client's actor, no decoding.
            let owners = self.settings.owners
            let copy = self.settings.copy
            let others = self.otherCopyFrames
            ws.onText { _, text in
                var text = text
                if let owners, text.withUTF8({ Self.isOtherCopyEvent($0, owners, copy) }) {
                    others.withLockedValue { $0 += 1 }
                } else {
                    feed.yield(.text(Array(text.utf8)))
                }
            }
            ws.onBinary { _, buffer in feed.yield(.binary(Array(buffer.readableBytesView))) }
            ws.onClose.whenComplete { _ in feed.yield(.closed(nil)) }
            settle(.success(ws))
        }.whenFailure { settle(.failure($0)) }
        let socket: WebSocket
        do {
            socket = try await promise.futureResult.get()
            timer.cancel()
        } catch {
            timer.cancel()
            throw error
        }
        ws = socket
        onWebSocket = sid == nil
    }

    /// Whether a WebSocket text frame is an Engine.IO message holding a Socket.IO EVENT (`42…`, not a binary event,
    /// whose attachments the decoder must see) of another copy.
    nonisolated static func isOtherCopyEvent(_ frame: UnsafeBufferPointer<UInt8>, _ owners: CopyOwners, _ copy: Int)
        -> Bool
    {
        guard frame.count > 2, frame[0] == UInt8(ascii: "4"), frame[1] == UInt8(ascii: "2") else { return false }
        return owners.isOtherCopy(UnsafeRawBufferPointer(frame), own: copy)
    }

    /// Polling then WebSocket: open the WebSocket with the session id, `2probe` → `3probe`, then `5`; the pending
    /// poll ends with a noop and polling stops.
    private func upgrade() async throws {
        try await openWebSocket(sid: sid)
        try await sendFrame(.pingProbe)
        if !probeAnswered {
            try await awaitSignal(.probe, "no answer to the upgrade probe from \(settings.server.display)")
        }
        // Polling pauses before the upgrade: what is being POSTed goes first.
        _ = await postTail?.result
        onWebSocket = true
        try await sendFrame(.upgrade)
    }

    // MARK: receiving

    private func consume() async {
        for await item in incoming {
            switch item {
            case .text(let bytes):
                var packets: [EngineIOOutgoingPacket] = []
                let error = bytes.withUnsafeBytes { b in
                    EngineIOPayload.decodeTextPacket(b, version: version) { packets.append(.init($0)) }
                }
                if let error { note("bad Engine.IO packet from the server: \(error)") }
                for p in packets { handle(p) }
            case .binary(let bytes):
                var packets: [EngineIOOutgoingPacket] = []
                _ = bytes.withUnsafeBytes { b in
                    EngineIOPayload.decodeBinaryPacket(b, version: version) { packets.append(.init($0)) }
                }
                for p in packets { handle(p) }
            case .payload(let body):
                var packets: [EngineIOOutgoingPacket] = []
                let error = body.withUnsafeBytes { b in
                    EngineIOPayload.decodePayload(b, version: version) { packets.append(.init($0)) }
                }
                if let error, packets.isEmpty { note("bad polling payload from the server: \(error)") }
                for p in packets { handle(p) }
            case .closed:
                // A server ends a session with an Engine.IO close or a Socket.IO DISCONNECT first; a WebSocket
                // that just closes is a server that stopped answering.
                guard !closing && onWebSocket && !halted else { break }
                if serverSaidGoodbye {
                    serverEnded("the server ended the session")
                } else {
                    fail("\(script.name): the server closed the WebSocket without ending the session")
                }
            }
        }
    }

    private func note(_ message: String) {
        if endedByServer == nil && failure == nil { notes.append(message) }
    }
    private(set) var notes: [String] = []

    private func handle(_ p: EngineIOOutgoingPacket) {
        lastHeard = ContinuousClock.now
        switch p.type {
        case .open:
            guard sid == nil else { return }
            let handshake = p.data.withUnsafeBytes { EngineIOPayload.handshake($0) }
            guard let handshake else {
                handshakeWaiter?.resume(throwing: ReplayError.cannotRun("\(script.name): bad Engine.IO handshake"))
                handshakeWaiter = nil
                return
            }
            sid = handshake.sid
            upgrades = handshake.upgrades
            if let i = handshake.pingInterval { pingInterval = .milliseconds(i) }
            if let t = handshake.pingTimeout { pingTimeout = .milliseconds(t) }
            handshakeWaiter?.resume()
            handshakeWaiter = nil
        case .ping:
            if version >= 4 { Task { try? await self.sendPacket(.init(type: .pong, data: p.data)) } }
        case .pong:
            if p.data == Array("probe".utf8) {
                probeAnswered = true
                probeWaiter?.resume()
                probeWaiter = nil
            } else {
                v3PongWaiting = nil
            }
        case .message:
            packetCount += 1
            let ts = Timestamp(nanoseconds: Int64(now * 1e9))
            let time = now
            let (messages, problems, others) = Self.decode(
                p, in: sio, frame: packetCount, ts: ts, version: version, time: time, owners: settings.owners,
                copy: settings.copy)
            for text in problems { note("server sent a bad Socket.IO packet: \(text)") }
            decodedCount += others
            decodedCrossCopy += others
            for m in messages { receive(m) }
        case .close:
            serverEnded("the server closed the Engine.IO session")
            serverSaidGoodbye = true
        case .upgrade, .noop:
            break
        }
    }

    /// One Engine.IO message through the session's Socket.IO decoder: the server messages it completes and the
    /// problems it has.
    private static func decode(
        _ p: EngineIOOutgoingPacket, in session: SocketIOSession, fromClient: Bool = false, frame: UInt64,
        ts: Timestamp, version: Int, time: Double, owners: CopyOwners? = nil, copy: Int = 0
    ) -> (messages: [ServerMessage], problems: [String], otherCopies: Int) {
        var messages: [ServerMessage] = []
        var problems: [String] = []
        var others = 0
        func take(_ event: SocketIOEvent) {
            switch event {
            case .message(let m), .late(_, .message(let m)):
                guard !fromClient else { break }
                // Another copy's message is counted before it costs a JSON parse.
                if let owners, owners.isOtherCopy(m.text, own: copy) {
                    others += 1
                } else if let s = ServerMessage(m, time: time) {
                    messages.append(s)
                }
            case .problem(_, let text), .late(_, .problem(_, let text)): problems.append(text)
            case .late: break
            }
        }
        p.data.withUnsafeBytes { b in
            if p.binary {
                session.binary(b, fromClient: fromClient, frame: frame, ts: ts, take)
            } else {
                session.text(
                    b, fromClient: fromClient, frame: frame, ts: ts, protocolVersion: version >= 4 ? 5 : 4, take)
            }
        }
        return (messages, problems, others)
    }

    private func receive(_ m: ServerMessage) {
        // The session ends when the server disconnects the client from every namespace it had joined.
        if m.kind == .connect { joined.insert(m.namespace) }
        if m.kind == .disconnect {
            joined.remove(m.namespace)
            if joined.isEmpty { serverSaidGoodbye = true }
        }
        if m.kind == .connect, case .object(let o)? = m.args.first, case .string(let s)? = o["sid"] {
            socketSids.append(s)
        }
        received.append(m)
        decodedCount += 1
        let key = MessageKey(m, clientMsgIds: clientMessageIds)
        if m.kind == .ack, let id = m.ackId, let sent = awaitingAck.removeValue(forKey: id) {
            replies.append((sent.event, ContinuousClock.now - sent.at))
        }
        if m.kind == .event, let id = key.msgId { receivedIds.append((id, .now)) }
        counts[key, default: 0] += 1
        receivedByKey[key, default: []].append(received.count - 1)
        for (id, w) in waiters where w.key == key && counts[key, default: 0] >= w.count {
            finishWaiter(id, true)
        }
        // A refused CONNECT: what waits for its answer need not wait longer.
        if m.kind == .connectError {
            for (id, w) in waiters where w.key.kind == .connect && w.key.namespace == m.namespace {
                finishWaiter(id, false)
            }
        }
    }

    private func finishWaiter(_ id: Int, _ result: Bool) {
        guard let w = waiters.removeValue(forKey: id) else { return }
        w.timer?.cancel()
        w.continuation.resume(returning: result)
    }

    private func serverEnded(_ reason: String) {
        guard !closing, endedByServer == nil else { return }
        endedByServer = reason
        for id in Array(waiters.keys) { finishWaiter(id, false) }
    }

    private func fail(_ reason: String) {
        guard failure == nil, !halted else { return }
        failure = reason
        for id in Array(waiters.keys) { finishWaiter(id, false) }
        abandonConnecting(ReplayError.cannotRun(reason))
        onFailure?(reason)
    }

    /// Told of the client's failure as soon as it happens (the runner stops the replay).
    private var onFailure: (@Sendable (String) -> Void)?

    func setOnFailure(_ handler: @escaping @Sendable (String) -> Void) { onFailure = handler }

    /// Whether the client can go on sending.
    var alive: Bool { failure == nil && endedByServer == nil && !halted }

    /// Stops the client where it is because the replay stopped: its waits end at once.
    func halt() {
        halted = true
        for id in Array(waiters.keys) { finishWaiter(id, false) }
        abandonConnecting(ReplayError.cannotRun("\(script.name): the replay stopped"))
    }

    /// A connect in progress ends: its handshake or probe wait is answered with `error`.
    private func abandonConnecting(_ error: ReplayError) {
        handshakeWaiter?.resume(throwing: error)
        handshakeWaiter = nil
        probeWaiter?.resume(throwing: error)
        probeWaiter = nil
    }

    /// Waits until `count` server messages like `expected` have come (the step's cause), at most `timeout`.
    /// `index` is the message's place in the script's expectations: once a wait for one has timed out, the
    /// client waits for it, and for every one before it, no more (one missing message costs one timeout).
    func waitFor(_ expected: ServerMessage, index: Int, count: Int, timeout: Duration) async -> Bool {
        let key = MessageKey(expected, clientMsgIds: clientMessageIds)
        if counts[key, default: 0] >= count { return true }
        guard alive, index > givenUpThrough else { return false }
        let id = nextWaiter
        nextWaiter += 1
        let came = await withCheckedContinuation { continuation in
            let timer = Task {
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { self.finishWaiter(id, false) }
            }
            waiters[id] = Waiter(key: key, count: count, continuation: continuation, timer: timer)
        }
        if !came { givenUpThrough = max(givenUpThrough, index) }
        return came
    }

    /// The last expectation a wait gave up on.
    private var givenUpThrough = -1

    /// The ack id the server gave, in the replay, the `count`-th message like `expected` (nil when it has not come
    /// or asked for no ack).
    func ackId(ofCounterpartOf expected: ServerMessage, count: Int) -> Int64? {
        guard let indices = receivedByKey[MessageKey(expected, clientMsgIds: clientMessageIds)],
            indices.count >= count
        else { return nil }
        return received[indices[count - 1]].ackId
    }

    // MARK: polling

    private func get(_ target: String, timeout: Duration) async throws -> [UInt8] {
        var request = HTTPClientRequest(url: target)
        request.headers = requestHeaders
        return try await exchange(request, timeout: timeout)
    }

    /// Sends a polling request and returns the response's body, all within `timeout`; anything but 200 OK is the
    /// server refusing (its status, and the start of what it said).
    private func exchange(_ request: HTTPClientRequest, timeout: Duration) async throws -> [UInt8] {
        let deadline = ContinuousClock.now + timeout
        let response = try await http.execute(request, timeout: Self.timeAmount(timeout))
        let body = try await Self.collect(response, by: deadline, what: "\(script.name): \(settings.server.display)")
        guard response.status == .ok else {
            let said = String(decoding: body.prefix(120), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw ReplayError.cannotRun(
                "\(script.name): the server answered \(response.status.code) \(response.status.reasonPhrase)"
                    + " to \(request.method == .POST ? "a polling POST" : "GET") "
                    + "\(request.url.split(separator: "?").first ?? "")" + (said.isEmpty ? "" : ": \(said)")
                    + versionHint(Int(response.status.code)))
        }
        return body
    }

    /// A response's body, or an error once `deadline` passes: async-http-client's deadline ends with the head, and
    /// a server that stalls in the body would otherwise hold the replay for ever. The read goes on in a task of its
    /// own (cancelled at the deadline), so the caller never waits past it.
    private static func collect(
        _ response: HTTPClientResponse, by deadline: ContinuousClock.Instant, what: String
    ) async throws -> [UInt8] {
        let reading = NIOLockedValueBox<Task<Void, Never>?>(nil)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8], any Error>) in
                let settled = FirstWins()
                let timer = NIOLockedValueBox<Task<Void, Never>?>(nil)
                let finish: @Sendable (Result<[UInt8], any Error>) -> Void = { result in
                    let first = settled.claim()
                    guard first else { return }
                    timer.withLockedValue { $0?.cancel() }
                    continuation.resume(with: result)
                }
                let task = Task {
                    do {
                        finish(.success(Array(try await response.body.collect(upTo: 64 << 20).readableBytesView)))
                    } catch {
                        finish(.failure(error))
                    }
                }
                reading.withLockedValue { $0 = task }
                timer.withLockedValue {
                    $0 = Task {
                        try? await Task.sleep(until: deadline, clock: .continuous)
                        guard !Task.isCancelled else { return }
                        task.cancel()
                        finish(.failure(ReplayError.cannotRun("\(what): the response stalled")))
                    }
                }
            }
        } onCancel: {
            reading.withLockedValue { $0?.cancel() }
        }
    }

    private func pollLoop() async {
        while !onWebSocket && !closing && alive {
            do {
                let body = try await get(
                    pollingURL(sid: sid),
                    timeout: pingInterval + pingTimeout + settings.timeout)
                feed.yield(.payload(body))
            } catch {
                if !closing && !onWebSocket && alive {
                    fail("\(script.name): the server stopped answering the poll: \(describe(error))")
                }
                return
            }
        }
    }

    // MARK: sending

    /// Sends a Socket.IO packet (its attachments after it), with the recorded session ids replaced by this
    /// client's.
    func send(_ packet: SocketIOOutgoingPacket) async {
        var packet = packet
        if let data = packet.data { packet.data = rewriteSids(data) }
        let encoded = SocketIOEncoder.encode(packet)
        var packets = [EngineIOOutgoingPacket.message(encoded.text)]
        packets += encoded.attachments.map(EngineIOOutgoingPacket.binaryMessage)
        // The session's decoder sees the client's side too: the server's ACKs then pair with their requests (and
        // an ACK that answers none is a real problem to report).
        let ts = Timestamp(nanoseconds: Int64(now * 1e9))
        for p in packets {
            packetCount += 1
            _ = Self.decode(p, in: sio, fromClient: true, frame: packetCount, ts: ts, version: version, time: now)
        }
        let at = ContinuousClock.now
        let event = packet.eventSummary
        if packet.type.isEvent, let ackId = packet.ackId { awaitingAck[ackId] = (event.name ?? "", at) }
        if let id = event.messageId { sentIds.append((id, at)) }
        do {
            try await sendPackets(packets)
        } catch {
            if alive && !closing { fail("\(script.name): sending failed: \(describe(error))") }
        }
    }

    private func sendPacket(_ packet: EngineIOOutgoingPacket) async throws { try await sendPackets([packet]) }

    private func sendPackets(_ packets: [EngineIOOutgoingPacket]) async throws {
        if onWebSocket {
            for p in packets { try await sendFrame(p) }
            return
        }
        // One POST at a time (an Engine.IO server takes one per session), in the order sends were made; each
        // caller waits for its own, and gets its own error.
        let previous = postTail
        let post = Task {
            _ = await previous?.result
            try await self.post(packets)
        }
        postTail = post
        try await post.value
    }

    private func post(_ packets: [EngineIOOutgoingPacket]) async throws {
        // The upgrade may have finished while this POST waited its turn: polling is over then.
        if onWebSocket {
            for p in packets { try await sendFrame(p) }
            return
        }
        var request = HTTPClientRequest(url: pollingURL(sid: sid))
        request.method = .POST
        request.headers = requestHeaders
        let binary = version < 4 && packets.contains(where: \.binary)
        request.headers.replaceOrAdd(
            name: "Content-Type", value: binary ? "application/octet-stream" : "text/plain;charset=UTF-8")
        request.body = .bytes(
            ByteBuffer(bytes: EngineIOEncoder.payload(packets, version: version, supportsBinary: binary)))
        _ = try await exchange(request, timeout: settings.timeout)
    }

    private func sendFrame(_ packet: EngineIOOutgoingPacket) async throws {
        guard let ws else { throw ReplayError.cannotRun("no WebSocket") }
        let written = ws.eventLoop.makePromise(of: Void.self)
        switch EngineIOEncoder.frame(packet, version: version) {
        case .text(let bytes): ws.send(raw: bytes, opcode: .text, promise: written)
        case .binary(let bytes): ws.send(raw: bytes, opcode: .binary, promise: written)
        }
        try await Self.within(
            settings.timeout, written.futureResult, on: ws.eventLoop,
            ReplayError.cannotRun("\(script.name): \(settings.server.display) stopped reading (a write stalled)"))
    }

    /// `future`'s result, or `error` once `timeout` passes (a peer that stops reading stalls a write for ever).
    private static func within(
        _ timeout: Duration, _ future: EventLoopFuture<Void>, on loop: any EventLoop, _ error: ReplayError
    ) async throws {
        let outcome = loop.makePromise(of: Void.self)
        let settled = FirstWins()
        let settle: @Sendable (Result<Void, any Error>) -> Void = { result in
            let first = settled.claim()
            if first { outcome.completeWith(result) }
        }
        let timer = loop.scheduleTask(in: timeAmount(timeout)) { settle(.failure(error)) }
        future.whenComplete { result in
            timer.cancel()
            settle(result)
        }
        try await outcome.futureResult.get()
    }

    private func rewriteSids(_ data: [UInt8]) -> [UInt8] {
        var out = data
        if let new = sid, script.sid.utf8.count >= 8 {
            out = Self.replacing(Array(script.sid.utf8), with: Array(new.utf8), in: out)
        }
        for (old, new) in zip(script.socketSids, socketSids) where old.utf8.count >= 8 {
            out = Self.replacing(Array(old.utf8), with: Array(new.utf8), in: out)
        }
        return out
    }

    /// `bytes` with every occurrence of `old` replaced by `new`: a plain scan for the first byte (the standard
    /// library's generic `replacing` cost 70 µs a send).
    static func replacing(_ old: [UInt8], with new: [UInt8], in bytes: [UInt8]) -> [UInt8] {
        guard let first = old.first, bytes.count >= old.count else { return bytes }
        var out: [UInt8] = []
        var i = 0
        var copied = 0
        while i + old.count <= bytes.count {
            if bytes[i] == first, bytes[i..<(i + old.count)].elementsEqual(old) {
                if out.isEmpty { out.reserveCapacity(bytes.count + new.count) }
                out += bytes[copied..<i]
                out += new
                i += old.count
                copied = i
            } else {
                i += 1
            }
        }
        guard copied > 0 else { return bytes }
        out += bytes[copied...]
        return out
    }

    // MARK: heartbeats and the end

    /// Version 4: the server pings, the client answers (in ``handle(_:)``); a server silent for longer than
    /// its ping interval and timeout has stopped answering. Version 3: the client pings every interval and expects
    /// a pong within the timeout.
    private func heartbeat() async {
        let grace: Duration = .seconds(1)
        while !closing && alive && !Task.isCancelled {
            if version >= 4 {
                // One wake per deadline (not a poll: a thousand clients polling four times a second were a quarter of
                // a load run's CPU); a ping that came meanwhile moves the deadline on.
                let deadline = lastHeard + pingInterval + pingTimeout + grace
                if ContinuousClock.now < deadline {
                    try? await Task.sleep(until: deadline, clock: .continuous)
                } else if !closing && alive {
                    fail("\(script.name): the server stopped answering (no ping in \(pingInterval + pingTimeout))")
                }
            } else {
                try? await Task.sleep(for: pingInterval)
                guard !closing && alive else { return }
                v3PongWaiting = ContinuousClock.now
                try? await sendPacket(.ping)
                try? await Task.sleep(for: min(pingTimeout, pingInterval))
                if !closing && alive && v3PongWaiting != nil {
                    fail("\(script.name): the server stopped answering (no pong in \(min(pingTimeout, pingInterval)))")
                }
            }
        }
    }

    /// The recorded end: an Engine.IO close, then the transport closed.
    func disconnect() async {
        let wasAlive = alive
        // From here a transport that ends, or a poll that fails, is the end the client asked for.
        closing = true
        if wasAlive { try? await sendPacket(.close) }
        await shutdown()
    }

    /// Stops everything this client runs (idempotent).
    func shutdown() async {
        closing = true
        onFailure = nil
        for id in Array(waiters.keys) { finishWaiter(id, false) }
        handshakeWaiter?.resume(throwing: ReplayError.cannotRun("shut down"))
        handshakeWaiter = nil
        probeWaiter?.resume(throwing: ReplayError.cannotRun("shut down"))
        probeWaiter = nil
        if let ws {
            try? await Self.within(
                settings.timeout, ws.close(), on: ws.eventLoop, ReplayError.cannotRun("the WebSocket close stalled"))
        }
        feed.finish()
        for t in tasks { t.cancel() }
    }

    /// The client's failure when it is one because the Socket.IO CONNECT got no answer.
    /// The Socket.IO CONNECT to `namespace` was refused or never answered: the session never came up.
    func connectUnanswered(namespace: String) {
        if let refusal = received.last(where: { $0.kind == .connectError && $0.namespace == namespace }) {
            let reason = refusal.args.first.map { ": \($0.json)" } ?? ""
            fail("\(script.name): the server refused the Socket.IO CONNECT to \(namespace)\(reason)")
        } else {
            fail(
                "\(script.name): the server did not answer the Socket.IO CONNECT to \(namespace) within \(settings.timeout)"
            )
        }
    }

    /// A 400 to a handshake is what an Engine.IO server answers a version it does not speak.
    private func versionHint(_ status: Int) -> String {
        status == 400 && sid == nil ? " (the recording is Engine.IO \(version): does the server speak it?)" : ""
    }

    static func timeAmount(_ d: Duration) -> TimeAmount {
        .nanoseconds(d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000)
    }

    private func describe(_ error: any Error) -> String {
        if let e = error as? ReplayError { return e.description }
        if let e = error as? WebSocketClient.Error, case .invalidResponseStatus(let head) = e {
            return "the server answered \(head.status.code) \(head.status.reasonPhrase) to the WebSocket handshake"
                + versionHint(Int(head.status.code))
        }
        let text = String(describing: error)
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "TLS with \(settings.server.display) failed: the server's certificate is not trusted "
                + "(--ca FILE trusts its CA; --insecure skips the check for a test certificate)"
        }
        if text.contains("failedToValidateHostname") {
            return "TLS with \(settings.server.display) failed: the server's certificate is not for host "
                + "\(settings.server.host) (--insecure skips the check for a test certificate)"
        }
        if error is NIOSSLError || text.contains("BoringSSL") || text.contains("NIOSSL") {
            return "TLS with \(settings.server.display) failed: \(text)"
        }
        if let e = error as? HTTPClientError {
            if e == .remoteConnectionClosed { return "\(settings.server.display) closed the connection" }
            if e == .connectTimeout || e == .deadlineExceeded || e == .readTimeout {
                return "no answer from \(settings.server.display) within \(settings.timeout)"
            }
            return "\(settings.server.display): \(e)"
        }
        if text.contains("refused") || text.contains("ECONNREFUSED") {
            return "cannot connect to \(settings.server.display): connection refused"
        }
        return "\(settings.server.display): \(text)"
    }

}

/// A latch for results that race (an answer, a failure, a timeout): the first to claim it completes the promise or
/// continuation, the others do nothing.
final class FirstWins: Sendable {
    private let taken = NIOLockedValueBox(false)

    /// True for the first caller only.
    func claim() -> Bool {
        taken.withLockedValue { done in
            defer { done = true }
            return !done
        }
    }
}
