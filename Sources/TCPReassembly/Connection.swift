import Capture
import ImscopeCore

/// Why a connection's record was closed.
public enum CloseReason: String, Sendable {
    /// Both sides sent FIN and everything before each FIN was delivered or declared missing.
    case fin
    /// A reset.
    case rst
    /// No packet for the idle timeout (capture time), or the connection table was full and this was the oldest.
    case timeout
    /// The capture ended with the connection still open.
    case endOfCapture = "end-of-capture"
}

/// Why bytes of a stream are missing.
public enum GapCause: Sendable {
    /// Sent (the peer acknowledged them, or later data shows they existed) but never captured.
    case notCaptured
    /// Cut from their packet by the snapshot length.
    case truncated
    /// Given up on to keep buffered bytes within a limit (data after the hole was waiting).
    case bufferLimit
}

/// Where in the capture an event happened: the packet that caused it.
public struct PacketContext: Sendable {
    public var ts: Timestamp
    public var frame: UInt64
    public init(ts: Timestamp, frame: UInt64) {
        self.ts = ts
        self.frame = frame
    }
}

/// One direction of a connection: where the in-order stream stands and what waits out of order.
///
/// Offsets count bytes from the first byte of the stream (after the SYN, or the first segment seen when the
/// handshake was not captured), in 64 bits, so they never wrap; sequence numbers are turned into offsets in one
/// place (``offset(of:)``), relative to `next`, which handles the 32-bit wrap-around.
public final class HalfStream {
    // What every segment touches comes first, in the object's first cache lines: with many connections the object
    // is out of the cache when its next segment comes (Docs/performance.md).
    var started = false
    var synSeen = false
    var finDone = false
    var warnedOutOfWindow = false
    var warnedConflict = false
    var isn: UInt32 = 0
    /// The sequence number of the next byte expected, and its stream offset.
    var next: UInt32 = 0
    var offset: UInt64 = 0
    /// Bytes delivered in order.
    public internal(set) var delivered: UInt64 = 0
    /// Highest stream offset the peer acknowledged (one past the last byte it has).
    var peerAck: UInt64 = 0
    /// Stream offset of the FIN, once seen; `finDone` once everything before it is through.
    var finOffset: UInt64? = nil
    /// Out-of-order data, sorted by start, never overlapping; the sequence space it spans.
    var pending = HeldSegments()
    var pendingBytes = 0
    // Losses, retransmissions and late data: touched when they happen.
    /// Bytes declared missing (gaps).
    public internal(set) var missing: UInt64 = 0
    /// Bytes seen again after they were delivered or declared missing (retransmissions, overlaps).
    public internal(set) var retransmitted: UInt64 = 0
    /// Packet count and time at which loss was first suspected (the peer acknowledged past a hole).
    var suspectedAtPacket: UInt64? = nil
    var suspectedAt: Timestamp? = nil
    /// The most recent ranges declared missing, to recognise data that arrives for them too late.
    var declaredMissing: [Range<UInt64>] = []
    /// The earliest frame among the held segments (nil when none is held).
    var heldFrom: UInt64? = nil
    /// The place (packet) of the latest bytes or gap handed on: bytes released from the hold later never go before
    /// it, so a stream's events stay in stream order in the timeline.
    var placed = PacketContext(ts: Timestamp(nanoseconds: .min), frame: 0)
    /// Whether the stream's start is not settled yet: no SYN was seen, so it starts at the lowest sequence number
    /// seen within the reorder window (from `provisionalSince`, packets of the connection and time); its bytes are
    /// held until then.
    var provisional = false
    var provisionalSince: (packets: UInt64, ts: Timestamp) = (0, Timestamp(nanoseconds: 0))
    /// The initial sequence number a SYN-ACK seen before this direction's SYN acknowledged (ack - 1): the SYN that
    /// comes later with it belongs to the same connection.
    var expectedISN: UInt32? = nil

    init() {}

    /// The stream offset of sequence number `seq`, relative to the expected one (valid within 2 GiB of it).
    @inline(__always)
    func offset(of seq: UInt32) -> Int64 { Int64(offset) &+ Int64(Int32(bitPattern: seq &- next)) }

    /// Sets the byte counts of a copy made by ``Connection/detachedCopy()`` (the consumer on another thread is told
    /// them when the connection closes).
    public func setCounts(delivered: UInt64, missing: UInt64) {
        self.delivered = delivered
        self.missing = missing
    }

    /// Whether data is known to exist beyond what was delivered: buffered segments or a FIN further on.
    var hasHole: Bool { !pending.isEmpty || (finOffset.map { $0 > offset } ?? false) }
}

/// A reset that arrived before bytes it proves were sent (its sequence number lies ahead of the stream, or it
/// acknowledges bytes not yet seen), held until they arrive or the reorder window passes.
struct HeldReset {
    var ctx: PacketContext
    /// The connection's packet count when the reset came.
    var packets: UInt64
    /// The stream offsets that must be reached first, per direction (the reset's own sequence number, and what it
    /// acknowledges of the other direction).
    var c2sThrough: UInt64
    var s2cThrough: UInt64
}

/// A TCP connection: its two ends, its two directions, and a slot the consumer may use for its own state.
public final class Connection {
    // What every segment touches comes first, in the object's first cache line.
    public let c2s = HalfStream()
    public let s2c = HalfStream()
    /// Free for the consumer (e.g. an index into its per-connection state); the reassembler never reads it.
    public var slot: Int = -1
    /// Whether the connection may hold something back (bytes out of order, a start not settled, a reset): the one
    /// flag its segments test before looking further.
    var unsettled = false
    var lastSeen: Timestamp
    var packets: UInt64 = 0
    // What records, closing and eviction need.
    /// 1-based number in order of first packet.
    public let id: Int
    var closedAt: Timestamp? = nil
    /// A reset waiting for the bytes before it (see ``HeldReset``).
    var heldReset: HeldReset? = nil
    /// The earliest frame whose bytes (or reset) the connection holds back, as last told to the sink.
    var reportedHold: UInt64? = nil
    /// The reassembler's byte clock and the capture time when the connection began holding (see
    /// `Limits.maxHoldSpan`, `maxHoldNanoseconds`).
    var holdSince: (bytes: UInt64, ts: Timestamp) = (0, Timestamp(nanoseconds: 0))
    public let client: Endpoint
    public let server: Endpoint
    /// Whether the SYN or SYN-ACK was seen (otherwise the capture picked the connection up mid-stream).
    public let handshakeSeen: Bool
    public let opened: PacketContext
    let key: FlowKey

    init(id: Int, client: Endpoint, server: Endpoint, key: FlowKey, handshakeSeen: Bool, at ctx: PacketContext) {
        self.id = id
        self.client = client
        self.server = server
        self.key = key
        self.handshakeSeen = handshakeSeen
        self.opened = ctx
        self.lastSeen = ctx.ts
    }

    /// A copy of this connection's identity (number, ends, how it opened) with empty halves, for a consumer that
    /// works on another thread than the reassembler; the reassembler never sees the copy.
    public func detachedCopy() -> Connection {
        Connection(id: id, client: client, server: server, key: key, handshakeSeen: handshakeSeen, at: opened)
    }

    @inline(__always)
    public func half(_ dir: Direction) -> HalfStream { dir == .c2s ? c2s : s2c }

    public var isClosed: Bool { closedAt != nil }
}

/// Receives what the reassembler produces, in capture order. Bytes passed to ``data`` are valid only during
/// the call.
public protocol TCPStreamSink {
    mutating func opened(_ conn: Connection, at ctx: PacketContext)
    mutating func data(_ conn: Connection, _ dir: Direction, _ bytes: UnsafeRawBufferPointer, at ctx: PacketContext)
    mutating func gap(_ conn: Connection, _ dir: Direction, length: UInt64, cause: GapCause, at ctx: PacketContext)
    mutating func closed(_ conn: Connection, reason: CloseReason, at ctx: PacketContext)
    mutating func diagnostic(_ diagnostic: Diagnostic)
    /// The connection now holds back bytes (or a reset) that came with frame `frame` and later ones: events may
    /// still come placed at those frames (the reorder window, holes not yet given up); nil when it holds nothing.
    /// A sink that writes the timeline in order keeps records of later frames until then.
    mutating func holding(_ conn: Connection, from frame: UInt64?)
    /// Housekeeping about to act on other connections than the packet's (the periodic sweep, or closing the
    /// oldest connection at the table limit), and done with it. A sink that splits the work between threads
    /// uses it to keep the output in order.
    mutating func housekeeping(_ kind: Housekeeping?)
}

/// What the reassembler does besides handling the packet at hand.
public enum Housekeeping: Sendable {
    /// Idle timeouts, lingering closed connections, holes past their time: connection by connection, in order.
    case sweep
    /// The connection table is full: the least recently active connection closes.
    case eviction
}

extension TCPStreamSink {
    public mutating func housekeeping(_ kind: Housekeeping?) {}
    public mutating func holding(_ conn: Connection, from frame: UInt64?) {}
}
