import CPcap
import ImscopeCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a capture could not be opened: the run cannot go on.
public struct CaptureError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// One packet as it was read: the bytes are a view of libpcap's buffer or of the mapped file, valid during the
/// callback.
public struct Packet {
    public var ts: Timestamp
    /// 1-based number in the (merged) capture, as Wireshark numbers frames.
    public var frame: UInt64
    public var linkType: Int32
    public var data: UnsafeRawBufferPointer
    /// Length on the wire; larger than `data.count` when the snaplen cut the packet.
    public var wireLength: Int
    /// Which input it came from (index into the list of files).
    public var input: Int
}

/// Reads packets from capture files (pcap or pcapng, any number, merged in time order), standard input (`-`) or
/// a live interface, through libpcap.
///
/// Zero-copy: each packet is passed as a view of libpcap's own buffer, or of the file itself for a classic pcap
/// file (``MappedPcap``). A BPF filter is applied after reading,
/// with `pcap_offline_filter`, so frame numbers stay those of the whole file (as Wireshark shows them).
public final class PacketSource {
    final class Input {
        let name: String
        let handle: OpaquePointer
        let linkType: Int32
        let precision: UInt8
        var index = 0
        var filter: bpf_program? = nil
        // The packet this input offers next (valid until the next pcap_next_ex on this handle).
        var header: UnsafeMutablePointer<pcap_pkthdr>? = nil
        var bytes: UnsafePointer<UInt8>? = nil
        var ts: Timestamp = Timestamp(nanoseconds: 0)
        var done = false
        var count: UInt64 = 0
        /// The stdio buffer the file is read through, freed after the handle (which closes the file).
        let readBuffer: UnsafeMutableRawPointer?
        /// A classic pcap file's records, read in place instead of through libpcap (which opened the file), and the
        /// header of the record being offered.
        let mapped: MappedPcap?
        let lentMapped: Unmanaged<MappedPcap>?
        let mappedHeader: UnsafeMutablePointer<pcap_pkthdr>?

        init(
            name: String, handle: OpaquePointer, precision: UInt8, readBuffer: UnsafeMutableRawPointer? = nil,
            mapped: MappedPcap? = nil
        ) {
            self.name = name
            self.handle = handle
            self.linkType = pcap_datalink(handle)
            self.precision = precision
            self.readBuffer = readBuffer
            self.mapped = mapped
            lentMapped = mapped.map { .passUnretained($0) }
            if mapped != nil {
                mappedHeader = .allocate(capacity: 1)
                mappedHeader!.initialize(to: pcap_pkthdr())
            } else {
                mappedHeader = nil
            }
        }

        deinit {
            if var f = filter { pcap_freecode(&f) }
            pcap_close(handle)
            readBuffer?.deallocate()
            mappedHeader?.deallocate()
        }

        /// Set (from a signal handler, through ``PacketSource/requestStop()``) to end a live capture.
        var stopRequested = false

        /// Counts the packet in `header` and takes its time (the fraction in nanoseconds: the handle was opened, or
        /// the file is read, with nanosecond precision).
        @inline(__always)
        func offer() {
            count += 1
            let h = header!.pointee
            ts = Timestamp(
                nanoseconds: Int64(h.ts.tv_sec) &* 1_000_000_000 &+ Int64(h.ts.tv_usec), precision: precision)
        }

        /// Advances to the next packet; returns false at the end or on error (`error` then says why).
        func advance(error: inout String?) -> Bool {
            if let mapped = lentMapped {
                // Lent, not counted (`mapped` holds it): a retain and a release per packet otherwise.
                guard let next = mapped._withUnsafeGuaranteedRef({ $0.next(&mappedHeader!.pointee, error: &error) })
                else {
                    done = true
                    return false
                }
                header = mappedHeader
                bytes = next
                offer()
                return true
            }
            while true {
                let rc = pcap_next_ex(handle, &header, &bytes)
                switch rc {
                case 1:
                    offer()
                    return true
                case 0:
                    // Live capture: the read timed out with no packet; a requested stop takes effect here too.
                    if stopRequested {
                        done = true
                        return false
                    }
                    continue
                case -2:  // PCAP_ERROR_BREAK: end of file
                    done = true
                    return false
                default:
                    error = String(cString: pcap_geterr(handle))
                    done = true
                    return false
                }
            }
        }
    }

    let inputs: [Input]
    public let isLive: Bool
    private var frame: UInt64 = 0
    private var stop = false

    /// The stdio buffer capture files are read through.
    static let readBufferBytes = 1 << 20

    /// Opens capture files; `-` is standard input. Throws when a file cannot be opened or is not a capture.
    public init(files: [String], filter: String? = nil) throws(CaptureError) {
        var inputs: [Input] = []
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        for name in files {
            let handle: OpaquePointer?
            var readBuffer: UnsafeMutableRawPointer? = nil
            var mapped: MappedPcap? = nil
            var precision: UInt8 = 6
            if name == "-" {
                let (file, sniffed) = PrecisionSniffer.wrapStandardInput()
                precision = sniffed
                handle = pcap_fopen_offline_with_tstamp_precision(file, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf)
            } else {
                var st = stat()
                guard stat(name, &st) == 0 else {
                    throw CaptureError("cannot open \(name): \(String(cString: strerror(errno)))")
                }
                guard (st.st_mode & S_IFMT) != S_IFDIR else {
                    throw CaptureError("cannot open \(name): is a directory")
                }
                if (st.st_mode & S_IFMT) != S_IFREG {
                    // A pipe (`<(tcpdump -w - …)`), a device: read once, its head sniffed and replayed as for `-`
                    // (sniffing it by name first consumed the head, and libpcap then saw no capture).
                    let fd = open(name, O_RDONLY | O_CLOEXEC)
                    guard fd >= 0 else {
                        throw CaptureError("cannot open \(name): \(String(cString: strerror(errno)))")
                    }
                    let (file, sniffed) = PrecisionSniffer.wrap(fd: fd)
                    precision = sniffed
                    handle = pcap_fopen_offline_with_tstamp_precision(
                        file, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf)
                    if handle == nil { fclose(file) }
                } else {
                    // A classic pcap file is read in place (see MappedPcap); libpcap opens it all the same, and reads
                    // only its header then (through stdio's own small buffer). Its magic number gives the precision.
                    mapped = MappedPcap.open(name)
                    precision = mapped.map { $0.nanosecondFile ? 9 : 6 } ?? PrecisionSniffer.precision(ofFile: name)
                    if mapped != nil {
                        handle = pcap_open_offline_with_tstamp_precision(
                            name, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf)
                    } else if let file = fopen(name, "rb") {
                        // Other capture files (pcapng) are read through a large stdio buffer: libpcap reads each
                        // record with fread, and the default buffer (4 KiB here) meant one read(2) per 4 KiB of
                        // capture. glibc sizes a buffer only when given one; libpcap closes the file with the
                        // handle, and the buffer goes after that.
                        let buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.readBufferBytes, alignment: 16)
                        setvbuf(file, buffer.assumingMemoryBound(to: CChar.self), _IOFBF, Self.readBufferBytes)
                        #if os(Linux)
                            // One thread reads the stream (the reader's, with --jobs too): glibc need not lock it for
                            // each of libpcap's two freads per packet, which it does once a process has threads.
                            _ = __fsetlocking(file, Int32(FSETLOCKING_BYCALLER))
                        #endif
                        handle = pcap_fopen_offline_with_tstamp_precision(
                            file, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf)
                        if handle == nil {
                            fclose(file)
                            buffer.deallocate()
                        } else {
                            readBuffer = buffer
                        }
                    } else {  // libpcap says why
                        handle = pcap_open_offline_with_tstamp_precision(
                            name, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf)
                    }
                }
            }
            guard let handle else {
                let why = errbuf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                throw CaptureError("cannot read \(name == "-" ? "standard input" : name) as a capture: \(why)")
            }
            let input = Input(name: name, handle: handle, precision: precision, readBuffer: readBuffer, mapped: mapped)
            input.index = inputs.count
            if let filter { input.filter = try Self.compile(filter, on: handle) }
            inputs.append(input)
        }
        self.inputs = inputs
        self.isLive = false
    }

    /// Reads a capture (pcap or pcapng) held in memory, as a file of that content would be read (through libpcap,
    /// from a stream over a copy of the bytes): for whole-pipeline tests and fuzzers without temporary files.
    public init(capture bytes: [UInt8], name: String = "memory", filter: String? = nil) throws(CaptureError) {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        // Freed with the input, after the handle (which closes the stream).
        let copy = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        bytes.withUnsafeBytes { copy.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        guard let file = fmemopen(copy, bytes.count, "rb") else {
            copy.deallocate()
            throw CaptureError("cannot read \(name) as a capture: \(String(cString: strerror(errno)))")
        }
        guard let handle = pcap_fopen_offline_with_tstamp_precision(file, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf)
        else {
            fclose(file)
            copy.deallocate()
            let why = errbuf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw CaptureError("cannot read \(name) as a capture: \(why)")
        }
        let input = Input(
            name: name, handle: handle,
            precision: PrecisionSniffer.precision(ofHead: bytes.prefix(PrecisionSniffer.headLength)),
            readBuffer: copy)
        if let filter { input.filter = try Self.compile(filter, on: handle) }
        inputs = [input]
        isLive = false
    }

    /// Opens a live interface (needs the capture privilege), optionally with a BPF filter applied in the kernel.
    public init(interface: String, snaplen: Int32 = 262_144, filter: String? = nil) throws(CaptureError) {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let handle = pcap_create(interface, &errbuf) else {
            let why = errbuf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw CaptureError("cannot open interface \(interface): \(why)")
        }
        pcap_set_snaplen(handle, snaplen)
        // Packets come at most 100 ms late; not immediate mode, in which Linux libpcap waits for a packet without
        // a timeout, so a stop could not take effect on a quiet interface.
        pcap_set_timeout(handle, 100)
        let nano = pcap_set_tstamp_precision(handle, Int32(PCAP_TSTAMP_PRECISION_NANO)) == 0
        let rc = pcap_activate(handle)
        if rc < 0 {
            let why = String(cString: pcap_geterr(handle))
            pcap_close(handle)
            throw CaptureError("cannot capture on \(interface): \(why)")
        }
        let input = Input(name: interface, handle: handle, precision: nano ? 9 : 6)
        if let filter {
            var program = try Self.compile(filter, on: handle)
            if pcap_setfilter(handle, &program) != 0 {
                pcap_freecode(&program)
                throw CaptureError("cannot set filter: \(String(cString: pcap_geterr(handle)))")
            }
            pcap_freecode(&program)
        }
        self.inputs = [input]
        self.isLive = true
    }

    private static func compile(_ expression: String, on handle: OpaquePointer) throws(CaptureError) -> bpf_program {
        var program = bpf_program()
        if pcap_compile(handle, &program, expression, 1, PCAP_NETMASK_UNKNOWN) != 0 {
            throw CaptureError("bad filter \"\(expression)\": \(String(cString: pcap_geterr(handle)))")
        }
        return program
    }

    /// Keeps the pages of records read in place `bytes` behind the current one (see ``MappedPcap``), for readers
    /// on other threads.
    public func keepRecords(bytes: Int) {
        for input in inputs { input.mapped?.releaseLag = bytes }
    }

    /// Whether `bytes` lie in a capture file read in place: they then stay valid as long as this source.
    @inline(__always)
    public func holdsInPlace(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let p = bytes.baseAddress else { return false }
        for input in inputs {
            if let m = input.mapped, p >= m.base, p + bytes.count <= m.base + m.size { return true }
        }
        return false
    }

    /// The input names, link types and precisions, for messages.
    public var inputSummaries: [(name: String, linkType: Int32, precision: UInt8)] {
        inputs.map { ($0.name, $0.linkType, $0.precision) }
    }

    /// Asks a running ``forEach(_:onError:)`` to return after the current packet (from a signal handler's flag).
    public func requestStop() {
        stop = true
        for input in inputs {
            input.stopRequested = true
            if isLive { pcap_breakloop(input.handle) }  // wakes a read waiting for packets
        }
    }

    /// Calls `body` for every packet in time order (inputs merged by timestamp; ties keep input order).
    /// A read error ends that input: `onError` gets the input's name, the packets read from it, and libpcap's
    /// message, and the other inputs go on.
    public func forEach(_ body: (Packet) -> Void, onError: (String, UInt64, String) -> Void) {
        var error: String? = nil
        for input in inputs where !input.advance(error: &error) {
            if let e = error {
                onError(input.name, input.count, e)
                error = nil
            }
        }
        if inputs.count == 1 {
            let input = inputs[0]
            while !input.done && !stop {
                emit(input, body)
                if !input.advance(error: &error), let e = error { onError(input.name, input.count, e) }
            }
            return
        }
        while !stop {
            var next: Input? = nil
            for input in inputs where !input.done {
                if next == nil || input.ts < next!.ts { next = input }
            }
            guard let input = next else { return }
            emit(input, body)
            if !input.advance(error: &error), let e = error {
                onError(input.name, input.count, e)
                error = nil
            }
        }
    }

    @inline(__always)
    private func emit(_ input: Input, _ body: (Packet) -> Void) {
        frame += 1
        let h = input.header!.pointee
        if var program = input.filter, pcap_offline_filter(&program, input.header, input.bytes) == 0 { return }
        body(
            Packet(
                ts: input.ts, frame: frame, linkType: input.linkType,
                data: UnsafeRawBufferPointer(start: input.bytes, count: Int(h.caplen)), wireLength: Int(h.len),
                input: input.index))
    }

    /// Opens a capture file to record into, with this source's link type (for `live -w`).
    public func openDump(_ path: String) throws(CaptureError) -> OpaquePointer {
        guard let dumper = pcap_dump_open(inputs[0].handle, path) else {
            throw CaptureError("cannot write \(path): \(String(cString: pcap_geterr(inputs[0].handle)))")
        }
        return dumper
    }

    /// Writes the packet being delivered to `dumper` (call from inside `forEach`).
    public func dump(_ dumper: OpaquePointer) {
        let input = inputs[0]
        pcap_dump(UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self), input.header, input.bytes)
    }

    /// Statistics of a live capture: packets received and dropped by the kernel.
    public func liveStatistics() -> (received: UInt32, dropped: UInt32)? {
        var stats = pcap_stat()
        guard isLive, pcap_stats(inputs[0].handle, &stats) == 0 else { return nil }
        return (stats.ps_recv, stats.ps_drop)
    }
}
