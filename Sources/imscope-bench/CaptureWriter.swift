#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes a pcap file (microsecond timestamps, Ethernet) of IPv4/TCP packets, buffered.
final class CaptureWriter {
    let file: UnsafeMutablePointer<FILE>
    var buffer: [UInt8] = []
    var bytesWritten: UInt64 = 0
    var packets: UInt64 = 0
    /// Capture time, microseconds since the epoch, and the time between packets.
    var clock: UInt64 = 1_790_000_000_000_000
    var packetGap: UInt64 = 37

    init?(path: String) {
        guard let f = fopen(path, "wb") else { return nil }
        file = f
        buffer.reserveCapacity(1 << 20)
        // Global header: magic, v2.4, thiszone 0, sigfigs 0, snaplen 262144, linktype 1 (Ethernet).
        append32le(0xa1b2_c3d4)
        append16le(2)
        append16le(4)
        append32le(0)
        append32le(0)
        append32le(262_144)
        append32le(1)
    }

    func append16le(_ v: UInt16) {
        buffer.append(UInt8(v & 0xff))
        buffer.append(UInt8(v >> 8))
    }
    func append32le(_ v: UInt32) { for k in 0..<4 { buffer.append(UInt8((v >> (8 * UInt32(k))) & 0xff)) } }

    /// Endpoint of the generated traffic.
    struct Endpoint {
        var ip: UInt32
        var port: UInt16
    }

    /// Writes one TCP segment from `src` to `dst`.
    func segment(
        _ src: Endpoint, _ dst: Endpoint, seq: UInt32, ack: UInt32, flags: UInt8, payload: ArraySlice<UInt8>
    ) {
        clock += packetGap
        let ipLength = 20 + 20 + payload.count
        let frameLength = 14 + ipLength
        append32le(UInt32(clock / 1_000_000))
        append32le(UInt32(clock % 1_000_000))
        append32le(UInt32(frameLength))
        append32le(UInt32(frameLength))
        // Ethernet
        buffer.append(contentsOf: [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00])
        // IPv4
        let ipStart = buffer.count
        buffer.append(contentsOf: [0x45, 0, UInt8(ipLength >> 8), UInt8(ipLength & 0xff), 0, 0, 0x40, 0, 64, 6, 0, 0])
        for shift in [24, 16, 8, 0] { buffer.append(UInt8((src.ip >> UInt32(shift)) & 0xff)) }
        for shift in [24, 16, 8, 0] { buffer.append(UInt8((dst.ip >> UInt32(shift)) & 0xff)) }
        var sum: UInt32 = 0
        for k in stride(from: ipStart, to: ipStart + 20, by: 2) {
            sum += UInt32(buffer[k]) << 8 | UInt32(buffer[k + 1])
        }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        let checksum = ~UInt16(sum)
        buffer[ipStart + 10] = UInt8(checksum >> 8)
        buffer[ipStart + 11] = UInt8(checksum & 0xff)
        // TCP (checksum left 0, as offloaded captures have it)
        buffer.append(contentsOf: [
            UInt8(src.port >> 8), UInt8(src.port & 0xff), UInt8(dst.port >> 8), UInt8(dst.port & 0xff),
        ])
        for shift in [24, 16, 8, 0] { buffer.append(UInt8((seq >> UInt32(shift)) & 0xff)) }
        for shift in [24, 16, 8, 0] { buffer.append(UInt8((ack >> UInt32(shift)) & 0xff)) }
        buffer.append(contentsOf: [0x50, flags, 0xff, 0xff, 0, 0, 0, 0])
        buffer.append(contentsOf: payload)
        bytesWritten += UInt64(16 + frameLength)
        packets += 1
        if buffer.count >= 1 << 20 { flush() }
    }

    func flush() {
        buffer.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, file) }
        buffer.removeAll(keepingCapacity: true)
    }

    func close() {
        flush()
        fclose(file)
    }
}
