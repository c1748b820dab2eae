/// UDP encapsulations of whole packets that imscope does not decode: the TCP connections inside them are not seen.
///
/// ``PacketDecoder`` recognises them (by port, then by header) only to say so, once per kind: a capture taken on a
/// mobile core's GTP-U interface or an overlay network's underlay otherwise shows nothing and tells nothing.
public enum UDPTunnel: UInt8, CaseIterable, Sendable {
    /// GPRS Tunnelling Protocol, user plane (3GPP TS 29.281), UDP port 2152: IP packets after an 8-byte header
    /// and optional fields and extension headers.
    case gtpU
    /// VXLAN (RFC 7348), UDP port 4789: Ethernet frames after an 8-byte header.
    case vxlan
    /// Geneve (RFC 8926), UDP port 6081: Ethernet frames or IP packets after an 8-byte header and options.
    case geneve

    public var name: String {
        switch self {
        case .gtpU: return "GTP-U"
        case .vxlan: return "VXLAN"
        case .geneve: return "Geneve"
        }
    }

    public var port: UInt16 {
        switch self {
        case .gtpU: return 2152
        case .vxlan: return 4789
        case .geneve: return 6081
        }
    }

    /// The tunnel a UDP datagram between these ports belongs to, by its well-known port (GTP-U peers use 2152 on
    /// both ends; VXLAN and Geneve senders pick their source port from a hash of the inner flow).
    @inline(__always)
    static func byPort(source: UInt16, destination: UInt16) -> UDPTunnel? {
        switch destination {
        case 2152: return .gtpU
        case 4789: return .vxlan
        case 6081: return .geneve
        default: return source == 2152 ? .gtpU : nil
        }
    }

    /// Whether the UDP payload `p` (`n` bytes captured) is this tunnel's header followed by an IPv4 or IPv6 packet
    /// that carries TCP (nil when the captured bytes end before that shows).
    func carriesTCP(_ p: UnsafeRawPointer, _ n: Int) -> Bool? {
        switch self {
        case .gtpU:
            // Flags: version 1, protocol type GTP; message type 255, a G-PDU (user data).
            guard n >= 8 else { return nil }
            let flags = p.u8(0)
            guard flags >> 5 == 1, flags & 0x10 != 0, p.u8(1) == 0xFF else { return false }
            var offset = 8
            if flags & 0x07 != 0 {
                // Sequence number, N-PDU number and next extension header type, present if any of E, S, PN is set.
                guard n >= 12 else { return nil }
                var next = flags & 0x04 != 0 ? p.u8(11) : 0
                offset = 12
                while next != 0 {
                    // An extension header: its length in 4-byte units first, its next type last.
                    guard n > offset else { return nil }
                    let length = Int(p.u8(offset)) * 4
                    guard length > 0 else { return false }
                    guard n >= offset + length else { return nil }
                    next = p.u8(offset + length - 1)
                    offset += length
                }
            }
            return Self.ipCarriesTCP(p + offset, n - offset)
        case .vxlan:
            // Flags with the I bit (a valid VNI); an Ethernet frame follows.
            guard n >= 8 else { return nil }
            guard p.u8(0) & 0x08 != 0 else { return false }
            return Self.ethernetCarriesTCP(p + 8, n - 8)
        case .geneve:
            guard n >= 8 else { return nil }
            guard p.u8(0) >> 6 == 0 else { return false }  // version 0
            let offset = 8 + Int(p.u8(0) & 0x3F) * 4
            guard n >= offset else { return nil }
            switch p.be16(2) {
            case 0x6558: return Self.ethernetCarriesTCP(p + offset, n - offset)
            case 0x0800, 0x86DD: return Self.ipCarriesTCP(p + offset, n - offset)
            default: return false
            }
        }
    }

    static func ethernetCarriesTCP(_ p: UnsafeRawPointer, _ n: Int) -> Bool? {
        var offset = 12
        while true {
            guard n >= offset + 2 else { return nil }
            let etherType = p.be16(offset)
            offset += 2
            switch etherType {
            case 0x8100, 0x88A8, 0x9100: offset += 2  // a VLAN tag: its TCI, then the next EtherType
            case 0x0800, 0x86DD: return ipCarriesTCP(p + offset, n - offset)
            default: return false
            }
        }
    }

    /// Whether an IP packet carries TCP: IPv4's protocol, or IPv6's next header (extension headers not followed).
    static func ipCarriesTCP(_ p: UnsafeRawPointer, _ n: Int) -> Bool? {
        guard n >= 1 else { return nil }
        switch p.u8(0) >> 4 {
        case 4: return n >= 10 ? p.u8(9) == 6 : nil
        case 6: return n >= 7 ? p.u8(6) == 6 : nil
        default: return false
        }
    }
}
