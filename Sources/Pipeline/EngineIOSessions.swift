import EngineIO
import ImscopeCore
import Records
import SocketIO
import WebSocket

/// One Engine.IO session: its id, protocol version, and the Socket.IO state that spans all its connections
/// (the polling requests and the WebSocket that upgrades them).
final class EngineIOSession {
    /// The `sid`, or nil for a session whose handshake was not captured (a WebSocket picked up mid-stream).
    var sid: String?
    var version: Int
    /// Whether the version came from the handshake (`EIO=`) rather than a guess.
    var versionKnown: Bool
    /// Whether the guess was already confirmed or corrected by behaviour.
    var versionSettled: Bool
    let sio: SocketIOSession
    var finished = false
    /// The frame in which the session was registered under its sid (sessions end in this order).
    var registeredFrame: UInt64 = 0

    init(sid: String?, version: Int?, scratch: SocketIOPacket.ParseScratch) {
        sio = SocketIOSession(scratch: scratch)
        self.sid = sid
        self.version = version ?? 4
        self.versionKnown = version != nil
        self.versionSettled = version != nil
    }
}

/// The Engine.IO sessions of a capture, by `sid`. Bounded: past `maxSessions` the least recently registered
/// session is finished and forgotten.
final class EngineIOSessions {
    var bySid: [String: EngineIOSession] = [:]
    /// The Socket.IO parsing memory all sessions of this thread share, and the memory its WebSocket streams unmask
    /// client frames into.
    let scratch = SocketIOPacket.ParseScratch()
    let unmask = UnmaskBuffer()
    var order: [String] = []
    var maxSessions = 65_536

    func find(_ sid: String) -> EngineIOSession? { bySid[sid] }

    /// Registers `session` under its sid; returns a session evicted to make room, to be finished by the caller.
    func register(_ session: EngineIOSession, frame: UInt64) -> EngineIOSession? {
        guard let sid = session.sid else { return nil }
        session.registeredFrame = frame
        var evicted: EngineIOSession? = nil
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

    func remove(_ session: EngineIOSession) {
        if let sid = session.sid, bySid[sid] === session { bySid[sid] = nil }
        // Keep the registration order from growing with the capture: drop the sids of ended sessions now and then.
        if order.count > 2 * bySid.count + 1024 { order = order.filter { bySid[$0] != nil } }
    }

    /// Every session still open, in registration order.
    func all() -> [EngineIOSession] { order.compactMap { bySid[$0] } }
}
