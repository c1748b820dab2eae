import Capture
import ImscopeCore
import Pipeline
import TCPReassembly

/// The reader side of `--jobs`: takes the TCP layer's events from the one packet loop and sends each to the shard
/// that owns its connection. A client's connections stay together (ownership goes by client address), so an
/// Engine.IO session's polling requests and WebSocket are decoded by one shard; records about no connection go to
/// shard 0.
///
/// Shard 0 is decoded on the reader's own thread: its events are handled as they come, with the reassembler's
/// bytes where they lie (no copy), and it owns a smaller share of the clients (``inlineShare``) so that reading and
/// its decoding together weigh about what each other shard decodes. The other shards' events are batched and
/// handed on at every checkpoint, before shard 0 hands over its own records (so the merger is never left waiting
/// for a shard whose input is still with the reader).
struct DispatchSink: CaptureSink {
    let inline: DecodeShard
    let inboxes: [ShardInbox]
    /// Where the packets come from: stream bytes that lie in a file it reads in place go to the shards uncopied.
    let source: PacketSource
    var batches: [ShardBatch]
    /// Shard `s` owns the client addresses whose hash is below `bounds[s]` (and at or above `bounds[s - 1]`).
    let bounds: [UInt64]
    var at = Position(frame: 0, stage: .start)
    /// Whether shards need the stream bytes (decoding past TCP, or writing stream files).
    let needsBytes: Bool
    /// Each open connection's shard, indexed by the reassembler's `Connection.slot` (the number events name the
    /// connection by).
    var routes = SlotTable<Int>()
    /// Which shard owns each connection number (kept a while after it closes, for late diagnostics).
    var ownership: [Int: Int] = [:]
    var closedOwnership: [Int] = []

    /// The share of the decoding work the reader's own shard takes with `shards` shards in all: reading and TCP
    /// reassembly weigh about a quarter of a full decode, so with two shards the reader's thread decodes 32 % of
    /// the clients and the other thread the rest; with four or more it decodes none (the weight measured where the
    /// threads wait least for each other: Docs/performance.md).
    static func inlineShare(shards: Int) -> Double {
        let reading = 0.26
        return max(0, (1 / Double(shards) - reading) / (1 - reading))
    }

    /// `inboxes` are those of shards 1 and up.
    init(inline: DecodeShard, inboxes: [ShardInbox], source: PacketSource, needsBytes: Bool) {
        self.inline = inline
        self.inboxes = inboxes
        self.source = source
        self.needsBytes = needsBytes
        batches = inboxes.map { _ in ShardBatch() }
        let share = Self.inlineShare(shards: inboxes.count + 1)
        var bounds: [UInt64] = []
        for s in 0...inboxes.count {
            let upTo = share + (1 - share) * Double(s) / Double(max(inboxes.count, 1))
            bounds.append(s == inboxes.count ? .max : UInt64(upTo * 0x1p64))
        }
        self.bounds = bounds
    }

    func owner(_ conn: Connection) -> Int {
        let a = conn.client.address
        var h = (a.hi ^ (a.lo &* 0x9E37_79B9_7F4A_7C15))
        h ^= h >> 29
        h = h &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 32
        return bounds.firstIndex { h < $0 } ?? bounds.count - 1
    }

    /// Hands `event` to shard `shard`: handled now for shard 0, batched for the others.
    @inline(__always)
    mutating func send(_ shard: Int, _ event: ShardEvent) {
        if shard == 0 {
            _ = inline.handle(event, UnsafeRawBufferPointer(start: nil, count: 0), in: nil)
        } else {
            batches[shard - 1].events.append(event)
        }
    }

    mutating func toAll(_ event: ShardEvent) {
        for s in batches.indices { batches[s].events.append(event) }
        send(0, event)
    }

    /// Queues the other shards' batches; shard 0's checkpoint or end follows.
    mutating func handOn(_ event: ShardEvent) {
        for s in batches.indices {
            batches[s].events.append(event)
            batches[s] = inboxes[s].put(batches[s])
        }
        send(0, event)
    }

    mutating func begin(origin: Timestamp) { toAll(.begin(origin)) }

    mutating func position(frame: UInt64, stage: PipelineStage) { at = Position(frame: frame, stage: stage) }

    mutating func checkpoint(at ctx: PacketContext) { handOn(.checkpoint(ctx)) }

    mutating func finish(at ctx: PacketContext) { handOn(.end(ctx)) }

    mutating func housekeeping(_ kind: Housekeeping?) { at.stage = PipelineStage(kind) }

    mutating func opened(_ conn: Connection, at ctx: PacketContext) {
        let shard = owner(conn)
        ownership[conn.id] = shard
        conn.slot = routes.insert(shard)
        if shard == 0 {
            inline.opened(conn.detachedCopy(), slot: conn.slot, ctx, at)
            return
        }
        let batch = batches[shard - 1]
        batch.opened.append(conn.detachedCopy())
        batch.events.append(.opened(index: batch.opened.count - 1, slot: conn.slot, ctx, at))
    }

    mutating func data(_ conn: Connection, _ dir: Direction, _ bytes: UnsafeRawBufferPointer, at ctx: PacketContext) {
        guard needsBytes, conn.slot >= 0, let shard = routes[conn.slot] else { return }
        if shard == 0 {
            _ = inline.handle(.data(slot: conn.slot, dir, 0..<bytes.count, ctx, at), bytes, in: nil)
            return
        }
        let batch = batches[shard - 1]
        if source.holdsInPlace(bytes) {
            batch.events.append(.dataInPlace(slot: conn.slot, dir, bytes, ctx, at))
            return
        }
        let start = batch.bytes.count
        batch.bytes.append(contentsOf: bytes)
        batch.events.append(.data(slot: conn.slot, dir, start..<batch.bytes.count, ctx, at))
    }

    mutating func gap(_ conn: Connection, _ dir: Direction, length: UInt64, cause: GapCause, at ctx: PacketContext) {
        guard conn.slot >= 0, let shard = routes[conn.slot] else { return }
        send(shard, .gap(slot: conn.slot, dir, length, cause, ctx, at))
    }

    mutating func holding(_ conn: Connection, from frame: UInt64?) {
        guard conn.slot >= 0, let shard = routes[conn.slot] else { return }
        send(shard, .holding(slot: conn.slot, frame))
    }

    mutating func closed(_ conn: Connection, reason: CloseReason, at ctx: PacketContext) {
        guard conn.slot >= 0, let shard = routes[conn.slot] else { return }
        let counts = (conn.c2s.delivered, conn.c2s.missing, conn.s2c.delivered, conn.s2c.missing)
        send(shard, .closed(slot: conn.slot, reason, ctx, at, counts: counts))
        routes.remove(at: conn.slot)
        conn.slot = -1
        closedOwnership.append(conn.id)
        if closedOwnership.count > 131_072 {
            for id in closedOwnership.prefix(65_536) { ownership[id] = nil }
            closedOwnership.removeFirst(65_536)
        }
    }

    mutating func diagnostic(_ diagnostic: Diagnostic) {
        let shard = diagnostic.conn.flatMap { ownership[$0] } ?? 0
        if shard == 0 {
            inline.diagnostic(diagnostic, at)
            return
        }
        let batch = batches[shard - 1]
        batch.diagnostics.append(diagnostic)
        batch.events.append(.diagnostic(index: batch.diagnostics.count - 1, at))
    }
}
