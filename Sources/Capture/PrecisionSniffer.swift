import CPcap

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Finds the timestamp precision a capture file recorded, which libpcap does not report once it has scaled
/// every timestamp to the precision asked for.
///
/// pcap: the magic number (0xa1b2c3d4 microseconds, 0xa1b23c4d nanoseconds). pcapng: the `if_tsresol` option of
/// the first Interface Description Block (default microseconds). imscope prints 9 digits for resolutions finer
/// than microseconds, 6 otherwise.
enum PrecisionSniffer {
    static let headLength = 65_536

    static func precision(ofFile path: String) -> UInt8 {
        guard let file = fopen(path, "rb") else { return 6 }
        defer { fclose(file) }
        var head = [UInt8](repeating: 0, count: headLength)
        let n = fread(&head, 1, headLength, file)
        return precision(ofHead: head[0..<n])
    }

    static func precision(ofHead head: ArraySlice<UInt8>) -> UInt8 {
        let b = Array(head)
        guard b.count >= 4 else { return 6 }
        func u32(_ o: Int, _ little: Bool) -> UInt32 {
            let v = UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
            return little ? v : v.byteSwapped
        }
        func u16(_ o: Int, _ little: Bool) -> UInt16 {
            let v = UInt16(b[o]) | UInt16(b[o + 1]) << 8
            return little ? v : v.byteSwapped
        }
        let magic = u32(0, true)
        if magic == 0xa1b2_3c4d || magic == 0x4d3c_b2a1 { return 9 }
        guard magic == 0x0a0d_0d0a, b.count >= 12 else { return 6 }
        let little = u32(8, true) == 0x1a2b_3c4d
        var offset = 0
        while offset + 12 <= b.count {
            let type = u32(offset, little)
            let length = Int(u32(offset + 4, little))
            guard length >= 12 else { return 6 }
            if type == 1 {  // Interface Description Block
                var o = offset + 16
                let end = min(offset + length - 4, b.count)
                while o + 4 <= end {
                    let code = u16(o, little)
                    let optionLength = Int(u16(o + 2, little))
                    if code == 0 { break }
                    if code == 9, optionLength >= 1, o + 4 < end {
                        let resolution = b[o + 4]
                        if resolution & 0x80 != 0 { return (resolution & 0x7f) > 19 ? 9 : 6 }  // power of two
                        return resolution > 6 ? 9 : 6
                    }
                    o += 4 + (optionLength + 3) & ~3
                }
                return 6
            }
            offset += length
        }
        return 6
    }

    /// Reads the head of standard input to find its precision, and returns a stream that yields that head and
    /// then the rest of standard input, for libpcap to read.
    static func wrapStandardInput() -> (UnsafeMutablePointer<FILE>, UInt8) { wrap(fd: 0) }

    /// The same for any stream that cannot be read twice (a pipe, `<(…)` in a shell): the descriptor is closed with
    /// the stream.
    static func wrap(fd: Int32) -> (UnsafeMutablePointer<FILE>, UInt8) {
        let state = StdinReplay(fd: fd)
        var head = [UInt8](repeating: 0, count: 4096)
        var filled = 0
        // Enough for a pcap header, or a pcapng SHB and the first IDB in all but odd files.
        while filled < head.count {
            let n = read(fd, &head[filled], head.count - filled)
            if n <= 0 { break }
            filled += n
        }
        state.head = Array(head[0..<filled])
        let precision = precision(ofHead: head[0..<filled])
        #if canImport(Glibc)
            var functions = imscope_cookie_io_functions()
            functions.read = { cookie, buffer, size in
                let state = Unmanaged<StdinReplay>.fromOpaque(cookie!).takeUnretainedValue()
                return state.read(into: buffer!, size)
            }
            functions.close = { cookie in
                Unmanaged<StdinReplay>.fromOpaque(cookie!).release()
                return 0
            }
            let cookie = Unmanaged.passRetained(state).toOpaque()
            if let file = fopencookie(cookie, "r", functions) { return (file, precision) }
            Unmanaged<StdinReplay>.fromOpaque(cookie).release()
        #endif
        // (Not reached on Linux.) Elsewhere the sniffed bytes would be lost; the replay closes `fd` as it goes.
        return (fdopen(fd == 0 ? 0 : dup(fd), "r"), precision)
    }

    final class StdinReplay {
        let fd: Int32
        var head: [UInt8] = []
        var position = 0

        init(fd: Int32) { self.fd = fd }

        deinit { if fd != 0 { close(fd) } }

        func read(into buffer: UnsafeMutablePointer<CChar>, _ size: Int) -> Int {
            if position < head.count {
                let n = min(size, head.count - position)
                head.withUnsafeBytes {
                    UnsafeMutableRawPointer(buffer).copyMemory(from: $0.baseAddress! + position, byteCount: n)
                }
                position += n
                return n
            }
            let n = Glibc.read(fd, buffer, size)
            return n < 0 ? -1 : n
        }
    }
}
