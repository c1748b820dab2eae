import ImscopeCore
import Pipeline
import Records
import Rendering
import Testing

@testable import Jobs

/// The merger of `--jobs` on its own: shards hand over chunks of rendered records with their merge keys, and the
/// merged output is in key order, written only once no shard can still produce an earlier record.
@Suite struct MergerTests {
    /// A chunk of records whose bytes are their frame numbers, one per line.
    static func chunk(frames: [UInt64], watermark: UInt64) -> ShardChunk {
        let chunk = ShardChunk()
        let text = frames.map { "\($0)\n" }.joined()
        let block = ByteBlock(capacity: max(text.utf8.count, 1))
        let out = OutputBuffer(fd: -1)
        out.append(text)
        out.exchange(block)
        chunk.bytes = block
        var end = 0
        for frame in frames {
            chunk.keys.append(TimelineKey(frame: frame, stage: .packet, order: 0, seq: frame))
            end += "\(frame)\n".utf8.count
            chunk.ends.append(end)
        }
        chunk.watermark = TimelineKey(frame: watermark, stage: .start, order: 0, seq: 0)
        return chunk
    }

    @Test func recordsComeOutInKeyOrderOnceNoShardCanPrecedeThem() {
        let out = OutputBuffer(fd: -1)
        let channel = ShardChannel(shards: 2, target: .bytes(out, RecordFraming(array: false)))
        _ = channel.put(Self.chunk(frames: [1, 3, 5], watermark: 6), shard: 0)
        // Shard 1 has promised nothing yet: its first record could precede frame 1.
        #expect(out.bytes.isEmpty)
        _ = channel.put(Self.chunk(frames: [2], watermark: 4), shard: 1)
        // Frames 1-3 are settled; 5 could still be preceded by shard 1's next record (it promised up to frame 4).
        #expect(String(decoding: out.bytes, as: UTF8.self) == "1\n2\n3\n")
        _ = channel.put(Self.chunk(frames: [4, 6], watermark: 7), shard: 1)
        channel.finish(shard: 0, summary: RunSummary())
        channel.finish(shard: 1, summary: RunSummary())
        channel.waitForEnd()
        #expect(String(decoding: out.bytes, as: UTF8.self) == "1\n2\n3\n4\n5\n6\n")
    }

    /// A filter can leave whole chunks without a record; a shard that finished after handing over several of them
    /// must not leave the merger waiting for a hand-over that never comes.
    @Test func chunksWithoutRecordsAreSkipped() {
        let out = OutputBuffer(fd: -1)
        let channel = ShardChannel(shards: 2, target: .bytes(out, RecordFraming(array: false)))
        _ = channel.put(Self.chunk(frames: [1], watermark: 2), shard: 0)
        _ = channel.put(Self.chunk(frames: [], watermark: 4), shard: 0)
        _ = channel.put(Self.chunk(frames: [], watermark: 6), shard: 0)
        _ = channel.put(Self.chunk(frames: [7], watermark: 8), shard: 0)
        channel.finish(shard: 0, summary: RunSummary())
        _ = channel.put(Self.chunk(frames: [3], watermark: 9), shard: 1)
        channel.finish(shard: 1, summary: RunSummary())
        channel.waitForEnd()
        #expect(String(decoding: out.bytes, as: UTF8.self) == "1\n3\n7\n")
    }

    /// A shard whose records wait for a hold (bytes the reader has not placed yet) holds the merge back; the others
    /// may queue past their usual bound meanwhile, since the hold moves on only as the reader reads on.
    @Test func aHeldShardLetsTheOthersQueueOn() {
        let out = OutputBuffer(fd: -1)
        let channel = ShardChannel(shards: 2, target: .bytes(out, RecordFraming(array: false)))
        let held = Self.chunk(frames: [], watermark: 2)
        held.held = true
        _ = channel.put(held, shard: 1)
        for frame in 3...UInt64(3 + channel.maxQueued) {
            _ = channel.put(Self.chunk(frames: [frame], watermark: frame + 1), shard: 0)  // would wait without the hold
        }
        #expect(out.bytes.isEmpty)
        _ = channel.put(Self.chunk(frames: [2], watermark: 100), shard: 1)
        channel.finish(shard: 0, summary: RunSummary())
        channel.finish(shard: 1, summary: RunSummary())
        channel.waitForEnd()
        #expect(String(decoding: out.bytes, as: UTF8.self).hasPrefix("2\n3\n4\n"))
    }

    @Test func anArrayIsFramedAsTheRendererFramesIt() {
        let out = OutputBuffer(fd: -1)
        let channel = ShardChannel(shards: 2, target: .bytes(out, RecordFraming(array: true)))
        _ = channel.put(Self.chunk(frames: [2], watermark: 3), shard: 0)
        _ = channel.put(Self.chunk(frames: [1, 3], watermark: 4), shard: 1)
        channel.finish(shard: 0, summary: RunSummary())
        channel.finish(shard: 1, summary: RunSummary())
        channel.waitForEnd()
        #expect(String(decoding: out.bytes, as: UTF8.self) == "[\n1,\n2,\n3\n]\n")
    }

    @Test func noRecordsMakeAnEmptyArray() {
        let out = OutputBuffer(fd: -1)
        let channel = ShardChannel(shards: 3, target: .bytes(out, RecordFraming(array: true)))
        for shard in 0..<3 { channel.finish(shard: shard, summary: RunSummary()) }
        channel.waitForEnd()
        #expect(String(decoding: out.bytes, as: UTF8.self) == "[\n]\n")
    }

    @Test func keysOrderByFrameThenStageThenOrderThenSequence() {
        let a = TimelineKey(frame: 5, stage: .packet, order: 9, seq: 9)
        #expect(a < TimelineKey(frame: 6, stage: .start, order: 0, seq: 0))
        #expect(a < TimelineKey(frame: 5, stage: .afterPacket, order: 0, seq: 0))
        #expect(a < TimelineKey(frame: 5, stage: .packet, order: 10, seq: 0))
        #expect(a < TimelineKey(frame: 5, stage: .packet, order: 9, seq: 10))
        #expect(!(a < a))
    }
}
