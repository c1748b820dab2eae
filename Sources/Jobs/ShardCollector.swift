import Foundation
import IMProtocol
import ImscopeCore
import Pipeline
import Records
import Rendering
import SocketIO

/// A shard's output on its way to the merger: rendered records and, for each, its key and where it ends; or owned
/// records and their keys.
final class ShardChunk: @unchecked Sendable {
    var bytes: ByteBlock! = nil
    var keys: [TimelineKey] = []
    var ends: [Int] = []
    /// Records-out: the records themselves, and the capture's first packet time when the shard learnt it since its
    /// last chunk.
    var records: [OwnedRecord] = []
    var origin: Timestamp? = nil
    /// Every record of this shard with a key up to here is in this chunk or an earlier one.
    var watermark = TimelineKey.watermark(frame: 0, stage: .start)
    /// Whether the watermark stands where it does because records wait for bytes the reader holds (see
    /// ``ShardChannel/put(_:shard:)``).
    var held = false
}

/// The chunks of all shards, handed from the worker threads to the merger under one lock.
///
/// There is no merger thread: the thread that hands over a chunk (or finishes its shard) merges whatever that makes
/// ready, one thread at a time (`merging`); a third thread on two cores made the others wait (Docs/performance.md).
final class ShardChannel: @unchecked Sendable {
    let condition = NSCondition()
    var queues: [[ShardChunk]]
    var watermarks: [TimelineKey]
    /// Whether each shard's watermark is held back by a hold (bytes the reader has not placed yet).
    var held: [Bool]
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

    init(shards: Int, target: Merger.Target) {
        queues = Array(repeating: [], count: shards)
        watermarks = Array(repeating: TimelineKey.watermark(frame: 0, stage: .start), count: shards)
        held = Array(repeating: false, count: shards)
        summaries = Array(repeating: nil, count: shards)
        spares = Array(repeating: [], count: shards)
        merger = Merger(shards: shards, target: target)
    }

    /// Queues `chunk` and merges what it makes ready; returns a spare block for the shard's next one, if there is
    /// one. Waits while the shard is `maxQueued` chunks ahead of what could be written (its records wait for
    /// another shard's, whose hand-over will merge them) — unless a shard's records wait for a hold: that one moves
    /// on only as the reader reads on, which waiting here could stop (the reader waits for this shard's inbox). The
    /// reassembler's `maxHoldSpan` bounds how far that lets chunks pile up.
    func put(_ chunk: ShardChunk, shard: Int) -> ByteBlock? {
        condition.lock()
        while queues[shard].count >= maxQueued && !held.contains(true) { condition.wait() }
        queues[shard].append(chunk)
        watermarks[shard] = chunk.watermark
        held[shard] = chunk.held
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

/// A shard's records sink: renders each record (or makes it owned) and keeps it with its ``TimelineKey``, worked out
/// from where the shard's pipeline is (``Emitter``'s frame, stage and order), and hands them over in chunks.
final class ShardCollector: RecordSink {
    /// The renderer and the buffer it writes into; nil for records-out (the records are kept, owned).
    let renderer: RecordSink?
    let out: OutputBuffer?
    let channel: ShardChannel
    let shard: Int
    /// Where the shard's pipeline is, and the key of each record it hands on; set once the shard's sink is made.
    var position: Emitter! = nil
    var spare: ByteBlock? = nil
    /// The keys of the records made since the last hand-over, and where each ends (rendered), or the records
    /// (owned): kept here rather than in the chunk (one object fewer per record), with room for as many as the last
    /// chunk had (Docs/performance.md).
    var keys: [TimelineKey] = []
    var ends: [Int] = []
    var owned: [OwnedRecord] = []
    /// The capture's first packet time, until it goes out with a chunk (records-out).
    var origin: Timestamp? = nil

    init(renderer: RecordSink?, out: OutputBuffer?, channel: ShardChannel, shard: Int) {
        self.renderer = renderer
        self.out = out
        self.channel = channel
        self.shard = shard
    }

    /// The key of the record being handed over (the emitter keys every record of a shard).
    @inline(__always)
    func nextKey(conn: Int?) -> TimelineKey { position.key }

    func begin(origin: Timestamp) {
        if let renderer { renderer.begin(origin: origin) } else { self.origin = origin }
    }

    func emit(_ record: Record) {
        let key = nextKey(conn: record.conn)
        if let renderer {
            let start = out!.count
            renderer.emit(record)
            rendered(key, from: start)
        } else {
            keys.append(key)
            owned.append(OwnedRecord(record))
        }
    }

    /// Keeps the key of a record the renderer wrote from `start` on; one it wrote nothing for (a filter's, or a
    /// folded ping's) has no place in the output, and in a JSON array would stand as an empty element.
    @inline(__always)
    func rendered(_ key: TimelineKey, from start: Int) {
        let end = out!.count
        guard end != start else { return }
        keys.append(key)
        ends.append(end)
    }

    func emitSIO(
        _ place: RecordPlace, _ transport: Transport, sid: String?, version: Int, message: SocketIOMessage,
        im: IMMessage?
    ) {
        let key = nextKey(conn: place.conn)
        if let renderer {
            let start = out!.count
            renderer.emitSIO(place, transport, sid: sid, version: version, message: message, im: im)
            rendered(key, from: start)
        } else {
            keys.append(key)
            let sio = SIORecord(transport: transport, sid: sid, version: version, message: message, im: im)
            owned.append(OwnedRecord(Record(place, .sio(sio))))
        }
    }

    func finish() { renderer?.finish() }

    /// The shard is done: its counts, for the run's summary.
    func finish(summary: RunSummary) { channel.finish(shard: shard, summary: summary) }

    /// Hands over what was made, promising no later record keys at or below `watermark`.
    func handOver(watermark: TimelineKey) {
        let chunk = ShardChunk()
        // Records placed at a held frame may still come.
        if let from = position.heldFrom, TimelineKey.before(frame: from) < watermark {
            chunk.watermark = TimelineKey.before(frame: from)
            chunk.held = true
        } else {
            chunk.watermark = watermark
        }
        let count = keys.count
        swap(&chunk.keys, &keys)
        keys.reserveCapacity(count)
        if let out {
            let block = spare ?? ByteBlock(capacity: out.capacity)
            out.exchange(block)
            chunk.bytes = block
            swap(&chunk.ends, &ends)
            ends.reserveCapacity(count)
        } else {
            swap(&chunk.records, &owned)
            owned.reserveCapacity(count)
            chunk.origin = origin
            origin = nil
        }
        spare = channel.put(chunk, shard: shard)
    }
}
