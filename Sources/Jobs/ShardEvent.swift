import CByteScan
import Capture
import Foundation
import ImscopeCore
import Pipeline
import TCPReassembly

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the reader thread hands a decoding shard: the TCP layer's events for the shard's connections, in capture
/// order, each with its ``Position``. `opened` hands the shard its own copy of the connection
/// (``Connection/detachedCopy()``) and the number the later events name it by: the events hold no reference the
/// reader and the shard would both count (reference counts touched from two cores move their cache line between
/// them for every event). The bytes of `data` are a range of the batch's buffer.
///
/// Plain values, so a batch of them is copied and freed without a look at each: the connection an `opened` hands
/// over and the diagnostic of `diagnostic` wait in the batch's lists (`index` is their place there).
enum ShardEvent {
    case begin(Timestamp)
    case opened(index: Int, slot: Int, PacketContext, Position)
    case data(slot: Int, Direction, Range<Int>, PacketContext, Position)
    /// Stream bytes that lie where the capture file was read in place, valid for the whole run: not copied.
    case dataInPlace(slot: Int, Direction, UnsafeRawBufferPointer, PacketContext, Position)
    case gap(slot: Int, Direction, UInt64, GapCause, PacketContext, Position)
    case closed(slot: Int, CloseReason, PacketContext, Position, counts: (UInt64, UInt64, UInt64, UInt64))
    case diagnostic(index: Int, Position)
    /// The connection holds bytes back from this frame on (``TCPStreamSink/holding(_:from:)``).
    case holding(slot: Int, UInt64?)
    /// Every packet up to this one is handled.
    case checkpoint(PacketContext)
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
    /// reader, and absorb the threads' unevenness (Docs/performance.md).
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
