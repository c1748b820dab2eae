import CByteScan
import Capture
import Foundation
import IMProtocol
import ImscopeCore
import SocketIO
import TCPReassembly

/// Where a record belongs in the output of a run split between threads (`--jobs N`).
///
/// One reader thread decodes packets and reassembles TCP; each decoding shard gets the events of the connections
/// whose client address falls in it, stamped with where the reader was (``Position``). Records are
/// ordered by the packet being handled when they were emitted (`frame`), the stage of that handling, then — where
/// the single-threaded run goes connection by connection (housekeeping, the end of the capture) — the connection,
/// and last the order the shard emitted them in. Each shard's records come out in this order, so merging the
/// shards by key gives exactly the single-threaded output.
public struct MergeKey: Comparable, Sendable {
    public enum Stage: UInt8, Sendable, Comparable {
        case start = 0, sweep, eviction, packet, afterPacket, endFragments, endConnections, endSessions
        public static func < (a: Stage, b: Stage) -> Bool { a.rawValue < b.rawValue }
    }

    public var frame: UInt64
    public var stage: Stage
    public var order: UInt64
    public var seq: UInt64

    public static func < (a: MergeKey, b: MergeKey) -> Bool {
        (a.frame, a.stage.rawValue, a.order, a.seq) < (b.frame, b.stage.rawValue, b.order, b.seq)
    }

    /// Past every key of frame `frame` up to and including `stage`.
    static func watermark(frame: UInt64, stage: Stage) -> MergeKey {
        MergeKey(frame: frame, stage: stage, order: .max, seq: .max)
    }

    static let end = MergeKey(frame: .max, stage: .endSessions, order: .max, seq: .max)
}

extension MergeKey.Stage {
    /// The stage of the reassembler's housekeeping `kind`; nil is back to the packet at hand.
    init(_ kind: Housekeeping?) {
        switch kind {
        case .sweep: self = .sweep
        case .eviction: self = .eviction
        case nil: self = .packet
        }
    }
}

/// A shard's output on its way to the merger: rendered records and, for each, its key and where it ends.
final class ShardChunk: @unchecked Sendable {
    var bytes: ByteBlock! = nil
    var keys: [MergeKey] = []
    var ends: [Int] = []
    /// Every record of this shard with a key up to here is in this chunk or an earlier one.
    var watermark = MergeKey.watermark(frame: 0, stage: .start)
}

/// The chunks of all shards, handed from the worker threads to the merger under one lock.
///
/// There is no merger thread: the thread that hands over a chunk (or finishes its shard) merges whatever that makes
/// ready, one thread at a time (`merging`). A merger thread of its own was a third thread on two cores: woken for
/// every chunk, it waited for a core while the decoding threads held both, and the reader, its own shard's chunks
/// not taken, waited for it in turn (60–150 ms of a 230 ms run on the 114 MB capture, measured).
final class ShardChannel: @unchecked Sendable {
    let condition = NSCondition()
    var queues: [[ShardChunk]]
    var watermarks: [MergeKey]
    var summaries: [RunSummary?]
    /// Chunks a shard may have waiting (as many as batches: a shard's chunks wait for the other shards' of the
    /// same frames, which may be that many batches behind).
    let maxQueued = 8
    /// Blocks the merger has written out, for the shards to render into again (fresh blocks of this size would
    /// come from mmap and fault in every page).
    var spares: [[ByteBlock]]
    let merger: Merger
    /// Whether a thread is merging (it lets go of the lock while it writes; chunks handed over meanwhile are merged
    /// by it before it stops).
    var merging = false
    /// Set, and signalled, once everything is written, for the thread waiting for the end of the run (taken after
    /// `condition`, never before it).
    let finished = NSCondition()
    var ended = false

    init(shards: Int, array: Bool, out: OutputBuffer) {
        queues = Array(repeating: [], count: shards)
        watermarks = Array(repeating: MergeKey.watermark(frame: 0, stage: .start), count: shards)
        summaries = Array(repeating: nil, count: shards)
        spares = Array(repeating: [], count: shards)
        merger = Merger(shards: shards, array: array, out: out)
    }

    /// Queues `chunk` and merges what it makes ready; returns a spare block for the shard's next one, if there is
    /// one. Waits while the shard is `maxQueued` chunks ahead of what could be written (its records wait for
    /// another shard's, whose hand-over will merge them).
    func put(_ chunk: ShardChunk, shard: Int) -> ByteBlock? {
        condition.lock()
        while queues[shard].count >= maxQueued { condition.wait() }
        queues[shard].append(chunk)
        watermarks[shard] = chunk.watermark
        let spare = spares[shard].popLast()
        mergeLocked()
        condition.unlock()
        return spare
    }

    /// The shard is done, with its counts for the run's summary.
    func finish(shard: Int, summary: RunSummary) {
        condition.lock()
        summaries[shard] = summary
        mergeLocked()
        condition.unlock()
    }

    /// Merges what is ready, unless another thread is merging; wakes the threads waiting for room. Called with the
    /// lock held.
    func mergeLocked() {
        if !merging {
            merging = true
            let done = merger.merge(self)
            merging = false
            if done {
                finished.lock()
                ended = true
                finished.broadcast()
                finished.unlock()
            }
        }
        condition.broadcast()
    }

    /// Waits until every record is written.
    func waitForEnd() {
        finished.lock()
        while !ended { finished.wait() }
        finished.unlock()
    }
}

/// Renders a shard's records into memory, with their keys, and hands them over in chunks.
final class ShardCollector {
    let renderer: RecordSink
    let out: OutputBuffer
    let channel: ShardChannel
    let shard: Int
    var spare: ByteBlock? = nil
    /// The keys of the records rendered since the last hand-over, and where each ends. Kept here, not in the chunk
    /// they go out in (reached through it, they were one more object for every record), with room for as many as
    /// the last chunk had (grown from nothing for every chunk: 18 000 reallocations on the 114 MB capture).
    var keys: [MergeKey] = []
    var ends: [Int] = []

    init(renderer: RecordSink, out: OutputBuffer, channel: ShardChannel, shard: Int) {
        self.renderer = renderer
        self.out = out
        self.channel = channel
        self.shard = shard
    }

    func emit(_ record: Record, key: MergeKey) {
        renderer.emit(record)
        keys.append(key)
        ends.append(out.count)
    }

    func emitSIO(
        _ place: RecordPlace, _ transport: Transport, sid: String?, version: Int, message: SocketIOMessage,
        im: IMMessage?, head: RenderedHead?, key: MergeKey
    ) {
        renderer.emitSIO(place, transport, sid: sid, version: version, message: message, im: im, head: head)
        keys.append(key)
        ends.append(out.count)
    }

    /// The shard is done: its counts, for the run's summary.
    func finish(summary: RunSummary) { channel.finish(shard: shard, summary: summary) }

    /// Hands over what was rendered, promising no later record keys at or below `watermark`.
    func handOver(watermark: MergeKey) {
        let block = spare ?? ByteBlock(capacity: out.capacity)
        out.exchange(block)
        let chunk = ShardChunk()
        chunk.bytes = block
        chunk.watermark = watermark
        let count = keys.count
        swap(&chunk.keys, &keys)
        swap(&chunk.ends, &ends)
        keys.reserveCapacity(count)
        ends.reserveCapacity(count)
        spare = channel.put(chunk, shard: shard)
    }
}

/// Where the reader is in the capture when it hands on an event: the packet and the stage of its handling.
struct Position: Sendable {
    var frame: UInt64
    var stage: MergeKey.Stage
}

/// What the reader thread hands a decoding shard: the TCP layer's events for the shard's connections, in capture
/// order, each with its ``Position``. `opened` hands the shard its own copy of the connection
/// (``Connection/detachedCopy()``) and the number the later events name it by: the events hold no reference the
/// reader and the shard would both count (reference counts touched from two cores move their cache line between
/// them for every event). The bytes of `data` are a range of the batch's buffer.
///
/// Plain values, so a batch of them is copied and freed without a look at each: the connection an `opened` hands
/// over and the diagnostic of `diagnostic` wait in the batch's lists (`index` is their place there). Events that
/// carried them were copied, counted and destroyed case by case (2 % of a `--jobs 2` run's instructions).
enum ShardEvent {
    case begin(Timestamp)
    case opened(index: Int, slot: Int, PacketContext, Position)
    case data(slot: Int, Direction, Range<Int>, PacketContext, Position)
    /// Stream bytes that lie where the capture file was read in place, valid for the whole run: not copied.
    case dataInPlace(slot: Int, Direction, UnsafeRawBufferPointer, PacketContext, Position)
    case gap(slot: Int, Direction, UInt64, GapCause, PacketContext, Position)
    case closed(slot: Int, CloseReason, PacketContext, Position, counts: (UInt64, UInt64, UInt64, UInt64))
    case diagnostic(index: Int, Position)
    /// Every packet up to this frame is handled.
    case checkpoint(UInt64)
    /// The capture ended.
    case end(PacketContext)
}

/// Events on their way from the reader to one shard, with the stream bytes they carry; reused once handled.
final class ShardBatch: @unchecked Sendable {
    var events: [ShardEvent] = []
    var bytes: [UInt8] = []
    /// The connections of the batch's `opened` events, and the diagnostics of its `diagnostic` events.
    var opened: [Connection] = []
    var diagnostics: [Diagnostic] = []

    func removeAll() {
        events.removeAll(keepingCapacity: true)
        bytes.removeAll(keepingCapacity: true)
        opened.removeAll(keepingCapacity: true)
        diagnostics.removeAll(keepingCapacity: true)
    }
}

/// One shard's queue of batches, and the batches it has handled, for the reader to fill again.
///
/// A thread that finds the queue empty (the shard) or full (the reader) spins a moment before it sleeps, when each
/// thread has a core of its own: batches come every few hundred microseconds, and waking a sleeping thread on a
/// virtual machine costs about as much (an interrupt to an idle vCPU, which the host may have descheduled).
final class ShardInbox: @unchecked Sendable {
    let condition = NSCondition()
    var queue: [ShardBatch] = []
    var free: [ShardBatch] = []
    /// Batches of at most 512 packets or 1 MiB of capture: 8 stay within the 8 MiB of the file kept behind the
    /// reader, and absorb more of the two threads' unevenness than 4 did (perf's samples in their spin-waits on the
    /// 114 MB capture, 4 runs: 710-760 against 870-900).
    let maxQueued = 8
    /// `queue.count`, written under the lock and read without it by a spinning thread.
    let queued = UnsafeMutablePointer<Int>.allocate(capacity: 1)
    let spins: Bool

    init(spins: Bool) {
        self.spins = spins
        queued.initialize(to: 0)
    }

    deinit { queued.deallocate() }

    /// Queues `batch` (waiting while the shard is behind) and returns an empty one to fill next.
    func put(_ batch: ShardBatch) -> ShardBatch {
        if spins { _ = spin { imscope_load_acquire(queued) < maxQueued } }
        condition.lock()
        while queue.count >= maxQueued { condition.wait() }
        queue.append(batch)
        imscope_store_release(queued, queue.count)
        let next = free.popLast() ?? ShardBatch()
        condition.broadcast()
        condition.unlock()
        return next
    }

    /// The next batch; `done` is the one handled before it (emptied and kept for the reader).
    func take(done: ShardBatch?) -> ShardBatch {
        if let done { done.removeAll() }
        if spins { _ = spin { imscope_load_acquire(queued) > 0 } }
        condition.lock()
        if let done { free.append(done) }
        while queue.isEmpty { condition.wait() }
        let batch = queue.removeFirst()
        imscope_store_release(queued, queue.count)
        // A reader waiting for room is woken once the queue is half empty, to fill it in one go: waking it for
        // every batch taken cost a context switch per batch on cores busy decoding.
        if queue.count <= maxQueued / 2 { condition.broadcast() }
        condition.unlock()
        return batch
    }
}

/// Spins until `ready` or for about `spinNanoseconds`; whether `ready` came true.
@inline(__always)
func spin(_ ready: () -> Bool) -> Bool {
    var deadline = 0
    while true {
        for _ in 0..<64 {
            if ready() { return true }
            imscope_spin_pause()
        }
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        let now = t.tv_sec &* 1_000_000_000 &+ t.tv_nsec
        if deadline == 0 {
            deadline = now &+ spinNanoseconds
        } else if now >= deadline {
            return false
        }
    }
}

/// How long a thread of `--jobs` spins before it sleeps.
let spinNanoseconds = 200_000

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
    /// the clients and the other thread the rest; with four or more it decodes none. The weight is where the two
    /// threads of `--jobs 2` wait least for each other (perf's samples in their spin-waits on the 114 MB capture:
    /// 0.22 left the other thread waiting, 0.30 the reader; Docs/performance.md).
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

    mutating func position(frame: UInt64, stage: MergeKey.Stage) { at = Position(frame: frame, stage: stage) }

    mutating func checkpoint(frame: UInt64) { handOn(.checkpoint(frame)) }

    mutating func finish(at ctx: PacketContext) { handOn(.end(ctx)) }

    mutating func housekeeping(_ kind: Housekeeping?) { at.stage = MergeKey.Stage(kind) }

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

/// A decoding shard of `--jobs`: the TCP layer's sink for its connections, fed from its inbox, rendering keyed
/// records for the merger.
final class DecodeShard: @unchecked Sendable {
    let inbox: ShardInbox
    var sink: TCPLayerSink
    let collector: ShardCollector
    /// The shard's copies of its open connections, by the number the reader's events give them.
    var conns: [Connection?] = []
    /// Their decoders, by the same numbers, not counted (the sink's table holds them until `closed`): stream bytes
    /// go straight to them, except when stream files are written (which need the connection). Through the
    /// connection's copy they were another object fetched for every packet (out of the cache with 500 connections),
    /// and an array of them was counted for every call.
    var decoders = UnsafeMutablePointer<Unmanaged<ConnectionDecoder>?>.allocate(capacity: 0)
    var decodersCapacity = 0

    deinit { decoders.deallocate() }

    init(options: PipelineOptions, collector: ShardCollector, spins: Bool) throws(CaptureError) {
        self.collector = collector
        inbox = ShardInbox(spins: spins)
        let emitter = Emitter(records: collector.renderer)
        emitter.keyed = collector
        sink = try TCPLayerSink(emitter: emitter, options: options)
    }

    /// Handles batches until the end of the capture, then hands over the last records and the shard's counts.
    func run() {
        var done: ShardBatch? = nil
        var ended = false
        while !ended {
            let batch = inbox.take(done: done)
            batch.bytes.withUnsafeBytes { bytes in
                for event in batch.events { ended = handle(event, bytes, in: batch) || ended }
            }
            done = batch
        }
        finish()
    }

    /// After the end of the capture: the last records and the shard's counts.
    func finish() {
        sink.emitter.records.finish()
        var summary = RunSummary()
        summary.diagnostics = sink.emitter.summaryCounts
        collector.finish(summary: summary)
    }

    @inline(__always)
    func data(_ slot: Int, _ dir: Direction, _ bytes: UnsafeRawBufferPointer, _ ctx: PacketContext, _ at: Position) {
        sink.position(frame: at.frame, stage: at.stage)
        if sink.streams == nil {
            decoders[slot]?._withUnsafeGuaranteedRef { $0.data(dir, bytes, at: ctx) }
            return
        }
        conns.withUnsafeBufferPointer { stored in
            Unmanaged.passUnretained(stored[slot]!)._withUnsafeGuaranteedRef { sink.data($0, dir, bytes, at: ctx) }
        }
    }

    /// A connection the reader opened, to be named `slot` by the events that follow.
    func opened(_ conn: Connection, slot: Int, _ ctx: PacketContext, _ at: Position) {
        sink.position(frame: at.frame, stage: at.stage)
        if slot >= conns.count { conns.append(contentsOf: repeatElement(nil, count: slot + 1 - conns.count)) }
        if slot >= decodersCapacity {
            let capacity = max(64, 2 * (slot + 1))
            let grown = UnsafeMutablePointer<Unmanaged<ConnectionDecoder>?>.allocate(capacity: capacity)
            grown.moveInitialize(from: decoders, count: decodersCapacity)
            (grown + decodersCapacity).initialize(repeating: nil, count: capacity - decodersCapacity)
            decoders.deallocate()
            decoders = grown
            decodersCapacity = capacity
        }
        conns[slot] = conn
        sink.opened(conn, at: ctx)
        decoders[slot] = conn.slot >= 0 ? sink.decoders[conn.slot].map { .passUnretained($0) } : nil
    }

    func diagnostic(_ diagnostic: Diagnostic, _ at: Position) {
        sink.position(frame: at.frame, stage: at.stage)
        sink.diagnostic(diagnostic)
    }

    /// Handles one event of `batch` (nil for the events the reader's own shard is handed one by one, which
    /// never are `opened` or `diagnostic`); true at the end of the capture.
    func handle(_ event: ShardEvent, _ bytes: UnsafeRawBufferPointer, in batch: ShardBatch?) -> Bool {
        switch event {
        case .begin(let origin):
            sink.begin(origin: origin)
        case .opened(let index, let slot, let ctx, let at):
            opened(batch!.opened[index], slot: slot, ctx, at)
        case .data(let slot, let dir, let range, let ctx, let at):
            data(slot, dir, UnsafeRawBufferPointer(rebasing: bytes[range]), ctx, at)
        case .dataInPlace(let slot, let dir, let bytes, let ctx, let at):
            data(slot, dir, bytes, ctx, at)
        case .gap(let slot, let dir, let length, let cause, let ctx, let at):
            sink.position(frame: at.frame, stage: at.stage)
            sink.gap(conns[slot]!, dir, length: length, cause: cause, at: ctx)
        case .closed(let slot, let reason, let ctx, let at, let counts):
            sink.position(frame: at.frame, stage: at.stage)
            let conn = conns[slot]!
            conns[slot] = nil
            decoders[slot] = nil
            conn.c2s.setCounts(delivered: counts.0, missing: counts.1)
            conn.s2c.setCounts(delivered: counts.2, missing: counts.3)
            sink.closed(conn, reason: reason, at: ctx)
        case .diagnostic(let index, let at):
            diagnostic(batch!.diagnostics[index], at)
        case .checkpoint(let frame):
            // Every frame before this one is complete in this shard's output.
            collector.handOver(watermark: MergeKey(frame: frame, stage: .start, order: 0, seq: 0))
        case .end(let ctx):
            sink.position(frame: ctx.frame, stage: .endSessions)
            sink.finish(at: ctx)
            collector.handOver(watermark: .end)
            return true
        }
        return false
    }
}

/// Decodes `files` with `jobs` decoding shards (everything above TCP, and rendering), the first of them on the
/// reader thread (packets, IP, TCP reassembly) and each other on a thread of its own, and writes the merged records — byte for byte the output of a single-threaded run —
/// to `out`. `makeRenderer` makes a shard's renderer writing into the buffer it is given; `array` frames the
/// records as one JSON array.
public func runSharded(
    files: [String], filter: String?, options: PipelineOptions, jobs: Int, array: Bool, out: OutputBuffer,
    makeRenderer: @escaping @Sendable (OutputBuffer) -> RecordSink
) throws(CaptureError) -> RunSummary {
    let channel = ShardChannel(shards: jobs, array: array, out: out)
    // Spinning before sleeping pays only when every thread has a core: the reader's and each other shard's.
    let spins = jobs <= sysconf(Int32(_SC_NPROCESSORS_ONLN))
    let source = try PacketSource(files: files, filter: filter)
    var shards: [DecodeShard] = []
    for shard in 0..<jobs {
        let buffer = OutputBuffer(fd: -1, threshold: 4 << 20)
        let collector = ShardCollector(renderer: makeRenderer(buffer), out: buffer, channel: channel, shard: shard)
        var own = options
        own.im = options.im?.isolatedCopy()
        shards.append(try DecodeShard(options: own, collector: collector, spins: spins))
    }
    final class Reader: @unchecked Sendable {
        let loop: PacketLoop
        let source: PacketSource
        var sink: DispatchSink
        init(_ l: PacketLoop, _ s: PacketSource, _ sink: DispatchSink) {
            loop = l
            source = s
            self.sink = sink
        }
        func run() {
            loop.drive(source, sink: &sink)
            sink.inline.finish()
        }
    }
    let reader = Reader(
        PacketLoop(options: options), source,
        DispatchSink(
            inline: shards[0], inboxes: shards.dropFirst().map(\.inbox), source: source,
            needsBytes: options.layer.reaches(.ws) || options.writeStreamsDirectory != nil))
    // The shards read stream bytes where they lie in the file, up to 8 batches of at most 1 MiB behind the reader:
    // its pages are kept that long (about 1.4 MiB of capture on the 114 MB one; a page given back sooner is read
    // again, and given back again with the next).
    source.keepRecords(bytes: 8 << 20)
    for shard in shards.dropFirst() {
        let thread = Thread { shard.run() }
        thread.stackSize = 8 << 20
        thread.start()
    }
    let readerThread = Thread { reader.run() }
    readerThread.stackSize = 8 << 20
    readerThread.start()
    channel.waitForEnd()
    // The records are all written only after every shard's end, which comes after the reader's last event.
    var summary = reader.loop.summary
    for s in channel.summaries { summary.diagnostics.merge(s!.diagnostics) { $0 + $1 } }
    return summary
}

/// Writes the shards' records in key order, as soon as no shard can still produce an earlier one: driven by the
/// threads handing over chunks (``ShardChannel``), one at a time, it writes what it can and returns when the next
/// record could still come from a shard that has not handed it over.
final class Merger {
    var current: [ShardChunk?]
    var position: [Int]
    let array: Bool
    let out: OutputBuffer
    var first = true
    var started = false
    /// Whether every record is written (and the output flushed).
    var done = false
    // Runs of records are written from the shards' blocks with writev, without copying (JSON Lines and text to a
    // file or pipe); each block is written out before it goes back to its shard.
    let gather: Bool
    var pieces: [iovec] = []
    var gathered = 0

    init(shards: Int, array: Bool, out: OutputBuffer) {
        current = Array(repeating: nil, count: shards)
        position = Array(repeating: 0, count: shards)
        self.array = array
        self.out = out
        gather = !array && out.writesDirectly
    }

    /// Writes what is ready; true once everything is written. Called with `channel`'s lock held, which it lets go
    /// of while it writes.
    func merge(_ channel: ShardChannel) -> Bool {
        if done { return true }
        if !started {
            started = true
            if array { out.append("[\n" as StaticString) }
        }
        let jobs = current.count
        while true {
            // Take the next chunk of every shard whose current one is used up.
            for s in 0..<jobs where current[s] == nil || position[s] == current[s]!.keys.count {
                if let finished = current[s] {
                    if !pieces.isEmpty {
                        out.writeGathered(&pieces)
                        gathered = 0
                    }
                    channel.spares[s].append(finished.bytes)
                }
                if !channel.queues[s].isEmpty {
                    current[s] = channel.queues[s].removeFirst()
                    position[s] = 0
                } else {
                    current[s] = nil
                }
            }
            // The smallest next record, if no shard without one could still produce something earlier.
            var best = -1
            for s in 0..<jobs {
                guard let chunk = current[s], position[s] < chunk.keys.count else { continue }
                if best < 0 || chunk.keys[position[s]] < current[best]!.keys[position[best]] { best = s }
            }
            if best < 0 {
                guard channel.summaries.allSatisfy({ $0 != nil }) && channel.queues.allSatisfy(\.isEmpty) else {
                    return false
                }
                break
            }
            let key = current[best]!.keys[position[best]]
            for s in 0..<jobs where s != best {
                let has = current[s].map { position[s] < $0.keys.count } ?? false
                if !has && channel.summaries[s] == nil && channel.watermarks[s] < key { return false }
                if !has && channel.summaries[s] != nil && !channel.queues[s].isEmpty { return false }
            }
            // Write out this shard's records while they stay the smallest (without the lock); without the array
            // framing, a run of them is one copy.
            channel.condition.unlock()
            write(from: best)
            channel.condition.lock()
        }
        if !pieces.isEmpty { out.writeGathered(&pieces) }
        if array { out.append(first ? "]\n" as StaticString : "\n]\n" as StaticString) }
        out.flush()
        done = true
        return true
    }

    /// Writes the records of shard `best` from its next one on, while they stay the smallest.
    func write(from best: Int) {
        let chunk = current[best]!
        var i = position[best]
        let runStart = i == 0 ? 0 : chunk.ends[i - 1]
        repeat {
            if array {
                let start = i == 0 ? 0 : chunk.ends[i - 1]
                var end = chunk.ends[i]
                if chunk.bytes[end - 1] == 0x0A { end -= 1 }
                if !first { out.append(",\n" as StaticString) }
                first = false
                out.append(UnsafeRawBufferPointer(start: chunk.bytes.base + start, count: end - start))
                out.endRecord()
            }
            i += 1
        } while i < chunk.keys.count && isSmallest(chunk.keys[i], besides: best, current, position)
        if gather {
            let length = chunk.ends[i - 1] - runStart
            pieces.append(iovec(iov_base: UnsafeMutableRawPointer(chunk.bytes.base + runStart), iov_len: length))
            gathered += length
            if pieces.count >= 1024 || gathered >= 1 << 20 {
                out.writeGathered(&pieces)
                gathered = 0
            }
        } else if !array {
            out.append(UnsafeRawBufferPointer(start: chunk.bytes.base + runStart, count: chunk.ends[i - 1] - runStart))
            out.endRecord()
        }
        position[best] = i
    }
}

/// Whether `key` is below the next record of every other shard that has one. (Shards without a record in hand
/// are checked by the caller's next round.)
func isSmallest(_ key: MergeKey, besides best: Int, _ current: [ShardChunk?], _ position: [Int]) -> Bool {
    for s in 0..<current.count where s != best {
        guard let chunk = current[s], position[s] < chunk.keys.count else { return false }
        if chunk.keys[position[s]] < key { return false }
    }
    return true
}
