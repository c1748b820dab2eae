import Capture
import ImscopeCore

/// Turns TCP segments into ordered byte streams per connection and direction, with gaps made explicit.
///
/// Contract (one policy, documented in `Docs/user-guide.md`):
/// - **Order.** Bytes are delivered in sequence order, each once. Out-of-order segments are copied and held until
///   the hole before them fills; in-order segments are passed through without copying.
/// - **Overlaps and retransmissions.** The first bytes seen for a sequence number win: bytes already delivered are
///   final, and a later segment only fills what is not yet held. Differing overlaps raise `tcp.overlap_conflict`.
/// - **Reordering.** Packets are taken as a capture point saw them, which may not be the order they were sent in:
///   within the reorder window (`reorderWindowPackets` packets of the connection or `reorderWindowNanoseconds` of
///   capture time) a SYN-ACK may come before its SYN, data before the bytes it follows, and a FIN or RST before
///   the last data segment. A reset whose bytes before it are missing is held for the window.
/// - **Loss.** A hole is declared missing (a gap, `tcp.gap`) when the peer acknowledged past it (or a FIN after
///   it) and the hole stayed open for the reorder window; at close, timeout and end of capture; when buffered
///   bytes exceed a limit; or when the connection has held bytes back for `maxHoldSpan` bytes of the capture.
/// - **Placement.** Each event carries the packet that completed it: bytes that fill a hole, and what they make
///   contiguous, the filling packet; bytes released because the hole before them was declared missing, the packet
///   that brought them (never before the stream's previous event). ``TCPStreamSink/holding(_:from:)`` tells the
///   sink how far back such events may still be placed.
/// - **Roles.** The SYN sender is the client (a SYN-ACK seen first: its receiver); without a handshake, the side on
///   a server port is the server, else the lower port.
/// - **Time** is capture time only: idle timeout, loss timing and the sweep run on packet timestamps.
/// - **Memory** is bounded by `maxBufferedPerConnection`, `maxBufferedTotal` and `maxConnections`.
public final class TCPReassembler {
    public struct Limits: Sendable {
        /// Out-of-order bytes held per connection (both directions) before a hole is given up.
        public var maxBufferedPerConnection = 1 << 20
        /// Out-of-order bytes held over all connections.
        public var maxBufferedTotal = 32 << 20
        /// Out-of-order segments held per connection (each costs memory beyond its bytes).
        public var maxHeldSegmentsPerConnection = 4096
        /// Out-of-order segments held over all connections.
        public var maxHeldSegmentsTotal = 65_536
        /// Connections tracked at once; the least recently active is closed beyond it.
        public var maxConnections = 65_536
        /// Capture-time seconds without a packet after which a connection is closed (reason `timeout`).
        public var idleTimeoutSeconds: Int64 = 300
        /// The reorder window: packets of a connection, or capture-time nanoseconds, to wait for a segment that
        /// may have been captured out of order (before a hole the peer acknowledged past is declared missing, or a
        /// reset that came before bytes it follows is applied).
        public var reorderWindowPackets: UInt64 = 8
        public var reorderWindowNanoseconds: Int64 = 1_000_000_000
        /// Bytes of TCP payload the capture may go on for while a connection holds bytes back (behind a hole that
        /// is not yet declared missing); beyond it the connection's holes are given up (`tcp.buffer_limit`). A
        /// timeline written in order keeps every later record until the held bytes are placed: this bounds it.
        public var maxHoldSpan: UInt64 = 16 << 20
        /// Capture time a connection may hold bytes back for (a hole no acknowledgment declares missing: a capture
        /// of one direction); beyond it its holes are declared missing (`tcp.gap`). Also bounds how late a live
        /// timeline runs behind.
        public var maxHoldNanoseconds: Int64 = 10_000_000_000
        public init() {}
    }

    public let limits: Limits
    /// Ports a server listens on: connections touching none of them are ignored unless `anyPort`.
    public let serverPorts: Set<UInt16>
    public let anyPort: Bool
    /// `serverPorts` as one bit per port, tested for every packet (a set lookup hashes the port each time).
    let portBits: [UInt64]

    var table: [FlowKey: Connection] = [:]
    /// The last connection looked up and its key: the next packet is often of the same connection (a reply, an
    /// ACK), which then costs no hashing. Forgotten whenever the table changes (so not counted: the table holds it).
    var lastKey: FlowKey? = nil
    var lastConn: Unmanaged<Connection>? = nil
    var nextID = 1
    var bufferedTotal = 0
    var heldSegmentsTotal = 0
    var lastSweep: Timestamp? = nil
    /// TCP payload bytes processed: the clock of `maxHoldSpan`.
    var byteClock: UInt64 = 0
    var nextHoldCheck: UInt64
    /// How often (on the byte clock) held connections are checked against `maxHoldSpan`.
    var holdCheckInterval: UInt64
    /// The connections holding bytes (or a reset) back, by number.
    var holders: [Int: Connection] = [:]

    /// Connections opened so far.
    public var connectionsSeen: Int { nextID - 1 }
    /// Connections currently tracked (open, or closed and lingering for late packets).
    public var connectionsTracked: Int { table.count }
    /// Out-of-order sequence space currently held (captured bytes, and the bytes of held segments the snaplen cut).
    public var buffered: Int { bufferedTotal }
    /// Out-of-order segments currently held.
    public var heldSegments: Int { heldSegmentsTotal }

    public init(serverPorts: Set<UInt16> = [9092], anyPort: Bool = false, limits: Limits = .init()) {
        self.serverPorts = serverPorts
        self.anyPort = anyPort
        self.limits = limits
        holdCheckInterval = max(1, min(1 << 20, limits.maxHoldSpan / 8))
        nextHoldCheck = holdCheckInterval
        var bits = [UInt64](repeating: 0, count: 1024)
        for port in serverPorts { bits[Int(port >> 6)] |= 1 << UInt64(port & 63) }
        portBits = bits
    }

    @inline(__always)
    func isServerPort(_ port: UInt16) -> Bool { portBits[Int(port >> 6)] & (1 << UInt64(port & 63)) != 0 }

    // MARK: - Segments

    /// Processes one segment seen at `ctx`.

    public func process<S: TCPStreamSink>(_ seg: TCPSegment, at ctx: PacketContext, sink: inout S) {
        if !anyPort && !isServerPort(seg.dst.port) && !isServerPort(seg.src.port) { return }
        processTracked(seg, at: ctx, sink: &sink)
    }

    /// The housekeeping due after the packet at `ctx` (once a second of capture time: idle connections, holes and
    /// held resets past their time, starts to settle). After the packet, not before: a segment that fills a hole is
    /// not beaten to it by the sweep that gives the hole up.
    @inline(__always)
    public func afterPacket<S: TCPStreamSink>(at ctx: PacketContext, sink: inout S) {
        if let last = lastSweep, ctx.ts.nanoseconds &- last.nanoseconds < 1_000_000_000, byteClock < nextHoldCheck {
            return
        }
        housekeep(at: ctx, sink: &sink)
    }

    func housekeep<S: TCPStreamSink>(at ctx: PacketContext, sink: inout S) {
        if let last = lastSweep {
            if ctx.ts.nanoseconds &- last.nanoseconds >= 1_000_000_000 {
                sweep(at: ctx, sink: &sink)
                return
            }
        } else {
            lastSweep = ctx.ts
        }
        if byteClock >= nextHoldCheck {
            nextHoldCheck = byteClock + holdCheckInterval
            if !holders.isEmpty { sweep(holdersOnly: true, at: ctx, sink: &sink) }
        }
    }

    func processTracked<S: TCPStreamSink>(_ seg: TCPSegment, at ctx: PacketContext, sink: inout S) {
        byteClock &+= UInt64(seg.payloadLength)
        var srcIsA = false
        let key = FlowKey(src: seg.src, dst: seg.dst, srcIsA: &srcIsA)
        let found: Unmanaged<Connection>?
        if let last = lastConn, lastKey == key {
            found = last
        } else {
            found = table[key].map { Unmanaged.passUnretained($0) }
            lastKey = key
            lastConn = found
        }
        guard let found else {
            if seg.flags.contains(.rst) && seg.payloadLength == 0 { return }  // a lone reset opens nothing
            segment(seg, open(seg, key: key, at: ctx, sink: &sink), at: ctx, sink: &sink)
            return
        }
        // Lent without counting a reference: the table holds the connection while the segment is handled (the
        // sweep, evictions and a reused tuple, which take connections out, come before or after); counting would
        // cost atomic operations on every segment.
        let reused = found._withUnsafeGuaranteedRef { conn in segment(seg, of: conn, at: ctx, sink: &sink) }
        if reused {
            table[key] = nil  // port reused: a new connection
            lastConn = nil
            segment(seg, open(seg, key: key, at: ctx, sink: &sink), at: ctx, sink: &sink)
        }
    }

    /// A segment of a connection in the table: handled, or true when it opens a new connection on the tuple of
    /// this closed one.
    func segment<S: TCPStreamSink>(
        _ seg: TCPSegment, of conn: Connection, at ctx: PacketContext, sink: inout S
    ) -> Bool {
        let synOnly = seg.flags.contains(.syn) && !seg.flags.contains(.ack)
        if synOnly && !conn.isClosed && conn.packets > 0
            && !(conn.c2s.synSeen ? conn.c2s.isn == seg.seq : conn.c2s.expectedISN == seg.seq)
        {
            // A new handshake on a tuple whose previous connection never closed in the capture (not the SYN of a
            // SYN-ACK seen before it: that one acknowledged this sequence number).
            finish(conn, reason: .timeout, at: ctx, sink: &sink)
        }
        if conn.isClosed {
            let isNewSYN = seg.flags.contains(.syn) && !seg.flags.contains(.ack) && conn.c2s.isn != seg.seq
            guard isNewSYN else {
                if seg.payloadLength > 0 && !seg.flags.contains(.rst) {
                    sink.diagnostic(
                        Diagnostic(
                            .tcpDataAfterClose, "\(seg.payloadLength) bytes after the connection closed",
                            ts: ctx.ts, frame: ctx.frame, conn: conn.id,
                            dir: seg.src == conn.client ? .c2s : .s2c))
                }
                return false
            }
            return true
        }
        segment(seg, conn, at: ctx, sink: &sink)
        return false
    }

    /// A segment of an open connection.
    func segment<S: TCPStreamSink>(_ seg: TCPSegment, _ conn: Connection, at ctx: PacketContext, sink: inout S) {
        conn.lastSeen = ctx.ts
        conn.packets &+= 1
        // The halves passed straight from the connection's constants, so they are lent, not counted (a half chosen
        // into a variable was retained and released for every segment).
        if seg.src == conn.client {
            segment(seg, conn, .c2s, conn.c2s, peer: conn.s2c, at: ctx, sink: &sink)
        } else {
            segment(seg, conn, .s2c, conn.s2c, peer: conn.c2s, at: ctx, sink: &sink)
        }
        if conn.unsettled { afterSegment(conn, at: ctx, sink: &sink) }
    }

    /// After a segment of a connection that may hold something back: starts to settle, a held reset to apply, and
    /// the hold to report.
    func afterSegment<S: TCPStreamSink>(_ conn: Connection, at ctx: PacketContext, sink: inout S) {
        if conn.c2s.provisional || conn.s2c.provisional {
            settleStarts(conn, at: ctx, sink: &sink)
            if conn.c2s.finDone && conn.s2c.finDone { finish(conn, reason: .fin, at: ctx, sink: &sink) }
        }
        if conn.heldReset != nil && !conn.isClosed { applyHeldReset(conn, at: ctx, sink: &sink) }
        reportHold(conn, at: ctx, sink: &sink)
        conn.unsettled =
            conn.c2s.provisional || conn.s2c.provisional || conn.heldReset != nil || conn.reportedHold != nil
    }

    /// Tells the sink how far back the connection's held bytes (or reset) reach, when that changed.
    func reportHold<S: TCPStreamSink>(_ conn: Connection, at ctx: PacketContext, sink: inout S) {
        var from = conn.isClosed ? nil : conn.heldReset?.ctx.frame
        if !conn.isClosed {
            for half in [conn.c2s, conn.s2c] {
                if let f = half.heldFrom { from = min(from ?? f, f) }
            }
        }
        guard from != conn.reportedHold else { return }
        // The limits count from when the earliest held packet became the earliest: a connection that keeps moving on
        // (each hole filled, another opening behind) is not one that is stuck.
        if from != nil { conn.holdSince = (byteClock, ctx.ts) }
        if conn.reportedHold == nil {
            holders[conn.id] = conn
        } else if from == nil {
            holders[conn.id] = nil
        }
        conn.reportedHold = from
        sink.holding(conn, from: from)
    }

    /// Whether the connection has held bytes back for longer than the limits allow: `maxHoldSpan` bytes of the
    /// capture (memory: every later record waits), or `maxHoldNanoseconds` of capture time.
    func heldTooLong(_ conn: Connection, at ctx: PacketContext) -> Bool {
        conn.reportedHold != nil
            && (byteClock - conn.holdSince.bytes > limits.maxHoldSpan
                || ctx.ts.nanoseconds &- conn.holdSince.ts.nanoseconds >= limits.maxHoldNanoseconds)
    }

    /// Gives up what the connection holds back: a held reset closes it, holes are declared missing (over the span,
    /// a buffer limit; over the time, a plain loss) and the held bytes go out.
    func giveUpHold<S: TCPStreamSink>(_ conn: Connection, at ctx: PacketContext, sink: inout S) {
        if conn.heldReset != nil {
            finish(conn, reason: .rst, at: ctx, sink: &sink)
            return
        }
        let cause: GapCause = byteClock - conn.holdSince.bytes > limits.maxHoldSpan ? .bufferLimit : .notCaptured
        settleStarts(conn, force: true, at: ctx, sink: &sink)
        for dir in Direction.allCases where !conn.half(dir).pending.isEmpty {
            let half = conn.half(dir)
            fillFirstHole(conn, dir, limit: half.offset, cause: cause, at: ctx, sink: &sink)
            flushHoles(conn, dir, through: nil, cause: cause, at: ctx, sink: &sink)
        }
        if conn.c2s.finDone && conn.s2c.finDone { finish(conn, reason: .fin, at: ctx, sink: &sink) }
    }

    /// Settles the starts of the streams picked up mid-stream once the reorder window passed for each (or at once,
    /// with `force`): both together, the client's first — of a request and its answer captured crossed, the request
    /// goes first, and neither direction's bytes overtake the other's.
    func settleStarts<S: TCPStreamSink>(
        _ conn: Connection, force: Bool = false, at ctx: PacketContext, sink: inout S
    ) {
        for half in [conn.c2s, conn.s2c] where half.provisional && !force {
            if !windowPassed(since: half.provisionalSince.packets, half.provisionalSince.ts, conn, at: ctx) { return }
        }
        for dir in Direction.allCases where conn.half(dir).provisional { settle(conn, dir, at: ctx, sink: &sink) }
    }

    /// The stream starts where it now does: the held bytes from there on go out, each at its own packet.
    func settle<S: TCPStreamSink>(_ conn: Connection, _ dir: Direction, at ctx: PacketContext, sink: inout S) {
        let half = conn.half(dir)
        half.provisional = false
        drainPending(conn, dir, at: ctx, sink: &sink)
    }

    /// The stream of `half` starts `delta` bytes earlier than thought (nothing was delivered yet): every offset
    /// known moves on by `delta`.
    func rebase(_ half: HalfStream, by delta: UInt64) {
        guard half.delivered + half.missing == 0 else { return }
        half.next = half.next &- UInt32(truncatingIfNeeded: delta)
        half.pending.shift(by: delta)
        if let fin = half.finOffset { half.finOffset = fin + delta }
        if half.peerAck > 0 { half.peerAck += delta }
    }

    /// Applies a held reset once the bytes before it arrived or the reorder window passed.
    func applyHeldReset<S: TCPStreamSink>(_ conn: Connection, at ctx: PacketContext, sink: inout S) {
        guard let held = conn.heldReset else { return }
        let arrived = conn.c2s.offset >= held.c2sThrough && conn.s2c.offset >= held.s2cThrough
        if arrived || windowPassed(since: held.packets, held.ctx.ts, conn, at: ctx) {
            finish(conn, reason: .rst, at: ctx, sink: &sink)
        }
    }

    @inline(__always)
    func windowPassed(since packets: UInt64, _ ts: Timestamp, _ conn: Connection, at ctx: PacketContext) -> Bool {
        conn.packets - packets >= limits.reorderWindowPackets
            || ctx.ts.nanoseconds &- ts.nanoseconds >= limits.reorderWindowNanoseconds
    }

    /// A segment of an open connection from side `dir`, whose half is `half`.
    func segment<S: TCPStreamSink>(
        _ seg: TCPSegment, _ conn: Connection, _ dir: Direction, _ half: HalfStream, peer: HalfStream,
        at ctx: PacketContext, sink: inout S
    ) {

        // The acknowledgment speaks of the other direction's bytes.
        if seg.flags.contains(.ack) && peer.started {
            let acked = peer.offset(of: seg.ack)
            if acked > Int64(peer.peerAck) && acked <= Int64(peer.offset) + (1 << 30) { peer.peerAck = UInt64(acked) }
        }
        if seg.flags.contains(.rst) {
            reset(seg, conn, dir, half, peer: peer, at: ctx, sink: &sink)
            return
        }
        var dataSeq = seg.seq
        if seg.flags.contains(.syn) {
            if seg.flags.contains(.ack) && !peer.synSeen && !peer.started { peer.expectedISN = seg.ack &- 1 }
            if !half.synSeen {
                half.synSeen = true
                half.isn = seg.seq
                if !half.started || half.delivered + half.missing == 0 && half.pending.isEmpty {
                    half.started = true
                    half.next = seg.seq &+ 1
                    half.offset = 0
                } else if half.provisional {
                    // The SYN settles where the stream starts: bytes held before it are ahead of it.
                    let first = half.offset(of: seg.seq &+ 1)
                    if first < 0 && first > -(1 << 30) { rebase(half, by: UInt64(-first)) }
                    settle(conn, dir, at: ctx, sink: &sink)
                }
            }
            dataSeq = seg.seq &+ 1
        } else if !half.started {
            half.started = true
            half.next = seg.seq
            // Picked up mid-stream: the segment seen first need not be the stream's first.
            half.provisional = true
            conn.unsettled = true
            half.provisionalSince = (conn.packets, ctx.ts)
        }
        var start = half.offset(of: dataSeq)
        let carries = seg.payloadLength > 0 || seg.flags.contains(.fin)
        if half.provisional && carries && start < 0 && start > -(1 << 30) {
            rebase(half, by: UInt64(-start))
            start = 0
        }
        if carries && abs(start - Int64(half.offset)) >= 1 << 30 {
            if !half.warnedOutOfWindow {
                half.warnedOutOfWindow = true
                sink.diagnostic(
                    Diagnostic(
                        .tcpOutOfWindow, "sequence number \(seg.seq) is far from the expected \(half.next); ignored",
                        ts: ctx.ts, frame: ctx.frame, conn: conn.id, dir: dir))
            }
            return
        }
        if seg.payloadLength > 0 {
            accept(conn, dir, half, start: start, seg.payload, wireLength: seg.payloadLength, at: ctx, sink: &sink)
        }
        if seg.flags.contains(.fin) && start >= 0 {
            let fin = UInt64(start) + UInt64(seg.payloadLength)
            if half.finOffset == nil { half.finOffset = fin }
            if half.offset >= half.finOffset! && !half.provisional { half.finDone = true }
        }
        checkLoss(conn, .c2s, at: ctx, sink: &sink)
        checkLoss(conn, .s2c, at: ctx, sink: &sink)
        if conn.c2s.finDone && conn.s2c.finDone { finish(conn, reason: .fin, at: ctx, sink: &sink) }
    }

    /// A reset: closes the connection, unless bytes it proves were sent have not arrived yet (its sequence number is
    /// ahead of its stream, it acknowledges bytes of the other direction not yet seen, or data is held behind a
    /// hole); then it is held for the reorder window (``HeldReset``).
    func reset<S: TCPStreamSink>(
        _ seg: TCPSegment, _ conn: Connection, _ dir: Direction, _ half: HalfStream, peer: HalfStream,
        at ctx: PacketContext, sink: inout S
    ) {
        guard conn.heldReset == nil else { return }
        var ownThrough = half.offset
        if half.started {
            let at = half.offset(of: seg.seq)
            if at > Int64(half.offset) && at - Int64(half.offset) < 1 << 30 { ownThrough = UInt64(at) }
        }
        if let last = half.pending.last { ownThrough = max(ownThrough, last.end) }
        var peerThrough = max(peer.offset, peer.pending.last?.end ?? 0)
        if seg.flags.contains(.ack) && peer.started {
            let acked = peer.offset(of: seg.ack)
            if acked > Int64(peerThrough) && acked - Int64(peer.offset) < 1 << 30 { peerThrough = UInt64(acked) }
        }
        if ownThrough == half.offset && peerThrough == peer.offset {
            finish(conn, reason: .rst, at: ctx, sink: &sink)
            return
        }
        conn.unsettled = true
        conn.heldReset = HeldReset(
            ctx: ctx, packets: conn.packets, c2sThrough: dir == .c2s ? ownThrough : peerThrough,
            s2cThrough: dir == .c2s ? peerThrough : ownThrough)
    }

    func open<S: TCPStreamSink>(_ seg: TCPSegment, key: FlowKey, at ctx: PacketContext, sink: inout S) -> Connection {
        if table.count >= limits.maxConnections {
            sink.housekeeping(.eviction)
            evictOldest(at: ctx, sink: &sink)
            sink.housekeeping(nil)
        }
        let syn = seg.flags.contains(.syn)
        let srcIsClient: Bool
        if syn {
            srcIsClient = !seg.flags.contains(.ack)
        } else if isServerPort(seg.dst.port) != isServerPort(seg.src.port) {
            srcIsClient = isServerPort(seg.dst.port)
        } else {
            srcIsClient = seg.src.port != seg.dst.port ? seg.src.port > seg.dst.port : true
        }
        let conn = Connection(
            id: nextID, client: srcIsClient ? seg.src : seg.dst, server: srcIsClient ? seg.dst : seg.src, key: key,
            handshakeSeen: syn, at: ctx)
        nextID += 1
        table[key] = conn
        lastConn = nil
        sink.opened(conn, at: ctx)
        if !syn {
            sink.diagnostic(
                Diagnostic(
                    .tcpMidstream, "handshake not captured; streams start at the first segment seen", ts: ctx.ts,
                    frame: ctx.frame, conn: conn.id))
        }
        return conn
    }

    // MARK: - Data

    /// Takes `wireLength` bytes at stream offset `start`, of which `captured` are present.
    func accept<S: TCPStreamSink>(
        _ conn: Connection, _ dir: Direction, _ half: HalfStream, start: Int64, _ captured: UnsafeRawBufferPointer,
        wireLength: Int, at ctx: PacketContext, sink: inout S
    ) {
        let end = start + Int64(wireLength)
        let offset = Int64(half.offset)
        if half.provisional {
            // Held until the start is settled (``settle``), the first bytes too.
            if end > offset {
                let from = max(start, offset)
                let skip = Int(from - start)
                let keep = UnsafeRawBufferPointer(rebasing: captured[min(skip, captured.count)...])
                hold(conn, dir, half, start: UInt64(from), keep, wireLength: Int(end - from), at: ctx, sink: &sink)
            }
            return
        }
        if start < offset { noteLateData(conn, dir, half, start: start, end: min(end, offset), at: ctx, sink: &sink) }
        if end <= offset {
            half.retransmitted += UInt64(wireLength)
            return
        }
        if start > offset {
            hold(conn, dir, half, start: UInt64(start), captured, wireLength: wireLength, at: ctx, sink: &sink)
            return
        }
        if start < offset {
            // Already delivered (or before the stream's start): only the rest is new.
            let skip = Int(offset - start)
            half.retransmitted += UInt64(skip)
            let keep = UnsafeRawBufferPointer(rebasing: captured[min(skip, captured.count)...])
            accept(conn, dir, half, start: offset, keep, wireLength: wireLength - skip, at: ctx, sink: &sink)
            return
        }
        // In order: pass through what no earlier segment holds, interleaved with what waits.
        let segStart = UInt64(start)
        let segEnd = UInt64(end)
        while true {
            if let first = half.pending.first, first.start <= half.offset {
                _ = takeFirstHeld(half)
                // The held bytes win over the ones this segment carries for the same sequence numbers.
                let overlap = Int64(min(segEnd, first.end)) - Int64(max(first.start, segStart))
                if overlap > 0 {
                    half.retransmitted += UInt64(overlap)
                    if !half.warnedConflict {
                        checkConflict(conn, dir, half, first, segStart, captured, at: ctx, sink: &sink)
                    }
                }
                if first.end > half.offset {
                    first.bytes.withUnsafeBytes { bytes in
                        deliver(
                            conn, dir, half, pieceStart: first.start, bytes, pieceEnd: first.end, upTo: first.end,
                            at: ctx, sink: &sink)
                    }
                }
            } else if half.offset < segEnd {
                let stop = min(segEnd, half.pending.first?.start ?? segEnd)
                deliver(
                    conn, dir, half, pieceStart: segStart, captured, pieceEnd: segEnd, upTo: stop, at: ctx,
                    sink: &sink)
            } else {
                break
            }
        }
        if let fin = half.finOffset, half.offset >= fin { half.finDone = true }
    }

    /// Delivers the part of a piece (bytes from `pieceStart`, `captured` of them present, through `pieceEnd`)
    /// from the stream's current offset up to `upTo`.
    @inline(__always)
    func deliver<S: TCPStreamSink>(
        _ conn: Connection, _ dir: Direction, _ half: HalfStream, pieceStart: UInt64,
        _ captured: UnsafeRawBufferPointer, pieceEnd: UInt64, upTo: UInt64, at ctx: PacketContext, sink: inout S
    ) {
        let capturedEnd = pieceStart + UInt64(captured.count)
        if half.offset < capturedEnd && half.offset < upTo {
            let from = Int(half.offset - pieceStart)
            let to = Int(min(capturedEnd, upTo) - pieceStart)
            let slice = UnsafeRawBufferPointer(rebasing: captured[from..<to])
            advance(half, by: UInt64(to - from))
            half.delivered += UInt64(to - from)
            half.placed = ctx
            sink.data(conn, dir, slice, at: ctx)
        }
        let stop = min(pieceEnd, upTo)
        if half.offset < stop {
            let length = stop - half.offset
            advance(half, by: length)
            half.missing += length
            half.placed = ctx
            sink.gap(conn, dir, length: length, cause: .truncated, at: ctx)
        }
    }

    @inline(__always)
    func advance(_ half: HalfStream, by n: UInt64) {
        half.offset += n
        half.next = half.next &+ UInt32(truncatingIfNeeded: n)
        half.suspectedAtPacket = nil
        half.suspectedAt = nil
    }

    /// Copies an out-of-order segment into the pending list, keeping bytes already held (first arrival wins).
    func hold<S: TCPStreamSink>(
        _ conn: Connection, _ dir: Direction, _ half: HalfStream, start: UInt64, _ captured: UnsafeRawBufferPointer,
        wireLength: Int, at ctx: PacketContext, sink: inout S
    ) {
        let end = start + UInt64(wireLength)
        let capturedEnd = start + UInt64(captured.count)
        var cursor = start
        var index = half.pending.firstIndex(endingAfter: start)
        var added = 0
        var pieces = 0
        var covered: UInt64 = 0
        func insertPiece(_ from: UInt64, _ to: UInt64) {
            guard from < to else { return }
            let capTo = min(to, capturedEnd)
            let bytes: [UInt8] =
                from < capTo
                ? Array(UnsafeRawBufferPointer(rebasing: captured[Int(from - start)..<Int(capTo - start)])) : []
            let piece = PendingSegment(start: from, bytes: bytes, missingTail: Int(to - from) - bytes.count, ctx: ctx)
            half.pending.insert(piece, at: index)
            index += 1
            added += piece.span
            pieces += 1
            covered += to - from
        }
        while cursor < end {
            if index < half.pending.count, half.pending[index].start < end {
                let held = half.pending[index]
                if held.start > cursor { insertPiece(cursor, held.start) }
                if !half.warnedConflict { checkConflict(conn, dir, half, held, start, captured, at: ctx, sink: &sink) }
                cursor = max(cursor, held.end)
                index += 1
            } else {
                insertPiece(cursor, end)
                cursor = end
            }
        }
        half.retransmitted += UInt64(wireLength) - covered
        if pieces > 0 && half.heldFrom == nil {
            half.heldFrom = ctx.frame
            conn.unsettled = true
        }
        half.pendingBytes += added
        bufferedTotal += added
        heldSegmentsTotal += pieces
        enforceLimits(conn, at: ctx, sink: &sink)
    }

    func checkConflict<S: TCPStreamSink>(
        _ conn: Connection, _ dir: Direction, _ half: HalfStream, _ held: PendingSegment, _ start: UInt64,
        _ captured: UnsafeRawBufferPointer, at ctx: PacketContext, sink: inout S
    ) {
        let lo = max(held.start, start)
        let hi = min(held.start + UInt64(held.bytes.count), start + UInt64(captured.count))
        guard lo < hi else { return }
        let same = held.bytes.withUnsafeBytes { heldBytes in
            memcmp(heldBytes.baseAddress! + Int(lo - held.start), captured.baseAddress! + Int(lo - start), Int(hi - lo))
                == 0
        }
        if !same {
            half.warnedConflict = true
            sink.diagnostic(
                Diagnostic(
                    .tcpOverlapConflict,
                    "overlapping segments differ in \(hi - lo) bytes at stream offset \(lo); kept the first",
                    ts: ctx.ts, frame: ctx.frame, conn: conn.id, dir: dir))
        }
    }

    /// Takes the first held segment of `half`, releasing what it counted against the limits.
    @inline(__always)
    func takeFirstHeld(_ half: HalfStream) -> PendingSegment? {
        guard let piece = half.pending.popFirst() else { return nil }
        bufferedTotal -= piece.span
        half.pendingBytes -= piece.span
        heldSegmentsTotal -= 1
        if half.pending.isEmpty {
            half.heldFrom = nil
        } else if piece.ctx.frame == half.heldFrom {
            half.heldFrom = half.pending.earliestFrame
        }
        return piece
    }

    /// Reports payload that arrived for bytes already declared missing (`tcp.data_after_close`).
    func noteLateData<S: TCPStreamSink>(
        _ conn: Connection, _ dir: Direction, _ half: HalfStream, start: Int64, end: Int64, at ctx: PacketContext,
        sink: inout S
    ) {
        guard start < end, !half.declaredMissing.isEmpty else { return }
        let late = half.declaredMissing.reduce(Int64(0)) { sum, range in
            sum + max(0, min(end, Int64(range.upperBound)) - max(start, Int64(range.lowerBound)))
        }
        guard late > 0 else { return }
        sink.diagnostic(
            Diagnostic(
                .tcpDataAfterClose, "\(late) bytes arrived for a range already declared missing; not delivered",
                ts: ctx.ts, frame: ctx.frame, conn: conn.id, dir: dir))
    }

    // MARK: - Holes

    /// Declares the first hole of `dir` missing when the evidence says it will not fill.
    func checkLoss<S: TCPStreamSink>(_ conn: Connection, _ dir: Direction, at ctx: PacketContext, sink: inout S) {
        let half = conn.half(dir)
        // Evidence of loss: the peer has bytes past our offset (an acknowledged FIN at the offset is not a hole);
        // none while the stream's start is not settled.
        guard half.started, !half.provisional, half.peerAck > half.offset, half.finOffset != half.offset else {
            half.suspectedAtPacket = nil
            half.suspectedAt = nil
            return
        }
        guard let since = half.suspectedAtPacket, let sinceTime = half.suspectedAt else {
            half.suspectedAtPacket = conn.packets
            half.suspectedAt = ctx.ts
            return
        }
        if windowPassed(since: since, sinceTime, conn, at: ctx) {
            // A FIN the peer acknowledged proves everything before it was sent: every hole up to it goes.
            if let fin = half.finOffset, half.peerAck > fin {
                flushHoles(conn, dir, through: fin, cause: .notCaptured, at: ctx, sink: &sink)
                return
            }
            // Every hole the peer acknowledged past has been open as long as the first.
            while half.peerAck > half.offset && half.finOffset != half.offset {
                let before = half.offset
                fillFirstHole(conn, dir, limit: half.peerAck, cause: .notCaptured, at: ctx, sink: &sink)
                if half.offset == before { break }
            }
        }
    }

    /// Declares the hole at the current offset missing (up to the next held segment, or `limit` when nothing is
    /// held) and delivers what becomes contiguous.
    func fillFirstHole<S: TCPStreamSink>(
        _ conn: Connection, _ dir: Direction, limit: UInt64, cause: GapCause, at ctx: PacketContext, sink: inout S
    ) {
        let half = conn.half(dir)
        half.provisional = false  // a limit gives up on finding an earlier start too
        let holeEnd = half.pending.first?.start ?? max(half.offset, min(limit, half.finOffset ?? limit))
        if holeEnd > half.offset {
            let length = holeEnd - half.offset
            let at = half.offset
            // Placed just before the bytes after it, which keep their own packet's place.
            let place = half.pending.first.map { later($0.ctx, half.placed) } ?? ctx
            advance(half, by: length)
            half.missing += length
            half.placed = place
            if half.declaredMissing.count == 8 { half.declaredMissing.removeFirst() }
            half.declaredMissing.append(at..<holeEnd)
            sink.diagnostic(
                Diagnostic(
                    cause == .bufferLimit ? .tcpBufferLimit : .tcpGap,
                    "\(length) bytes missing at stream offset \(at)"
                        + (cause == .bufferLimit ? " (buffer limit reached with data waiting after the hole)" : ""),
                    ts: place.ts, frame: place.frame, conn: conn.id, dir: dir))
            sink.gap(conn, dir, length: length, cause: cause, at: place)
        }
        drainPending(conn, dir, at: ctx, sink: &sink)
    }

    /// Delivers held segments that now start at or before the stream offset, after a hole declared missing: each
    /// placed at the packet that brought it (not before the stream's previous event).
    func drainPending<S: TCPStreamSink>(_ conn: Connection, _ dir: Direction, at ctx: PacketContext, sink: inout S) {
        let half = conn.half(dir)
        while let first = half.pending.first, first.start <= half.offset {
            _ = takeFirstHeld(half)
            if first.end > half.offset {
                let place = later(first.ctx, half.placed)
                first.bytes.withUnsafeBytes { bytes in
                    deliver(
                        conn, dir, half, pieceStart: first.start, bytes, pieceEnd: first.end, upTo: first.end,
                        at: place, sink: &sink)
                }
            }
        }
        if let fin = half.finOffset, half.offset >= fin { half.finDone = true }
    }

    /// Declares every hole missing up to `through` (or through everything held), delivering all held data.
    func flushHoles<S: TCPStreamSink>(
        _ conn: Connection, _ dir: Direction, through: UInt64?, cause: GapCause, at ctx: PacketContext, sink: inout S
    ) {
        let half = conn.half(dir)
        let target = through ?? max(half.pending.last?.end ?? 0, half.peerAck)
        while half.started && (half.offset < target || !half.pending.isEmpty) {
            let before = (half.offset, half.pending.count)
            fillFirstHole(conn, dir, limit: target, cause: cause, at: ctx, sink: &sink)
            if before == (half.offset, half.pending.count) { break }
        }
    }

    /// The later of two places (by frame).
    @inline(__always)
    func later(_ a: PacketContext, _ b: PacketContext) -> PacketContext { a.frame >= b.frame ? a : b }

    func enforceLimits<S: TCPStreamSink>(_ conn: Connection, at ctx: PacketContext, sink: inout S) {
        func held(_ c: Connection) -> Int { c.c2s.pendingBytes + c.s2c.pendingBytes }
        func pieces(_ c: Connection) -> Int { c.c2s.pending.count + c.s2c.pending.count }
        while held(conn) > limits.maxBufferedPerConnection || pieces(conn) > limits.maxHeldSegmentsPerConnection
            || bufferedTotal > limits.maxBufferedTotal || heldSegmentsTotal > limits.maxHeldSegmentsTotal
        {
            var victim = conn
            if pieces(conn) == 0 {
                // Ties go to the lower connection number: the output must not depend on hash order.
                guard
                    let largest = table.values.max(by: { (held($0), -$0.id) < (held($1), -$1.id) }),
                    pieces(largest) > 0
                else { return }
                victim = largest
            }
            let dir: Direction =
                victim.c2s.pending.isEmpty
                ? .s2c
                : victim.s2c.pending.isEmpty
                    ? .c2s
                    : victim.c2s.pendingBytes >= victim.s2c.pendingBytes ? .c2s : .s2c
            fillFirstHole(victim, dir, limit: victim.half(dir).offset, cause: .bufferLimit, at: ctx, sink: &sink)
            if victim !== conn { reportHold(victim, at: ctx, sink: &sink) }
        }
    }

    // MARK: - Closing

    func finish<S: TCPStreamSink>(_ conn: Connection, reason: CloseReason, at ctx: PacketContext, sink: inout S) {
        guard !conn.isClosed else { return }
        if conn.c2s.provisional || conn.s2c.provisional { settleStarts(conn, force: true, at: ctx, sink: &sink) }
        let held = conn.heldReset
        for dir in Direction.allCases {
            let half = conn.half(dir)
            // Through the FIN if one was seen, else through the last byte held or acknowledged by the peer (or
            // proved by a held reset).
            var through = half.finOffset ?? max(half.pending.last?.end ?? 0, half.peerAck)
            if let held { through = max(through, dir == .c2s ? held.c2sThrough : held.s2cThrough) }
            flushHoles(conn, dir, through: through, cause: .notCaptured, at: ctx, sink: &sink)
        }
        conn.closedAt = ctx.ts
        // A held reset closes the connection at its own packet, unless bytes were placed after it.
        let place = held.map { later(later($0.ctx, conn.c2s.placed), conn.s2c.placed) } ?? ctx
        sink.closed(conn, reason: held != nil ? .rst : reason, at: place)
        conn.heldReset = nil
        if conn.reportedHold != nil { reportHold(conn, at: ctx, sink: &sink) }
    }

    func evictOldest<S: TCPStreamSink>(at ctx: PacketContext, sink: inout S) {
        guard
            let oldest = table.values.min(by: {
                ($0.isClosed ? 0 : 1, $0.lastSeen, $0.id) < ($1.isClosed ? 0 : 1, $1.lastSeen, $1.id)
            })
        else { return }
        if !oldest.isClosed {
            sink.diagnostic(
                Diagnostic(
                    .tcpConnectionLimit,
                    "more than \(limits.maxConnections) connections; closed the least recently active",
                    ts: ctx.ts, frame: ctx.frame, conn: oldest.id))
            finish(oldest, reason: .timeout, at: ctx, sink: &sink)
        }
        table[oldest.key] = nil
        holders[oldest.id] = nil
        lastConn = nil
    }

    /// Runs the capture-time housekeeping: idle connections close, closed ones stop lingering, stale holes go.
    /// `holdersOnly`: between the once-a-second sweeps, only the connections holding bytes back, for `maxHoldSpan`.
    func sweep<S: TCPStreamSink>(holdersOnly: Bool = false, at ctx: PacketContext, sink: inout S) {
        if !holdersOnly { lastSweep = ctx.ts }
        let idle = limits.idleTimeoutSeconds * 1_000_000_000
        var due: [(conn: Connection, expired: Bool)] = []
        for conn in holdersOnly ? Array(holders.values) : Array(table.values) {
            let quiet = ctx.ts.nanoseconds - conn.lastSeen.nanoseconds
            if conn.isClosed {
                if ctx.ts.nanoseconds - conn.closedAt!.nanoseconds >= min(idle, 60_000_000_000) {
                    due.append((conn, true))
                }
            } else if quiet >= idle {
                due.append((conn, true))
            } else if conn.c2s.suspectedAt != nil || conn.s2c.suspectedAt != nil || conn.heldReset != nil
                || conn.c2s.provisional || conn.s2c.provisional || conn.reportedHold != nil
            {
                due.append((conn, false))
            }
        }
        guard !due.isEmpty else { return }
        // One pass in connection order, so the output does not depend on the table's hash order.
        due.sort { $0.conn.id < $1.conn.id }
        sink.housekeeping(.sweep)
        for (conn, expired) in due {
            if expired {
                finish(conn, reason: .timeout, at: ctx, sink: &sink)
                table[conn.key] = nil
                holders[conn.id] = nil
                lastConn = nil
            } else {
                for dir in Direction.allCases where conn.half(dir).suspectedAt != nil {
                    checkLoss(conn, dir, at: ctx, sink: &sink)
                }
                settleStarts(conn, at: ctx, sink: &sink)
                if conn.c2s.finDone && conn.s2c.finDone { finish(conn, reason: .fin, at: ctx, sink: &sink) }
                applyHeldReset(conn, at: ctx, sink: &sink)
                if !conn.isClosed && heldTooLong(conn, at: ctx) { giveUpHold(conn, at: ctx, sink: &sink) }
                reportHold(conn, at: ctx, sink: &sink)
            }
        }
        sink.housekeeping(nil)
    }

    /// Closes every open connection at the end of the capture (reason `end-of-capture`), in connection order.
    public func finishAll<S: TCPStreamSink>(at ctx: PacketContext, sink: inout S) {
        for conn in table.values.sorted(by: { $0.id < $1.id }) where !conn.isClosed {
            finish(conn, reason: .endOfCapture, at: ctx, sink: &sink)
        }
        table.removeAll()
        holders.removeAll()
        lastConn = nil
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension TCPReassembler {
    /// The tracked connection a segment belongs to, and its direction.
    public func connection(of seg: TCPSegment) -> (Connection, Direction)? {
        var srcIsA = false
        guard let conn = table[FlowKey(src: seg.src, dst: seg.dst, srcIsA: &srcIsA)] else { return nil }
        return (conn, seg.src == conn.client ? .c2s : .s2c)
    }
}
