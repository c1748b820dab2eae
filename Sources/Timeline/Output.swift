#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A buffered writer to a file descriptor: records are formatted straight into one reusable byte buffer, written
/// out in large blocks (or per line when `lineBuffered`, for a terminal or a live capture). With `fd` -1 nothing
/// is written and `bytes` keeps everything (for tests and in-memory use).
public final class OutputBuffer {
    public var bytes: [UInt8] = []
    let fd: Int32
    let threshold: Int
    public var lineBuffered: Bool
    /// Set when writing failed (e.g. the reader of a pipe went away): further output is dropped.
    public private(set) var failed = false

    public init(fd: Int32 = 1, threshold: Int = 1 << 16, lineBuffered: Bool = false) {
        self.fd = fd
        self.threshold = threshold
        self.lineBuffered = lineBuffered
        bytes.reserveCapacity(threshold + 4096)
    }

    deinit { flush() }

    @inline(__always)
    public func append(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    @inline(__always)
    public func append(_ s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    @inline(__always)
    public func append(byte: UInt8) { bytes.append(byte) }

    /// Appends a decimal integer without going through String.
    public func append(int value: some BinaryInteger) {
        var v = Int64(value)
        if v < 0 {
            bytes.append(UInt8(ascii: "-"))
            v = -v
        }
        appendDigits(UInt64(v), minWidth: 1)
    }

    /// Appends `value` in decimal, left-padded with zeros to `minWidth` digits.
    public func appendDigits(_ value: UInt64, minWidth: Int) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for 24 digits on the stack
        var count = 0
        var v = value
        withUnsafeMutableBytes(of: &digits) { buf in
            repeat {
                buf[23 - count] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
                count += 1
            } while v > 0
            while count < minWidth {
                buf[23 - count] = UInt8(ascii: "0")
                count += 1
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[(24 - count)...]))
        }
    }

    /// Ends a record: writes out when the buffer is full, or at once when line-buffered.
    @inline(__always)
    public func endRecord() {
        if fd >= 0 && (lineBuffered || bytes.count >= threshold) { flush() }
    }

    public func flush() {
        guard !bytes.isEmpty, fd >= 0 else { return }
        if !failed {
            bytes.withUnsafeBytes { buf in
                var offset = 0
                while offset < buf.count {
                    let n = write(fd, buf.baseAddress! + offset, buf.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        failed = true
                        return
                    }
                    offset += n
                }
            }
        }
        if bytes.capacity > 4 * threshold {
            bytes = []  // a huge record passed: give its memory back
            bytes.reserveCapacity(threshold + 4096)
        } else {
            bytes.removeAll(keepingCapacity: true)
        }
    }
}
