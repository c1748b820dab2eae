import CByteScan
import CPcap

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The records of a classic pcap file, read in place from a read-only mapping of the file.
///
/// libpcap reads a file with two `fread`s per packet, copying every byte twice, on the thread that must keep up
/// with the others under `--jobs` (Docs/performance.md). libpcap has no way to hand out packets where they lie in
/// a file, so this does, for the one format simple enough to need nothing else: a 24-byte file header and a
/// 16-byte header per record. libpcap still opens the file (it checks the header and gives the link type and the
/// filter compiler); pcapng, and whatever is not a regular file, are read by libpcap throughout.
///
/// Pages already handed out are given back ``releaseBytes`` at a time (`MADV_DONTNEED`), ``releaseLag`` behind the
/// current record, so resident memory does not grow with the file. The mapping itself lasts as long as the input,
/// so a record's bytes stay valid until then (with `--jobs`, shards read them where they lie). The file is read to
/// the size it had when it was opened; a file cut shorter while it is read would fault. Malformed records end the
/// input with libpcap's own messages for them.
final class MappedPcap {
    let base: UnsafeRawPointer
    let size: Int
    /// Whether the file's byte order is not this host's, and whether its fractions are nanoseconds.
    let swapped: Bool
    let nanosecondFile: Bool
    /// Where the next record starts, and how far pages were given back.
    var offset = 24
    var released = 0
    /// How far behind the current record pages are kept: with `--jobs`, other threads read records the reader
    /// handed them a while ago (a page given back too early is read again from the file, so this is about speed
    /// and memory, not correctness).
    var releaseLag = 0
    /// How many bytes of records are given back at a time. With other threads running, each `MADV_DONTNEED` stops
    /// them for a TLB shootdown, so then pages go back as many at a time as are kept (Docs/performance.md).
    var releaseBytes: Int { max(Self.minimumReleaseBytes, releaseLag) }

    static let minimumReleaseBytes = 2 << 20
    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    /// libpcap's largest record (MAXIMUM_SNAPLEN): a longer one is an error there, and so here.
    static let maximumCaptureLength: UInt32 = 262_144

    /// Maps `path` when it is a regular file in the classic pcap format; nil otherwise (libpcap reads it).
    static func open(_ path: String) -> MappedPcap? {
        #if canImport(Glibc)
            let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        #else
            let fd = Darwin.open(path, O_RDONLY | O_CLOEXEC)
        #endif
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size >= 24 else { return nil }
        let size = Int(st.st_size)
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else { return nil }
        let magic = p.loadUnaligned(as: UInt32.self)
        let swapped: Bool
        let nano: Bool
        switch magic {
        case 0xa1b2_c3d4: (swapped, nano) = (false, false)
        case 0xa1b2_3c4d: (swapped, nano) = (false, true)
        case 0xd4c3_b2a1: (swapped, nano) = (true, false)
        case 0x4d3c_b2a1: (swapped, nano) = (true, true)
        default:
            munmap(p, size)
            return nil
        }
        madvise(p, size, MADV_SEQUENTIAL)
        return MappedPcap(base: UnsafeRawPointer(p), size: size, swapped: swapped, nano: nano)
    }

    init(base: UnsafeRawPointer, size: Int, swapped: Bool, nano: Bool) {
        self.base = base
        self.size = size
        self.swapped = swapped
        self.nanosecondFile = nano
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), size) }

    @inline(__always)
    func field(_ at: Int) -> UInt32 {
        let v = base.loadUnaligned(fromByteOffset: at, as: UInt32.self)
        return swapped ? v.byteSwapped : v
    }

    /// The next record: its header (the fraction in nanoseconds, as libpcap gives it when asked for nanosecond
    /// precision) and its bytes where they lie. Nil at the end of the file, or on a malformed record (then `error`
    /// says why, in libpcap's words).
    @inline(__always)
    func next(_ header: inout pcap_pkthdr, error: inout String?) -> UnsafePointer<UInt8>? {
        if offset - releaseLag - released >= releaseBytes { release() }
        let left = size - offset
        guard left >= 16 else {
            if left > 0 { error = "truncated dump file; tried to read 16 header bytes, only got \(left)" }
            return nil
        }
        let caplen = field(offset + 8)
        guard caplen <= Self.maximumCaptureLength else {
            error = "invalid packet capture length \(caplen), bigger than maximum of \(Self.maximumCaptureLength)"
            return nil
        }
        guard Int(caplen) <= left - 16 else {
            error = "truncated dump file; tried to read \(caplen) captured bytes, only got \(left - 16)"
            return nil
        }
        let fraction = field(offset + 4)
        header.ts.tv_sec = Int(field(offset))
        header.ts.tv_usec = Int(nanosecondFile ? fraction : fraction &* 1000)
        header.caplen = caplen
        header.len = field(offset + 12)
        let bytes = (base + offset + 16).assumingMemoryBound(to: UInt8.self)
        offset += 16 + Int(caplen)
        // The next record's header and the packet headers after it, asked for now: the hardware's prefetchers lose
        // the stream where the reader skips payloads it hands on untouched (Docs/performance.md).
        if offset &+ 128 <= size {
            imscope_prefetch(base + offset)
            imscope_prefetch(base + offset + 64)
        }
        return bytes
    }

    /// Gives back the pages before the current record, `releaseLag` behind it (whole pages: the record's own stay
    /// mapped). With a lag, from the start of the file: a thread that was handed a record long ago may have read its
    /// page again after it was given back, and that page would otherwise stay resident to the end (the range given
    /// back before holds no other pages, so going over it again costs next to nothing).
    func release() {
        let upTo = (max(0, offset - releaseLag) / Self.pageSize) * Self.pageSize
        if upTo > released {
            let from = releaseLag > 0 ? 0 : released
            madvise(UnsafeMutableRawPointer(mutating: base + from), upTo - from, MADV_DONTNEED)
            released = upTo
        }
    }
}
