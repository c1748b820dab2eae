/// Out-of-order bytes waiting for the hole before them: `bytes` were captured, `missingTail` more after them
/// were cut by the snaplen; `ctx` is the packet that brought them (their place in the timeline if the hole before
/// them is declared missing).
struct PendingSegment {
    var start: UInt64
    var bytes: [UInt8]
    var missingTail: Int
    var ctx: PacketContext
    var end: UInt64 { start + UInt64(bytes.count + missingTail) }
    /// The sequence space it holds, which is what the buffer limits count.
    var span: Int { bytes.count + missingTail }
}

/// The held segments of one direction: sorted by start, never overlapping.
///
/// Taking from the front is O(1) (a moving head, compacted now and then) and finding where a segment goes is a
/// binary search, so holding and draining n segments costs O(n log n) plus the copies, not O(n²).
struct HeldSegments {
    private var items: [PendingSegment] = []
    private var head = 0

    var isEmpty: Bool { head == items.count }
    var count: Int { items.count - head }
    var first: PendingSegment? { isEmpty ? nil : items[head] }
    var last: PendingSegment? { isEmpty ? nil : items[items.count - 1] }

    /// Position (counted from the front) of the first segment that ends after `offset`.
    func firstIndex(endingAfter offset: UInt64) -> Int {
        var lo = head
        var hi = items.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if items[mid].end > offset { hi = mid } else { lo = mid + 1 }
        }
        return lo - head
    }

    subscript(position: Int) -> PendingSegment { items[head + position] }

    /// The earliest frame among the held segments (a scan: called when the earliest one leaves).
    var earliestFrame: UInt64? { items[head...].lazy.map(\.ctx.frame).min() }

    /// Moves every held segment `delta` bytes further into the stream (its start moved back).
    mutating func shift(by delta: UInt64) {
        for i in head..<items.count { items[i].start += delta }
    }

    mutating func insert(_ segment: PendingSegment, at position: Int) {
        items.insert(segment, at: head + position)
    }

    mutating func popFirst() -> PendingSegment? {
        guard !isEmpty else { return nil }
        let segment = items[head]
        items[head].bytes = []  // release the storage now
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: items.capacity <= 64)
            head = 0
        } else if head >= 64 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return segment
    }
}
