import Capture
import ImscopeCore
import Pipeline
import Records
import TCPReassembly

/// A decoding shard of `--jobs`: the TCP layer's sink for its connections, fed from its inbox, rendering keyed
/// records (or owned ones) for the merger.
final class DecodeShard: @unchecked Sendable {
    let inbox: ShardInbox
    var sink: TCPLayerSink
    let collector: ShardCollector
    /// The shard's copies of its open connections, by the number the reader's events give them.
    var conns: [Connection?] = []
    /// Their decoders, by the same numbers, not counted (the sink's table holds them until `closed`): stream bytes
    /// go straight to them, except when stream files are written (which need the connection); one object fewer
    /// fetched per packet (Docs/performance.md).
    var decoders = UnsafeMutablePointer<Unmanaged<ConnectionDecoder>?>.allocate(capacity: 0)
    var decodersCapacity = 0

    deinit { decoders.deallocate() }

    init(options: PipelineOptions, collector: ShardCollector, spins: Bool) throws(CaptureError) {
        self.collector = collector
        inbox = ShardInbox(spins: spins)
        sink = try TCPLayerSink(records: collector, options: options)
        collector.position = sink.emitter
        sink.emitter.keysEveryRecord = true
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
            if ctx.frame < at.frame {
                sink.emitter.placed(at: ctx.frame) {
                    decoders[slot]?._withUnsafeGuaranteedRef { $0.data(dir, bytes, at: ctx) }
                }
            } else {
                decoders[slot]?._withUnsafeGuaranteedRef { $0.data(dir, bytes, at: ctx) }
            }
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
        case .holding(let slot, let frame):
            sink.holding(conns[slot]!, from: frame)
        case .checkpoint(let ctx):
            // What waited for capture time to pass goes first (as on one thread, at the same packet); then every
            // frame before this one is complete in this shard's output.
            sink.checkpoint(at: ctx)
            collector.handOver(watermark: TimelineKey(frame: ctx.frame, stage: .start, order: 0, seq: 0))
        case .end(let ctx):
            sink.position(frame: ctx.frame, stage: .endSessions)
            sink.finish(at: ctx)
            collector.handOver(watermark: .end)
            return true
        }
        return false
    }
}
