import ImscopeCore

/// Reassembles fragmented IPv4 and IPv6 datagrams that carry TCP, within fixed limits.
///
/// Fragments are kept per (source, destination, identification, protocol) until the datagram is whole, its
/// time runs out (capture time), or the table is full (the oldest is dropped). Overlapping fragments: the bytes
/// that arrived first are kept. A completed datagram is handed back as a view of an internal buffer, valid until
/// the next call.
public final class IPDefragmenter {
    public struct Limits: Sendable {
        /// Datagrams under reassembly at once.
        public var maxDatagrams: Int = 1024
        /// Capture-time seconds a datagram may wait for its missing fragments.
        public var timeoutSeconds: Int64 = 30
        public init() {}
    }

    public struct Key: Hashable {
        var src: IPAddress
        var dst: IPAddress
        var id: UInt32
        var proto: UInt8
    }

    public enum AddResult {
        case buffered
        case complete(UnsafeRawBufferPointer)
        case problem(DiagnosticKind, String)
    }

    final class Entry {
        var bytes = [UInt8](repeating: 0, count: 0)
        /// Received byte ranges, sorted, merged.
        var ranges: [Range<Int>] = []
        var total: Int? = nil
        var firstSeen: Timestamp
        var broken = false
        init(firstSeen: Timestamp) { self.firstSeen = firstSeen }

        func insert(_ r: Range<Int>) {
            ranges.append(r)
            ranges.sort { $0.lowerBound < $1.lowerBound }
            var merged: [Range<Int>] = []
            for r in ranges {
                if let last = merged.last, r.lowerBound <= last.upperBound {
                    merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
                } else {
                    merged.append(r)
                }
            }
            ranges = merged
        }
    }

    public let limits: Limits
    var entries: [Key: Entry] = [:]
    let scratch: UnsafeMutableRawBufferPointer

    public init(limits: Limits = .init()) {
        self.limits = limits
        scratch = .allocate(byteCount: 65_536 + 8, alignment: 8)
    }

    deinit { scratch.deallocate() }

    /// Datagrams waiting for fragments.
    public var pending: Int { entries.count }

    /// Adds one fragment of `wireCount` payload bytes at `offset`; `bytes` is the part the capture recorded.
    /// A fragment cut by the snaplen makes its datagram impossible to complete; that is reported when the
    /// datagram's other fragments are all in.

    func add(key: Key, offset: Int, wireCount: Int, more: Bool, bytes: UnsafeRawBufferPointer, ts: Timestamp)
        -> AddResult
    {
        let end = offset + wireCount
        guard end <= 65_535 else { return .problem(.ipMalformed, "IP fragment ends past 65535 bytes") }
        var evicted = false
        let entry: Entry
        if let existing = entries[key] {
            entry = existing
        } else {
            if entries.count >= limits.maxDatagrams,
                let oldest = entries.min(by: { $0.value.firstSeen < $1.value.firstSeen })
            {
                entries[oldest.key] = nil
                evicted = true
            }
            entry = Entry(firstSeen: ts)
            entries[key] = entry
        }
        if bytes.count < wireCount { entry.broken = true }
        if entry.bytes.count < end { entry.bytes.append(contentsOf: repeatElement(0, count: end - entry.bytes.count)) }
        // First arrival wins: copy only the parts not yet received.
        let capturedEnd = offset + bytes.count
        var cursor = offset
        for r in entry.ranges where r.upperBound > cursor && r.lowerBound < capturedEnd {
            if r.lowerBound > cursor { copy(bytes, from: cursor, to: r.lowerBound, offset: offset, into: entry) }
            cursor = max(cursor, r.upperBound)
        }
        if cursor < capturedEnd { copy(bytes, from: cursor, to: capturedEnd, offset: offset, into: entry) }
        if end > offset { entry.insert(offset..<end) }
        if !more { entry.total = end }
        if evicted {
            return .problem(
                .ipFragmentLimit, "more than \(limits.maxDatagrams) fragmented datagrams at once; dropped the oldest")
        }
        guard let total = entry.total, entry.ranges.count == 1, entry.ranges[0] == 0..<total else { return .buffered }
        entries[key] = nil
        if entry.broken {
            return .problem(.ipFragmentIncomplete, "a fragment of this datagram was cut by the snapshot length")
        }
        entry.bytes.withUnsafeBytes { scratch.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<total])) }
        return .complete(UnsafeRawBufferPointer(rebasing: scratch[0..<total]))
    }

    private func copy(_ bytes: UnsafeRawBufferPointer, from: Int, to: Int, offset: Int, into entry: Entry) {
        entry.bytes.withUnsafeMutableBytes { dst in
            dst.baseAddress!.advanced(by: from).copyMemory(
                from: bytes.baseAddress!.advanced(by: from - offset), byteCount: to - from)
        }
    }

    /// Drops datagrams older than the timeout at `now` (or all of them when `now` is nil, at the end of the
    /// capture) and returns one message per dropped datagram.
    public func expire(now: Timestamp?) -> [String] {
        var messages: [String] = []
        // Oldest first (then by id), so the output does not depend on the table's hash order.
        let ordered = entries.sorted {
            ($0.value.firstSeen.nanoseconds, $0.key.id) < ($1.value.firstSeen.nanoseconds, $1.key.id)
        }
        for (key, entry) in ordered {
            if let now, now.nanoseconds - entry.firstSeen.nanoseconds < limits.timeoutSeconds * 1_000_000_000 {
                continue
            }
            entries[key] = nil
            let have = entry.ranges.reduce(0) { $0 + $1.count }
            messages.append(
                "datagram \(key.src.description) -> \(key.dst.description) id \(key.id): \(have) bytes of fragments, never completed"
                    + (now == nil ? " by the end of the capture" : " within \(limits.timeoutSeconds) s"))
        }
        return messages
    }
}
