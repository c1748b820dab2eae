import IMProtocol
import ImscopeCore
import Records
import SocketIO
import TCPReassembly

/// The stage of handling a packet (or of ending the capture) at which a record is emitted: with the packet's
/// frame, where the record stands in the timeline. A run split between threads (`--jobs`) orders records by it.
public enum PipelineStage: UInt8, Sendable, Comparable {
    case start = 0, eviction, packet, sweep, afterPacket, endFragments, endConnections, endSessions
    public static func < (a: PipelineStage, b: PipelineStage) -> Bool { a.rawValue < b.rawValue }

    /// Housekeeping and the end of the capture act connection by connection, in connection order.
    public var byConnection: Bool { self == .sweep || self == .eviction || self == .endConnections }

    /// The stage of the reassembler's housekeeping `kind`; nil is back to the packet at hand.
    public init(_ kind: Housekeeping?) {
        switch kind {
        case .sweep: self = .sweep
        case .eviction: self = .eviction
        case nil: self = .packet
        }
    }
}

/// Where records go: the sink, with diagnostics counted for `--strict` and the summary; where in the capture the
/// pipeline is as it emits them (``frame``, ``stage``, ``order``); and the records placed at a packet before others
/// already made, held until their place in the timeline comes (the placement rule: a record's frame and time are
/// those of the packet that completed it, and the timeline is in that order).
///
/// Layers that may still place records at an earlier packet say so with ``hold(_:from:)`` (the reassembler's held
/// bytes, a WebSocket frame search, an acknowledgement waiting for its request); while any holds, records at or
/// after the earliest held frame wait here, owned, and go out in ``TimelineKey`` order once the hold moves on.
/// Without holds every record goes straight through.
public final class Emitter {
    public let records: RecordSink
    var counts: [Severity: Int] = [:]
    /// Rule warnings carried on `im` objects (they count as warnings for `--strict`).
    var imWarnings = 0
    /// The packet being handled.
    public internal(set) var frame: UInt64 = 0
    public internal(set) var stage = PipelineStage.start
    /// At the end of the capture, the frame in which the Engine.IO session being ended was registered (sessions
    /// end in that order).
    public internal(set) var order: UInt64 = 0
    /// Whether every record is keyed (a sink that merges threads' records reads ``key``); otherwise keys are made
    /// only while records wait.
    public var keysEveryRecord = false
    /// The key of the record being handed to the sink (when keyed).
    public private(set) var key = TimelineKey.before(frame: 0)
    var seq: UInt64 = 0
    /// What holds records back: each holder's earliest frame, and the earliest of all.
    var holds: [Int: UInt64] = [:]
    public private(set) var heldFrom: UInt64? = nil
    /// Records waiting for their place, in key order from `head` on.
    var waiting: [(key: TimelineKey, record: OwnedRecord)] = []
    var head = 0
    /// Whether anything holds or waits (the one test on the path of a record that goes straight through).
    var ordering = false

    init(records: RecordSink) { self.records = records }

    /// Diagnostics emitted by severity, with the rule warnings on `im` objects counted as warnings (the summary).
    public var summaryCounts: [Severity: Int] {
        var c = counts
        c[.warning, default: 0] += imWarnings
        return c
    }

    /// What holds records back: a layer of one connection.
    public enum Holder: Int, Sendable {
        case tcp = 0, webSocketSearch, ack
    }

    /// `holder` of connection `conn` may still place records at `frame` or later (nil: it holds nothing now).
    public func hold(_ holder: Holder, conn: Int, from frame: UInt64?) {
        let id = conn << 2 | holder.rawValue
        let before = holds[id]
        guard before != frame else { return }
        holds[id] = frame
        if let frame, frame <= heldFrom ?? .max {
            heldFrom = frame
        } else if before != nil && before == heldFrom {
            heldFrom = holds.values.min()
        }
        ordering = heldFrom != nil || head < waiting.count
        if head < waiting.count { release() }
    }

    /// `holder` of Engine.IO session number `session` (a number of the pipeline's own, apart from connection ids: a
    /// session spans connections) may still place records at `frame` or later (nil: it holds nothing now).
    public func hold(_ holder: Holder, session: Int, from frame: UInt64?) { hold(holder, conn: ~session, from: frame) }

    /// Connection `conn` is closed and its records made: nothing of it holds any more.
    func dropHolds(conn: Int) {
        for holder in [Holder.tcp, .webSocketSearch, .ack] { hold(holder, conn: conn, from: nil) }
    }

    /// The records placed from here on are at `place`'s packet (an earlier one than the packet at hand: bytes or a
    /// message released from a hold); `body` makes them.
    @inline(__always)
    public func placed<R>(at place: UInt64, _ body: () -> R) -> R {
        guard place < frame else { return body() }
        let saved = (frame, stage, order)
        (frame, stage, order) = (place, .packet, 0)
        defer { (frame, stage, order) = saved }
        return body()
    }

    /// The records `body` makes are placed at packet `place` itself, wherever the pipeline is (a later packet, the
    /// end of the capture, or another record's placement): a record a layer held past its packet and lets go now.
    public func placed<R>(atPacket place: UInt64, _ body: () -> R) -> R {
        let saved = (frame, stage, order)
        (frame, stage, order) = (place, .packet, 0)
        defer { (frame, stage, order) = saved }
        return body()
    }

    /// The key of the next record.
    @inline(__always)
    func nextKey(conn: Int?) -> TimelineKey {
        seq &+= 1
        return TimelineKey(frame: frame, stage: stage, order: stage.byConnection ? UInt64(conn ?? 0) : order, seq: seq)
    }

    /// Below every key a record released from a hold can still get (nil: nothing holds).
    @inline(__always)
    var limit: TimelineKey? { heldFrom.map { TimelineKey(frame: $0, stage: .packet, order: 0, seq: seq &+ 1) } }

    /// Whether a record keyed `key` may go out now: nothing waits, and nothing held could come before it.
    @inline(__always)
    func mayGo(_ key: TimelineKey) -> Bool { head == waiting.count && (limit.map { key < $0 } ?? true) }

    @inline(__always)
    func emit(_ record: Record) {
        guard ordering || keysEveryRecord else {
            records.emit(record)
            return
        }
        let k = nextKey(conn: record.conn)
        guard ordering, !mayGo(k) else {
            key = k
            records.emit(record)
            return
        }
        wait(k, OwnedRecord(record))
    }

    /// A `sio` record in parts (see ``RecordSink/emitSIO(_:_:sid:version:message:im:)``).
    @inline(__always)
    func emitSIO(
        _ place: RecordPlace, _ transport: Transport, sid: String?, version: Int, message: SocketIOMessage,
        im: IMMessage?
    ) {
        guard ordering || keysEveryRecord else {
            records.emitSIO(place, transport, sid: sid, version: version, message: message, im: im)
            return
        }
        let k = nextKey(conn: place.conn)
        guard ordering, !mayGo(k) else {
            key = k
            records.emitSIO(place, transport, sid: sid, version: version, message: message, im: im)
            return
        }
        let sio = SIORecord(transport: transport, sid: sid, version: version, message: message, im: im)
        wait(k, OwnedRecord(Record(place, .sio(sio))))
    }

    /// Keeps a record until its place comes, in key order (most come in order: the search starts at the end).
    func wait(_ k: TimelineKey, _ record: OwnedRecord) {
        var i = waiting.count
        while i > head && k < waiting[i - 1].key { i -= 1 }
        waiting.insert((k, record), at: i)
        release()
    }

    /// Hands on the waiting records whose place has come.
    func release() {
        let limit = self.limit
        while head < waiting.count, limit.map({ waiting[head].key < $0 }) ?? true {
            key = waiting[head].key
            waiting[head].record.withRecord { records.emit($0) }
            head += 1
        }
        if head == waiting.count {
            waiting.removeAll(keepingCapacity: waiting.count <= 1024)
            head = 0
        } else if head >= 1024 && head * 2 >= waiting.count {
            waiting.removeFirst(head)
            head = 0
        }
        ordering = heldFrom != nil || head < waiting.count
    }

    /// The end of the capture: every hold is over; what waits goes out.
    func releaseAll() {
        holds.removeAll()
        heldFrom = nil
        release()
    }

    func diagnostic(_ d: Diagnostic) {
        counts[d.severity, default: 0] += 1
        emit(Record(d))
    }
}
