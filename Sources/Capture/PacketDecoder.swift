import ImscopeCore

/// Decodes link, IP and TCP headers of one packet in place, producing a ``TCPSegment`` that views its bytes.
///
/// Handles Ethernet (802.1Q, 802.1ad and 0x9100 tags, any depth), Linux cooked SLL and SLL2, BSD NULL/LOOP,
/// raw IPv4/IPv6; IPv4 options and fragments, IPv6 extension headers and fragments. Checksums are not verified:
/// captures taken on the sending host carry offloaded (unfilled) checksums. UDP tunnels (``UDPTunnel``) are not
/// decoded; the first of each kind that carries TCP is reported.
public struct PacketDecoder {
    /// What decoding one packet produced.
    public enum Outcome {
        /// `segment` holds a TCP segment.
        case tcp
        /// Not TCP over IP (ARP, UDP, a link type or EtherType not decoded), or no bytes: nothing to say.
        case skip
        /// A fragment was buffered; the datagram is not complete yet.
        case fragmentBuffered
        /// The packet could not be decoded, or holds what imscope does not decode (a UDP tunnel, once per kind);
        /// the diagnostic says why.
        case problem(DiagnosticKind, String)
    }

    public var defragmenter: IPDefragmenter
    /// The ``UDPTunnel`` kinds reported so far (bits by raw value): each is reported once per run.
    var tunnelsReported: UInt8 = 0

    public init(limits: IPDefragmenter.Limits = .init()) {
        defragmenter = IPDefragmenter(limits: limits)
    }

    /// Decodes `data`, the captured bytes of one packet of link type `linkType` (a ``LinkType`` value), captured at
    /// `ts` (the clock that times out IP fragments). On `.tcp` the segment is in `segment`, viewing `data` or the
    /// defragmenter's buffer; on any other outcome `segment` is left as it was.
    public mutating func decode(
        linkType: Int32, _ data: UnsafeRawBufferPointer, ts: Timestamp, into segment: inout TCPSegment
    ) -> Outcome {
        guard let base = data.baseAddress else { return .skip }
        let n = data.count
        var etherType: UInt16
        var offset: Int
        switch linkType {
        case LinkType.ethernet:
            guard n >= 14 else { return Self.truncatedHeader("Ethernet", n) }
            etherType = base.be16(12)
            offset = 14
        case LinkType.linuxSLL:
            guard n >= 16 else { return Self.truncatedHeader("Linux SLL", n) }
            etherType = base.be16(14)
            offset = 16
        case LinkType.linuxSLL2:
            guard n >= 20 else { return Self.truncatedHeader("Linux SLL2", n) }
            etherType = base.be16(0)
            offset = 20
        case LinkType.null, LinkType.loop:
            guard n >= 4 else { return Self.truncatedHeader("loopback", n) }
            // The family is in the capturing host's byte order (NULL) or big-endian (LOOP); values are small,
            // so whichever half is non-zero holds it. AF_INET is 2 everywhere; AF_INET6 is 10 (Linux),
            // 24 (NetBSD, OpenBSD), 28 (FreeBSD), 30 (macOS).
            let raw = base.loadUnaligned(as: UInt32.self)
            let family = linkType == LinkType.loop ? UInt32(bigEndian: raw) : (raw > 0xFFFF ? raw.byteSwapped : raw)
            switch family {
            case 2: etherType = 0x0800
            case 10, 24, 28, 30: etherType = 0x86DD
            default: return .skip
            }
            offset = 4
        case LinkType.raw, LinkType.rawLinux, LinkType.rawOpenBSD, LinkType.ipv4, LinkType.ipv6:
            guard n >= 1 else { return Self.truncatedHeader("IP", n) }
            etherType = (base.u8(0) >> 4) == 6 ? 0x86DD : 0x0800
            offset = 0
        default:
            return .skip
        }
        // VLAN tags (802.1Q, 802.1ad, the old 0x9100 QinQ), any number of them.
        while etherType == 0x8100 || etherType == 0x88A8 || etherType == 0x9100 {
            guard n >= offset + 4 else { return Self.truncatedHeader("VLAN tag", n) }
            etherType = base.be16(offset + 2)
            offset += 4
        }
        switch etherType {
        case 0x0800: return decodeIPv4(base + offset, n - offset, ts: ts, into: &segment)
        case 0x86DD: return decodeIPv6(base + offset, n - offset, ts: ts, into: &segment)
        default: return .skip
        }
    }

    static func truncatedHeader(_ what: String, _ captured: Int) -> Outcome {
        .problem(.captureTruncated, "\(what) header cut by the snapshot length (\(captured) bytes captured)")
    }

    mutating func decodeIPv4(_ p: UnsafeRawPointer, _ n: Int, ts: Timestamp, into segment: inout TCPSegment)
        -> Outcome
    {
        guard n >= 20 else { return Self.truncatedHeader("IPv4", n) }
        let vihl = p.u8(0)
        guard vihl >> 4 == 4 else { return .problem(.ipMalformed, "IPv4 header with version \(vihl >> 4)") }
        let ihl = Int(vihl & 0x0f) * 4
        guard ihl >= 20 else { return .problem(.ipMalformed, "IPv4 header length \(ihl) is below 20") }
        var total = Int(p.be16(2))
        if total == 0 { total = n }  // TCP segmentation offload on the capturing host leaves it 0
        guard total >= ihl else {
            return .problem(.ipMalformed, "IPv4 total length \(total) below header length \(ihl)")
        }
        guard n >= ihl else { return Self.truncatedHeader("IPv4", n) }
        let proto = p.u8(9)
        let src = IPAddress(v4: p.be32(12))
        let dst = IPAddress(v4: p.be32(16))
        let fragField = p.be16(6)
        let captured = min(n, total)
        if fragField & 0x3FFF != 0 {  // more-fragments flag or a fragment offset
            guard proto == 6 else { return .skip }
            let result = defragmenter.add(
                key: .init(src: src, dst: dst, id: UInt32(p.be16(4)), proto: proto),
                offset: Int(fragField & 0x1FFF) * 8, wireCount: total - ihl, more: fragField & 0x2000 != 0,
                bytes: UnsafeRawBufferPointer(start: p + ihl, count: captured - ihl), ts: ts)
            switch result {
            case .buffered: return .fragmentBuffered
            case .problem(let kind, let message): return .problem(kind, message)
            case .complete(let datagram):
                return decodeTCP(datagram.baseAddress!, datagram.count, wireLength: datagram.count, src, dst, &segment)
            }
        }
        guard proto == 6 else { return proto == 17 ? udp(p + ihl, captured - ihl) : .skip }
        return decodeTCP(p + ihl, captured - ihl, wireLength: total - ihl, src, dst, &segment)
    }

    mutating func decodeIPv6(_ p: UnsafeRawPointer, _ n: Int, ts: Timestamp, into segment: inout TCPSegment)
        -> Outcome
    {
        guard n >= 40 else { return Self.truncatedHeader("IPv6", n) }
        guard p.u8(0) >> 4 == 6 else { return .problem(.ipMalformed, "IPv6 header with version \(p.u8(0) >> 4)") }
        var payloadLength = Int(p.be16(4))
        if payloadLength == 0 { payloadLength = n - 40 }  // jumbogram or offload: trust what was captured
        let src = IPAddress(hi: p.be64(8), lo: p.be64(16))
        let dst = IPAddress(hi: p.be64(24), lo: p.be64(32))
        var next = p.u8(6)
        var offset = 40
        let end = 40 + payloadLength
        var fragment: (offset: Int, more: Bool, id: UInt32)? = nil
        // Walk the extension header chain up to TCP.
        while next != 6 {
            switch next {
            case 0, 43, 60, 135, 139, 140:  // hop-by-hop, routing, destination options, mobility, HIP, shim6
                guard n >= offset + 2 else { return Self.truncatedHeader("IPv6 extension", n) }
                let length = (Int(p.u8(offset + 1)) + 1) * 8
                next = p.u8(offset)
                offset += length
            case 51:  // authentication header
                guard n >= offset + 2 else { return Self.truncatedHeader("IPv6 extension", n) }
                let length = (Int(p.u8(offset + 1)) + 2) * 4
                next = p.u8(offset)
                offset += length
            case 44:  // fragment
                guard n >= offset + 8 else { return Self.truncatedHeader("IPv6 fragment", n) }
                let field = p.be16(offset + 2)
                fragment = (Int(field & 0xFFF8), field & 1 != 0, p.be32(offset + 4))
                next = p.u8(offset)
                offset += 8
            case 17 where fragment == nil && n >= offset + 8 && offset + 8 <= end:
                return udp(p + offset, min(n, end) - offset)
            default:
                return .skip  // no next header, ESP, or a transport that is not TCP
            }
            guard offset <= end else { return .problem(.ipMalformed, "IPv6 extension headers run past the payload") }
        }
        guard n >= offset else { return Self.truncatedHeader("IPv6 extension", n) }
        let captured = min(n, end)
        if let fragment, fragment.offset != 0 || fragment.more {
            let result = defragmenter.add(
                key: .init(src: src, dst: dst, id: fragment.id, proto: 6 | 0x80), offset: fragment.offset,
                wireCount: end - offset, more: fragment.more,
                bytes: UnsafeRawBufferPointer(start: p + offset, count: captured - offset), ts: ts)
            switch result {
            case .buffered: return .fragmentBuffered
            case .problem(let kind, let message): return .problem(kind, message)
            case .complete(let datagram):
                return decodeTCP(datagram.baseAddress!, datagram.count, wireLength: datagram.count, src, dst, &segment)
            }
        }
        return decodeTCP(p + offset, captured - offset, wireLength: end - offset, src, dst, &segment)
    }

    /// A UDP datagram (`n` bytes captured): skipped, unless it is the first of a ``UDPTunnel`` kind carrying TCP,
    /// which is reported. Only datagrams to or from a tunnel's port are looked into.
    mutating func udp(_ p: UnsafeRawPointer, _ n: Int) -> Outcome {
        guard n >= 8, let tunnel = UDPTunnel.byPort(source: p.be16(0), destination: p.be16(2)),
            tunnelsReported & (1 << tunnel.rawValue) == 0, tunnel.carriesTCP(p + 8, n - 8) == true
        else { return .skip }
        tunnelsReported |= 1 << tunnel.rawValue
        return .problem(
            .ipTunnelNotDecoded,
            "TCP inside a \(tunnel.name) tunnel (UDP port \(tunnel.port)): tunnels are not decoded, so its connections "
                + "are not seen (reported once per tunnel kind)")
    }

    func decodeTCP(
        _ p: UnsafeRawPointer, _ n: Int, wireLength: Int, _ src: IPAddress, _ dst: IPAddress,
        _ segment: inout TCPSegment
    ) -> Outcome {
        guard n >= 20 else {
            return wireLength < 20
                ? .problem(.tcpMalformed, "TCP segment of \(wireLength) bytes is shorter than a header")
                : Self.truncatedHeader("TCP", n)
        }
        let headerLength = Int(p.u8(12) >> 4) * 4
        guard headerLength >= 20, headerLength <= wireLength else {
            return .problem(.tcpMalformed, "TCP data offset \(headerLength) does not fit a \(wireLength)-byte segment")
        }
        guard n >= headerLength else { return Self.truncatedHeader("TCP", n) }
        segment.src = Endpoint(address: src, port: p.be16(0))
        segment.dst = Endpoint(address: dst, port: p.be16(2))
        segment.seq = p.be32(4)
        segment.ack = p.be32(8)
        segment.flags = TCPFlags(rawValue: p.u8(13))
        segment.window = p.be16(14)
        segment.payload = UnsafeRawBufferPointer(start: p + headerLength, count: n - headerLength)
        segment.payloadLength = wireLength - headerLength
        return .tcp
    }
}
