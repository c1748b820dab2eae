import Capture
import Foundation
import ImscopeCore

/// Where a record belongs in the output of a run split between threads (`--jobs N`).
///
/// Every shard reads every packet and tracks every TCP connection (so connection numbers and closes are the same
/// everywhere), but decodes and emits only the connections whose client address falls in its shard. Records are
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

/// Receives records with their merge keys.
protocol KeyedRecordSink: AnyObject {
    func emit(_ record: Record, key: MergeKey)
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
final class ShardChannel: @unchecked Sendable {
    let condition = NSCondition()
    var queues: [[ShardChunk]]
    var watermarks: [MergeKey]
    var summaries: [RunSummary?]
    let maxQueued = 16
    /// Blocks the merger has written out, for the shards to render into again (fresh blocks of this size would
    /// come from mmap and fault in every page).
    var spares: [ByteBlock] = []

    init(shards: Int) {
        queues = Array(repeating: [], count: shards)
        watermarks = Array(repeating: MergeKey.watermark(frame: 0, stage: .start), count: shards)
        summaries = Array(repeating: nil, count: shards)
    }

    /// Queues `chunk`; returns a spare block for the shard's next one, if there is one.
    func put(_ chunk: ShardChunk, shard: Int) -> ByteBlock? {
        condition.lock()
        while queues[shard].count >= maxQueued { condition.wait() }
        queues[shard].append(chunk)
        watermarks[shard] = chunk.watermark
        let spare = spares.popLast()
        condition.broadcast()
        condition.unlock()
        return spare
    }
}

/// Renders a shard's records into memory, with their keys, and hands them over in chunks.
final class ShardCollector: KeyedRecordSink {
    let renderer: RecordSink
    let out: OutputBuffer
    let channel: ShardChannel
    let shard: Int
    var chunk = ShardChunk()
    var spare: ByteBlock? = nil

    init(renderer: RecordSink, out: OutputBuffer, channel: ShardChannel, shard: Int) {
        self.renderer = renderer
        self.out = out
        self.channel = channel
        self.shard = shard
    }

    func emit(_ record: Record, key: MergeKey) {
        renderer.emit(record)
        chunk.keys.append(key)
        chunk.ends.append(out.count)
    }

    /// Hands over what was rendered, promising no later record keys at or below `watermark`.
    func handOver(watermark: MergeKey) {
        let block = spare ?? ByteBlock(capacity: out.capacity)
        out.exchange(block)
        chunk.bytes = block
        chunk.watermark = watermark
        spare = channel.put(chunk, shard: shard)
        chunk = ShardChunk()
    }
}

/// Decodes `files` with `jobs` threads and writes the merged records — byte for byte the output of a
/// single-threaded run — to `out`. `makeRenderer` makes a shard's renderer writing into the buffer it is given;
/// `array` frames the records as one JSON array.
public func runSharded(
    files: [String], filter: String?, options: PipelineOptions, jobs: Int, array: Bool, out: OutputBuffer,
    makeRenderer: @escaping @Sendable (OutputBuffer) -> RecordSink
) throws(CaptureError) -> RunSummary {
    let channel = ShardChannel(shards: jobs)
    // Open every shard's input first, so a bad file is reported before any thread starts.
    var sources: [PacketSource] = []
    for _ in 0..<jobs { sources.append(try PacketSource(files: files, filter: filter)) }
    var pipelines: [Pipeline] = []
    for shard in 0..<jobs {
        var o = options
        o.shard = (shard, jobs)
        let buffer = OutputBuffer(fd: -1)
        let collector = ShardCollector(renderer: makeRenderer(buffer), out: buffer, channel: channel, shard: shard)
        pipelines.append(try Pipeline(options: o, records: collector.renderer, keyed: collector))
    }
    final class Box: @unchecked Sendable {
        let pipeline: Pipeline
        let source: PacketSource
        init(_ p: Pipeline, _ s: PacketSource) {
            pipeline = p
            source = s
        }
    }
    for shard in 0..<jobs {
        let box = Box(pipelines[shard], sources[shard])
        let thread = Thread {
            box.pipeline.run(box.source)
            channel.condition.lock()
            channel.summaries[shard] = box.pipeline.summary
            channel.condition.broadcast()
            channel.condition.unlock()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
    merge(channel, jobs: jobs, array: array, out: out)
    var summary = channel.summaries[0]!
    for s in channel.summaries.dropFirst() {
        summary.diagnostics.merge(s!.diagnostics) { $0 + $1 }
    }
    return summary
}

/// Writes the shards' records in key order, as soon as no shard can still produce an earlier one.
func merge(_ channel: ShardChannel, jobs: Int, array: Bool, out: OutputBuffer) {
    var current: [ShardChunk?] = Array(repeating: nil, count: jobs)
    var position = Array(repeating: 0, count: jobs)
    var first = true
    if array { out.append("[\n" as StaticString) }
    channel.condition.lock()
    while true {
        // Take the next chunk of every shard whose current one is used up.
        for s in 0..<jobs where current[s] == nil || position[s] == current[s]!.keys.count {
            if let done = current[s] { channel.spares.append(done.bytes) }
            if !channel.queues[s].isEmpty {
                current[s] = channel.queues[s].removeFirst()
                position[s] = 0
                channel.condition.broadcast()
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
        let allDone = channel.summaries.allSatisfy { $0 != nil } && channel.queues.allSatisfy { $0.isEmpty }
        if best < 0 {
            if allDone { break }
            channel.condition.wait()
            continue
        }
        let key = current[best]!.keys[position[best]]
        var safe = true
        for s in 0..<jobs where s != best {
            let has = current[s].map { position[s] < $0.keys.count } ?? false
            if !has && channel.summaries[s] == nil && channel.watermarks[s] < key { safe = false }
            if !has && channel.summaries[s] != nil && !channel.queues[s].isEmpty { safe = false }
        }
        if !safe {
            channel.condition.wait()
            continue
        }
        // Write out this shard's records while they stay the smallest (without the lock); without the array
        // framing, a run of them is one copy.
        channel.condition.unlock()
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
        if !array {
            out.append(UnsafeRawBufferPointer(start: chunk.bytes.base + runStart, count: chunk.ends[i - 1] - runStart))
            out.endRecord()
        }
        position[best] = i
        channel.condition.lock()
    }
    channel.condition.unlock()
    if array { out.append(first ? "]\n" as StaticString : "\n]\n" as StaticString) }
    out.flush()
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
