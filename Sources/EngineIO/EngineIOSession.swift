import ImscopeCore

/// One Engine.IO session: its id and protocol version, and the state of the layer above it (`upper`: the Socket.IO
/// session) that spans all its connections — the polling requests and the WebSocket that upgrades them.
public final class EngineIOSession<Upper> {
    /// The `sid`, or nil for a session whose handshake was not captured (a WebSocket picked up mid-stream).
    public internal(set) var sid: String?
    public internal(set) var version: Int
    /// Whether the version came from the handshake (`EIO=`) rather than a guess.
    public let versionKnown: Bool
    /// Whether the guess was already confirmed or corrected by behaviour.
    var versionSettled: Bool
    public let upper: Upper
    public internal(set) var finished = false
    /// The frame in which the session was registered under its sid (sessions end in this order).
    public internal(set) var registeredFrame: UInt64 = 0

    /// `version` nil: not known; version 4 is assumed until the pings show (``settleVersion(ping:from:)``).
    public init(sid: String?, version: Int?, upper: Upper) {
        self.sid = sid
        self.version = version ?? 4
        self.versionKnown = version != nil
        self.versionSettled = version != nil
        self.upper = upper
    }

    /// Settles a guessed version from a ping (`data` its payload) sent in direction `dir`: in version 3 the client
    /// pings, in version 4 the server does (both probe from the client). Returns the version this ping settled, if
    /// it settled it.
    public func settleVersion(ping data: UnsafeRawBufferPointer, from dir: Direction) -> Int? {
        guard !versionSettled, !data.elementsEqual("probe".utf8) else { return nil }
        versionSettled = true
        version = dir == .c2s ? 3 : 4
        return version
    }
}

/// Bounds of the Engine.IO layer.
public struct EngineIOLimits: Sendable {
    /// Sessions remembered at once; past it the least recently registered one is finished and forgotten.
    public var maxSessions = 65_536
    /// Bytes of one long-polling body kept for decoding (larger payloads are reported, not decoded).
    public var maxPollingBody = 16 << 20
    /// Requests of one connection waiting for their responses (pipelined); past it the oldest is forgotten.
    public var maxPendingPolls = 1024

    public init() {}
}

/// The Engine.IO sessions of a capture, by `sid`, shared by all connections. Bounded by
/// ``EngineIOLimits/maxSessions``.
public final class EngineIOSessions<Upper> {
    var bySid: [String: EngineIOSession<Upper>] = [:]
    var order: [String] = []
    public let maxSessions: Int

    public init(limits: EngineIOLimits = EngineIOLimits()) { maxSessions = limits.maxSessions }

    /// The session `sid`, or a new one registered at `frame` (`created` true; `upper` makes its upper layer's
    /// state). `evicted`: a session forgotten to make room, for the caller to finish.
    public func findOrRegister(
        sid: String, version: Int?, frame: UInt64, upper: () -> Upper
    ) -> (session: EngineIOSession<Upper>, created: Bool, evicted: EngineIOSession<Upper>?) {
        if let existing = bySid[sid] { return (existing, false, nil) }
        let session = EngineIOSession(sid: sid, version: version, upper: upper())
        return (session, true, register(session, sid: sid, frame: frame))
    }

    /// Registers `session` under `sid` at `frame` (a session whose handshake just named it), replacing one of the
    /// same sid; returns a session evicted to make room, to be finished by the caller.
    public func register(_ session: EngineIOSession<Upper>, sid: String, frame: UInt64) -> EngineIOSession<Upper>? {
        session.sid = sid
        session.registeredFrame = frame
        var evicted: EngineIOSession<Upper>? = nil
        if bySid[sid] == nil {
            if bySid.count >= maxSessions {
                while let oldest = order.first {
                    order.removeFirst()
                    if let s = bySid.removeValue(forKey: oldest) {
                        evicted = s
                        break
                    }
                }
            }
            order.append(sid)
        }
        bySid[sid] = session
        return evicted
    }

    /// Marks `session` finished and forgets it; false when it was finished already.
    public func finish(_ session: EngineIOSession<Upper>) -> Bool {
        guard !session.finished else { return false }
        session.finished = true
        if let sid = session.sid, bySid[sid] === session { bySid[sid] = nil }
        // Keep the registration order from growing with the capture: drop the sids of ended sessions now and then.
        if order.count > 2 * bySid.count + 1024 { order = order.filter { bySid[$0] != nil } }
        return true
    }

    /// Every session still open, in registration order.
    public func all() -> [EngineIOSession<Upper>] { order.compactMap { bySid[$0] } }
}
