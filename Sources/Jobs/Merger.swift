import Foundation
import Pipeline
import Records
import Rendering

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes the shards' records in key order, as soon as no shard can still produce an earlier one: driven by the
/// threads handing over chunks (``ShardChannel``), one at a time, it writes what it can and returns when the next
/// record could still come from a shard that has not handed it over.
final class Merger {
    /// Where the merged records go: rendered bytes to an output, framed as the renderer frames them; or owned
    /// records to one sink.
    enum Target {
        case bytes(OutputBuffer, RecordFraming)
        case records(OwnedRecordSink)
    }

    var current: [ShardChunk?]
    var position: [Int]
    var framing: RecordFraming
    let out: OutputBuffer
    let records: OwnedRecordSink?
    var begun = false
    var started = false
    /// Whether every record is written (and the output flushed).
    var done = false
    // Runs of records are written from the shards' blocks with writev, without copying (JSON Lines and text to a
    // file or pipe); each block is written out before it goes back to its shard.
    let gather: Bool
    var pieces: [iovec] = []
    var gathered = 0

    init(shards: Int, target: Target) {
        current = Array(repeating: nil, count: shards)
        position = Array(repeating: 0, count: shards)
        switch target {
        case .bytes(let out, let framing):
            self.out = out
            self.framing = framing
            records = nil
        case .records(let sink):
            out = OutputBuffer(fd: -1, threshold: 0)  // not written to: the records go to `sink`
            framing = RecordFraming(array: false)
            records = sink
        }
        gather = records == nil && !framing.array && out.writesDirectly
    }

    /// Writes what is ready; true once everything is written. Called with `channel`'s lock held, which it lets go
    /// of while it writes.
    func merge(_ channel: ShardChannel) -> Bool {
        if done { return true }
        if !started {
            started = true
            framing.start(out)
        }
        let jobs = current.count
        while true {
            // Take the next chunk of every shard whose current one is used up (past chunks without a record: a
            // filter can leave a shard's whole chunk empty, and a shard that finished hands over no more).
            for s in 0..<jobs {
                while current[s] == nil || position[s] == current[s]!.keys.count {
                    if let finished = current[s], let bytes = finished.bytes {
                        if !pieces.isEmpty {
                            out.writeGathered(&pieces)
                            gathered = 0
                        }
                        channel.spares[s].append(bytes)
                    }
                    guard !channel.queues[s].isEmpty else {
                        current[s] = nil
                        break
                    }
                    current[s] = channel.queues[s].removeFirst()
                    position[s] = 0
                    // Records-out: every shard learns the capture's start before its first record.
                    if let records, !begun, let origin = current[s]!.origin {
                        begun = true
                        records.begin(origin: origin)
                    }
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
        if let records {
            records.finish()
        } else {
            framing.end(out)
            out.flush()
        }
        done = true
        return true
    }

    /// Writes the records of shard `best` from its next one on, while they stay the smallest.
    func write(from best: Int) {
        let chunk = current[best]!
        var i = position[best]
        if let records {
            repeat {
                records.emit(chunk.records[i])
                i += 1
            } while i < chunk.keys.count && isSmallest(chunk.keys[i], besides: best, current, position)
            position[best] = i
            return
        }
        let runStart = i == 0 ? 0 : chunk.ends[i - 1]
        repeat {
            if framing.array {
                let start = i == 0 ? 0 : chunk.ends[i - 1]
                var end = chunk.ends[i]
                if chunk.bytes[end - 1] == 0x0A { end -= 1 }
                framing.beforeRecord(out)
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
        } else if !framing.array {
            out.append(UnsafeRawBufferPointer(start: chunk.bytes.base + runStart, count: chunk.ends[i - 1] - runStart))
            out.endRecord()
        }
        position[best] = i
    }
}

/// Whether `key` is below the next record of every other shard that has one. (Shards without a record in hand
/// are checked by the caller's next round.)
func isSmallest(_ key: TimelineKey, besides best: Int, _ current: [ShardChunk?], _ position: [Int]) -> Bool {
    for s in 0..<current.count where s != best {
        guard let chunk = current[s], position[s] < chunk.keys.count else { return false }
        if chunk.keys[position[s]] < key { return false }
    }
    return true
}
