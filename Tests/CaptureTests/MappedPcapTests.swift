import Capture
import Foundation
import ImscopeCore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Classic pcap files are read in place (MappedPcap) rather than through libpcap: every record arrives as written,
/// in either byte order, with microsecond or nanosecond fractions, across the stretches whose pages are given back;
/// a malformed end gives libpcap's own messages.
@Suite struct MappedPcapTests {
    struct Record: Equatable {
        var ns: Int64
        var bytes: [UInt8]
        var wireLength: Int
    }

    /// A pcap file of `count` records of 60–1559 bytes (over 4 MiB of them for 6 000), and the records as read
    /// back should be.
    func makeCapture(count: Int, bigEndian: Bool, nano: Bool) -> (file: [UInt8], records: [Record]) {
        var file: [UInt8] = []
        func u32(_ v: UInt32) {
            let w = bigEndian ? v.bigEndian : v.littleEndian
            withUnsafeBytes(of: w) { file += $0 }
        }
        func u16(_ v: UInt16) {
            let w = bigEndian ? v.bigEndian : v.littleEndian
            withUnsafeBytes(of: w) { file += $0 }
        }
        u32(nano ? 0xa1b2_3c4d : 0xa1b2_c3d4)
        u16(2)
        u16(4)
        u32(0)
        u32(0)
        u32(262_144)
        u32(1)  // Ethernet
        var records: [Record] = []
        for i in 0..<count {
            let length = 60 + (i * 7919) % 1500
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }
            let fraction = UInt32(i * 997 % (nano ? 1_000_000_000 : 1_000_000))
            u32(UInt32(1_790_000_000 + i))
            u32(fraction)
            u32(UInt32(length))
            u32(UInt32(length + i % 3))  // some cut by a snaplen
            file += bytes
            let ns = Int64(1_790_000_000 + i) * 1_000_000_000 + Int64(fraction) * (nano ? 1 : 1000)
            records.append(Record(ns: ns, bytes: bytes, wireLength: length + i % 3))
        }
        return (file, records)
    }

    /// Reads `bytes` as a capture file: the records, and the read error if one ended it.
    func read(_ bytes: [UInt8]) throws -> (records: [Record], error: String?) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("imscope-\(UUID()).pcap").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let source = try PacketSource(files: [path])
        var records: [Record] = []
        var error: String? = nil
        source.forEach(
            { records.append(Record(ns: $0.ts.nanoseconds, bytes: Array($0.data), wireLength: $0.wireLength)) },
            onError: { _, count, message in
                #expect(count == UInt64(records.count))
                error = message
            })
        return (records, error)
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func everyRecordAsWritten(bigEndian: Bool, nano: Bool) throws {
        let (file, records) = makeCapture(count: 6000, bigEndian: bigEndian, nano: nano)
        #expect(file.count > 2 * (2 << 20), "crosses two stretches whose pages are given back")
        let read = try read(file)
        #expect(read.error == nil)
        #expect(read.records.count == records.count)
        #expect(read.records == records)
    }

    /// What `--jobs` relies on: a record read in place stays valid, where it lies, as long as the source, even after
    /// its pages were given back (they are read again from the file).
    @Test(arguments: [0, 8 << 20])
    func recordsStayValidWhileTheSourceLasts(lag: Int) throws {
        let (file, records) = makeCapture(count: 6000, bigEndian: false, nano: true)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("imscope-\(UUID()).pcap").path
        try Data(file).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let source = try PacketSource(files: [path])
        source.keepRecords(bytes: lag)
        var kept: [UnsafeRawBufferPointer] = []
        source.forEach(
            { packet in
                #expect(source.holdsInPlace(packet.data))
                kept.append(packet.data)
            }, onError: { _, _, message in Issue.record("\(message)") })
        #expect(kept.count == records.count)
        #expect(zip(kept, records).allSatisfy { Array($0) == $1.bytes })
        let elsewhere = [UInt8](repeating: 0, count: 8)
        #expect(!elsewhere.withUnsafeBytes { source.holdsInPlace($0) })
    }

    /// A capture that is not a regular file (a pipe, as `<(tcpdump -w - …)` gives) is read once, through libpcap:
    /// its head is sniffed and replayed, not consumed (libpcap then saw no capture: "unknown file format").
    @Test(.timeLimit(.minutes(1)), arguments: [false, true])
    func aPipeIsReadOnce(nano: Bool) throws {
        let (file, records) = makeCapture(count: 500, bigEndian: false, nano: nano)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("imscope-\(UUID()).fifo").path
        #expect(mkfifo(path, 0o600) == 0)
        defer { unlink(path) }
        signal(SIGPIPE, SIG_IGN)  // a reader that gives up early fails the test, not the whole run
        let writer = Thread {
            let fd = open(path, O_WRONLY)
            file.withUnsafeBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = write(fd, raw.baseAddress! + done, raw.count - done)
                    if n <= 0 { break }
                    done += n
                }
            }
            close(fd)
        }
        writer.start()
        let source = try PacketSource(files: [path])
        var read: [Record] = []
        source.forEach(
            { read.append(Record(ns: $0.ts.nanoseconds, bytes: Array($0.data), wireLength: $0.wireLength)) },
            onError: { _, _, message in Issue.record("\(message)") })
        #expect(read == records)
        #expect(source.inputSummaries[0].precision == (nano ? 9 : 6))
    }

    @Test func truncatedEndsSayWhatLibpcapSays() throws {
        let (file, records) = makeCapture(count: 10, bigEndian: false, nano: false)
        let fifth = 24 + records[0..<5].reduce(0) { $0 + 16 + $1.bytes.count }
        // Cut inside the sixth record's bytes, then inside its header.
        let cutBytes = try read(Array(file[0..<(fifth + 16 + 10)]))
        #expect(cutBytes.records == Array(records[0..<5]))
        #expect(
            cutBytes.error
                == "truncated dump file; tried to read \(records[5].bytes.count) captured bytes, only got 10")
        let cutHeader = try read(Array(file[0..<(fifth + 6)]))
        #expect(cutHeader.records == Array(records[0..<5]))
        #expect(cutHeader.error == "truncated dump file; tried to read 16 header bytes, only got 6")
        // A record longer than libpcap allows.
        var long = Array(file[0..<fifth])
        withUnsafeBytes(of: UInt32(1_790_000_005).littleEndian) { long += $0 }
        withUnsafeBytes(of: UInt32(0).littleEndian) { long += $0 }
        withUnsafeBytes(of: UInt32(300_000).littleEndian) { long += $0 }
        withUnsafeBytes(of: UInt32(300_000).littleEndian) { long += $0 }
        let tooLong = try read(long + [UInt8](repeating: 0, count: 300_000))
        #expect(tooLong.records == Array(records[0..<5]))
        #expect(tooLong.error == "invalid packet capture length 300000, bigger than maximum of 262144")
    }
}
