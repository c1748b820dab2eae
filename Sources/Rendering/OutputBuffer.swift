#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A buffered writer to a file descriptor: records are formatted straight into one reusable block of memory,
/// written out in large blocks (or per line when `lineBuffered`, for a terminal or a live capture). With `fd` -1
/// nothing is written and the buffer keeps everything (for tests and in-memory use).
///
/// The block is raw memory rather than a `[UInt8]`: appends are a capacity check and a `memcpy`, with no
/// uniqueness check or generic `append(contentsOf:)` per call, costly at this many calls (Docs/performance.md).
public final class OutputBuffer {
    /// The start of the block; `count` bytes of it are used, `capacity` allocated.
    public private(set) var base: UnsafeMutablePointer<UInt8>
    public private(set) var count = 0
    public private(set) var capacity: Int
    let fd: Int32
    let threshold: Int
    public var lineBuffered: Bool
    /// Set when writing failed (e.g. the reader of a pipe went away): further output is dropped.
    public private(set) var failed = false
    /// The whole seconds of the last timestamp written and their digits (`cachedSecondsCount` bytes): the records
    /// of a capture share their seconds, so most timestamps copy them rather than convert them again.
    var cachedSeconds: UInt64 = .max
    var cachedSecondsDigits: (UInt64, UInt64, UInt64) = (0, 0, 0)
    var cachedSecondsCount = 0

    public init(fd: Int32 = 1, threshold: Int = 1 << 16, lineBuffered: Bool = false) {
        self.fd = fd
        self.threshold = threshold
        self.lineBuffered = lineBuffered
        capacity = threshold + 4096
        base = .allocate(capacity: capacity)
    }

    deinit {
        flush()
        base.deallocate()
    }

    /// What the buffer holds (a copy; for tests and in-memory use).
    public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// Makes room for `n` more bytes and returns where they go; `commit(n)` then counts them in.
    @inline(__always)
    public func reserve(_ n: Int) -> UnsafeMutablePointer<UInt8> {
        if count + n > capacity { grow(count + n) }
        return base + count
    }

    @inline(__always)
    public func commit(_ n: Int) { count += n }

    @inline(never)
    func grow(_ needed: Int) {
        var c = capacity * 2
        while c < needed { c *= 2 }
        let b = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        b.update(from: base, count: count)
        base.deallocate()
        base = b
        capacity = c
    }

    @inline(__always)
    public func append(_ raw: UnsafeRawBufferPointer) {
        guard let src = raw.baseAddress, raw.count > 0 else { return }
        let p = reserve(raw.count)
        memcpy(p, src, raw.count)
        count += raw.count
    }

    @inline(__always)
    public func append(_ s: StaticString) {
        append(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    @inline(__always)
    public func append(_ s: String) { withUTF8Bytes(of: s) { append($0) } }

    @inline(__always)
    public func append(byte: UInt8) {
        if count == capacity { grow(count + 1) }
        base[count] = byte
        count += 1
    }

    /// Appends a decimal integer without going through String.
    @inline(__always)
    public func append(int value: some BinaryInteger) {
        let v = Int64(value)
        if v >= 0 && v < 10 && count < capacity {
            // One digit (versions, types, small ids: half of the numbers written), without a call.
            base[count] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v)
            count += 1
            return
        }
        if v < 0 { append(byte: UInt8(ascii: "-")) }
        appendDigits(v.magnitude, minWidth: 1)  // the magnitude: -Int64.min does not fit (a messageType can be it)
    }

    /// Appends `value` in decimal, left-padded with zeros to `minWidth` digits.
    public func appendDigits(_ value: UInt64, minWidth: Int) {
        if value < 10 && minWidth <= 1 {  // versions, types, small ids
            append(byte: UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value))
            return
        }
        // The digit count first (from the bit length, corrected by one power of ten), then two digits at a time
        // from the end, straight into place.
        let bits = 64 - value.leadingZeroBitCount
        var digits = (bits * 1233) >> 12
        if digits < 20 && value >= Self.powersOfTen[digits] { digits += 1 }
        digits = max(digits, 1)
        let width = max(digits, minWidth)
        let p = reserve(width)
        var at = width
        var v = value
        let pairs = Self.digitPairs.utf8Start
        while v >= 100 {
            let r = Int(v % 100)
            v /= 100
            at -= 2
            p[at] = pairs[2 * r]
            p[at + 1] = pairs[2 * r + 1]
        }
        if v >= 10 {
            at -= 2
            p[at] = pairs[2 * Int(v)]
            p[at + 1] = pairs[2 * Int(v) + 1]
        } else {
            at -= 1
            p[at] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v)
        }
        while at > 0 {
            at -= 1
            p[at] = UInt8(ascii: "0")
        }
        count += width
    }

    /// "00" to "99" one after the other.
    static let digitPairs: StaticString = """
        0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899
        """
    /// 10^0 ... 10^19. Written out: an array of literals is laid out at compile time, while one computed at run
    /// time is a lazy global (a `swift_once` call on every use).
    static let powersOfTen: [UInt64] = [
        1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000, 10_000_000_000,
        100_000_000_000, 1_000_000_000_000, 10_000_000_000_000, 100_000_000_000_000, 1_000_000_000_000_000,
        10_000_000_000_000_000, 100_000_000_000_000_000, 1_000_000_000_000_000_000, 10_000_000_000_000_000_000,
    ]

    /// Drops what the buffer holds, keeping its memory.
    public func removeAll() { count = 0 }

    /// Trades blocks with `block`: the block gets the bytes the buffer holds (the caller knows where its records
    /// end), the buffer continues empty in the block's memory (a shard passing what it rendered to the merger without copying, and reusing the merger's blocks).
    public func exchange(_ block: ByteBlock) {
        swap(&base, &block.base)
        swap(&capacity, &block.capacity)
        count = 0
    }

    /// Ends a record: writes out when the buffer is full, or at once when line-buffered.
    @inline(__always)
    public func endRecord() {
        if fd >= 0 && (lineBuffered || count >= threshold) { flush() }
    }

    /// Whether ``writeGathered(_:)`` writes straight to a file (not line by line to a terminal, not into memory).
    public var writesDirectly: Bool { fd >= 0 && !lineBuffered }

    /// Writes what the buffer holds, then the pieces of memory `pieces` point to, in order, without copying them
    /// (the merger of `--jobs` writing runs of records from the shards' blocks).
    public func writeGathered(_ pieces: inout [iovec]) {
        flush()
        var first = 0
        while first < pieces.count && !failed {
            let n = pieces.withUnsafeBufferPointer {
                writev(fd, $0.baseAddress! + first, Int32(min($0.count - first, 1024)))
            }
            if n < 0 {
                if errno == EINTR { continue }
                failed = true
                break
            }
            // Skip what was written; a partly written piece continues where it stopped.
            var left = n
            while first < pieces.count && left >= pieces[first].iov_len {
                left -= pieces[first].iov_len
                first += 1
            }
            if left > 0 {
                pieces[first].iov_base += left
                pieces[first].iov_len -= left
            }
        }
        pieces.removeAll(keepingCapacity: true)
    }

    public func flush() {
        guard count > 0, fd >= 0 else { return }
        if !failed {
            var offset = 0
            while offset < count {
                let n = write(fd, base + offset, count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failed = true
                    break
                }
                offset += n
            }
        }
        count = 0
        if capacity > 4 * threshold {
            // A huge record passed: give its memory back.
            base.deallocate()
            capacity = threshold + 4096
            base = .allocate(capacity: capacity)
        }
    }
}

/// A block of rendered bytes traded with an `OutputBuffer`; freed with the block.
public final class ByteBlock: @unchecked Sendable {
    public fileprivate(set) var base: UnsafeMutablePointer<UInt8>
    public fileprivate(set) var capacity: Int

    public init(capacity: Int = 1 << 16) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    deinit { base.deallocate() }

    public subscript(i: Int) -> UInt8 { base[i] }
}

/// Calls `body` with a string's UTF-8 bytes: a native string's where they lie (copying the string to call the
/// mutating `withUTF8` on cost a retain and a release for every sid, name and kind written), others (bridged or
/// lazily made) through `withUTF8` on a copy.
@inline(__always)
func withUTF8Bytes<R>(of s: String, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    if let result = s.utf8.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) { return result }
    var s = s
    return s.withUTF8 { body(UnsafeRawBufferPointer($0)) }
}
