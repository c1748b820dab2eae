import Capture
import Testing

// Fixtures: UDP tunnels as Ethernet frames (checksums left 0; the decoder does not check them), made with Python
// `struct.pack` (the helpers eth/ip4/ip6/udp/gtp/vxlan/geneve of a few lines each); tshark 4 dissects each as the
// comment says. The inner TCP segment is the other tables' "hello", 192.168.1.10:51000 -> 192.168.1.20:9092.

let tunnelProblem = Expected.problem("ip.tunnel_not_decoded")

/// A tunnel whose inner packets carry TCP is reported once per kind and run; the packet itself is skipped either way.
let tunnelCases: [DecodeCase] = [
    DecodeCase(
        "GTP-U carrying TCP: reported once, then skipped", link: LinkType.ethernet,
        packets: [
            // eth | IPv4 10.0.0.1 -> 10.0.0.2 UDP 2152 -> 2152 | GTP flags 0x30 type 255 (G-PDU) TEID 0x03d44f54 |
            // IPv4 | TCP | "hello"
            Packet(
                hex: """
                    00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 51 12 34 40 00 40 11 00 00 0a 00 00 01 0a 00 00 02
                    08 68 08 68 00 3d 00 00 30 ff 00 2d 03 d4 4f 54 45 00 00 2d 12 34 40 00 40 06 00 00 c0 a8 01 0a c0 a8
                    01 14 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 00 00 00 00 68 65 6c 6c 6f
                    """,
                expect: tunnelProblem),
            Packet(
                hex: """
                    00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 51 12 34 40 00 40 11 00 00 0a 00 00 01 0a 00 00 02
                    08 68 08 68 00 3d 00 00 30 ff 00 2d 03 d4 4f 54 45 00 00 2d 12 34 40 00 40 06 00 00 c0 a8 01 0a c0 a8
                    01 14 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 00 00 00 00 68 65 6c 6c 6f
                    """,
                expect: .skip),
        ]),
    DecodeCase(
        "GTP-U with an extension header (PDU session container), IPv6 inside", link: LinkType.ethernet,
        // ... UDP 2152 | GTP flags 0x34 (E) type 255, sequence 0, N-PDU 0, next type 0x85 | extension: length 1 (4
        // bytes) QFI 1, next type 0 | IPv6 | TCP | "hello"
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 6d 12 34 40 00 40 11 00 00 0a 00 00 01 0a 00 00 02
        08 68 08 68 00 59 00 00 34 ff 00 49 03 d4 4f 54 00 00 00 85 01 00 01 00 60 00 00 00 00 19 06 40 20 01
        0d b8 00 00 00 00 00 00 00 00 00 00 00 10 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 20 c7 38 23 84
        01 02 03 04 0a 0b 0c 0d 50 18 12 34 00 00 00 00 68 65 6c 6c 6f
        """,
        tunnelProblem),
    DecodeCase(
        "GTP-U carrying UDP, then TCP: reported at the first that carries TCP", link: LinkType.ethernet,
        packets: [
            // ... UDP 2152 | GTP G-PDU | IPv4 | UDP 5353 -> 53 "dns"
            Packet(
                hex: """
                    00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 43 12 34 40 00 40 11 00 00 0a 00 00 01 0a 00 00 02
                    08 68 08 68 00 2f 00 00 30 ff 00 1f 03 d4 4f 54 45 00 00 1f 12 34 40 00 40 11 00 00 c0 a8 01 0a c0 a8
                    01 14 14 e9 00 35 00 0b 00 00 64 6e 73
                    """,
                expect: .skip),
            Packet(
                hex: """
                    00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 51 12 34 40 00 40 11 00 00 0a 00 00 01 0a 00 00 02
                    08 68 08 68 00 3d 00 00 30 ff 00 2d 03 d4 4f 54 45 00 00 2d 12 34 40 00 40 06 00 00 c0 a8 01 0a c0 a8
                    01 14 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 00 00 00 00 68 65 6c 6c 6f
                    """,
                expect: tunnelProblem),
        ]),
    DecodeCase(
        "GTP-U signalling (echo request) is not user data", link: LinkType.ethernet,
        // ... UDP 2152 | GTP flags 0x32 (S) type 1 (echo request), sequence 1
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 28 12 34 40 00 40 11 00 00 0a 00 00 01 0a 00 00 02
        08 68 08 68 00 14 00 00 32 01 00 04 00 00 00 00 00 01 00 00
        """,
        .skip),
    DecodeCase(
        "VXLAN carrying TCP", link: LinkType.ethernet,
        // ... UDP 49152 -> 4789 | VXLAN flags 0x08 (I) VNI 100 | eth | IPv4 | TCP | "hello"
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 5f 12 34 40 00 40 11 00 00 0a 00 00 01 0a 00 00 02
        c0 00 12 b5 00 4b 00 00 08 00 00 00 00 00 64 00 00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 2d
        12 34 40 00 40 06 00 00 c0 a8 01 0a c0 a8 01 14 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 00 00
        00 00 68 65 6c 6c 6f
        """,
        tunnelProblem),
    DecodeCase(
        "VXLAN over IPv6, an 802.1Q tag inside, IPv6 TCP", link: LinkType.ethernet,
        // eth | IPv6 UDP 49152 -> 4789 | VXLAN VNI 100 | eth 802.1Q VLAN 100 | IPv6 | TCP | "hello"
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 86 dd 60 00 00 00 00 63 11 40 20 01 0d b8 00 00 00 00 00 00 00 00
        00 00 00 10 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 20 c0 00 12 b5 00 63 00 00 08 00 00 00 00 00
        64 00 00 11 22 33 44 55 66 77 88 99 aa bb 81 00 00 64 86 dd 60 00 00 00 00 19 06 40 20 01 0d b8 00 00
        00 00 00 00 00 00 00 00 00 10 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 20 c7 38 23 84 01 02 03 04
        0a 0b 0c 0d 50 18 12 34 00 00 00 00 68 65 6c 6c 6f
        """,
        tunnelProblem),
    DecodeCase(
        "VXLAN carrying ICMP: nothing to say (nothing missed)", link: LinkType.ethernet,
        // ... UDP 49152 -> 4789 | VXLAN | eth | IPv4 | ICMP echo request
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 4e 12 34 40 00 40 11 00 00 0a 00 00 01 0a 00 00 02
        c0 00 12 b5 00 3a 00 00 08 00 00 00 00 00 64 00 00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 1c
        12 34 40 00 40 01 00 00 0a 00 00 01 0a 00 00 02 08 00 00 00 00 01 00 01
        """,
        .skip),
    DecodeCase(
        "Geneve carrying Ethernet, TCP inside", link: LinkType.ethernet,
        // ... UDP 49152 -> 6081 | Geneve version 0, no options, protocol 0x6558, VNI 100 | eth | IPv4 | TCP
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 5f 12 34 40 00 40 11 00 00 0a 00 00 01 0a 00 00 02
        c0 00 17 c1 00 4b 00 00 00 00 65 58 00 00 64 00 00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 2d
        12 34 40 00 40 06 00 00 c0 a8 01 0a c0 a8 01 14 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 00 00
        00 00 68 65 6c 6c 6f
        """,
        tunnelProblem),
    DecodeCase(
        "Geneve with 8 bytes of options carrying IPv4 directly", link: LinkType.ethernet,
        // ... UDP 49152 -> 6081 | Geneve option length 2 (8 bytes), protocol 0x0800 | options | IPv4 | TCP
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 59 12 34 40 00 40 11 00 00 0a 00 00 01 0a 00 00 02
        c0 00 17 c1 00 45 00 00 02 00 08 00 00 00 64 00 00 00 00 00 00 00 00 00 45 00 00 2d 12 34 40 00 40 06
        00 00 c0 a8 01 0a c0 a8 01 14 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 00 00 00 00 68 65 6c 6c
        6f
        """,
        tunnelProblem),
    DecodeCase(
        "each kind reported once: GTP-U, VXLAN, GTP-U again, Geneve", link: LinkType.ethernet,
        packets: [
            Packet(
                hex: """
                    00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 51 12 34 40 00 40 11 00 00 0a 00 00 01 0a 00 00 02
                    08 68 08 68 00 3d 00 00 30 ff 00 2d 03 d4 4f 54 45 00 00 2d 12 34 40 00 40 06 00 00 c0 a8 01 0a c0 a8
                    01 14 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 00 00 00 00 68 65 6c 6c 6f
                    """,
                expect: tunnelProblem),
            Packet(
                hex: """
                    00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 5f 12 34 40 00 40 11 00 00 0a 00 00 01 0a 00 00 02
                    c0 00 12 b5 00 4b 00 00 08 00 00 00 00 00 64 00 00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 2d
                    12 34 40 00 40 06 00 00 c0 a8 01 0a c0 a8 01 14 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 00 00
                    00 00 68 65 6c 6c 6f
                    """,
                expect: tunnelProblem),
            Packet(
                hex: """
                    00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 6d 12 34 40 00 40 11 00 00 0a 00 00 01 0a 00 00 02
                    08 68 08 68 00 59 00 00 34 ff 00 49 03 d4 4f 54 00 00 00 85 01 00 01 00 60 00 00 00 00 19 06 40 20 01
                    0d b8 00 00 00 00 00 00 00 00 00 00 00 10 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 20 c7 38 23 84
                    01 02 03 04 0a 0b 0c 0d 50 18 12 34 00 00 00 00 68 65 6c 6c 6f
                    """,
                expect: .skip),
            Packet(
                hex: """
                    00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 5f 12 34 40 00 40 11 00 00 0a 00 00 01 0a 00 00 02
                    c0 00 17 c1 00 4b 00 00 00 00 65 58 00 00 64 00 00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 2d
                    12 34 40 00 40 06 00 00 c0 a8 01 0a c0 a8 01 14 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 00 00
                    00 00 68 65 6c 6c 6f
                    """,
                expect: tunnelProblem),
        ]),
    DecodeCase(
        "other UDP: skipped", link: LinkType.ethernet,
        // ... UDP 5353 -> 53 | 4 bytes
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 20 12 34 40 00 40 11 00 00 0a 00 00 01 0a 00 00 02
        14 e9 00 35 00 0c 00 00 12 34 01 00
        """,
        .skip),
]

@Suite struct UDPTunnelTests {
    @Test(arguments: tunnelCases)
    func decodes(_ c: DecodeCase) {
        var decoder = PacketDecoder()
        for (index, packet) in c.packets.enumerated() {
            let got = decoder.decode(linkType: c.linkType, bytes: hex(packet.hex))
            #expect(got == packet.expect, "packet \(index + 1)")
        }
    }

    /// A tunnelled packet cut anywhere by the snapshot length is reported exactly when the inner IP header's
    /// protocol (IPv4) or next header (IPv6) field was captured, and skipped (or a truncated outer header reported)
    /// before: the inner bytes are looked at only as far as they were captured.
    @Test(arguments: [
        // the inner IPv4 protocol field at byte 59; the inner IPv6 next header at 64 (after a GTP-U extension)
        // and at 94 (after an outer IPv6, VXLAN and an 802.1Q tag)
        (tunnelCases[0].packets[0].hex, 60), (tunnelCases[1].packets[0].hex, 65), (tunnelCases[5].packets[0].hex, 95),
    ])
    func everyPrefix(packetHex: String, reportedFrom: Int) {
        let bytes = hex(packetHex)
        for cut in 1...bytes.count {
            var decoder = PacketDecoder()
            let got = decoder.decode(linkType: LinkType.ethernet, bytes: Array(bytes[0..<cut]))
            switch got {
            case .skip, .problem("capture.truncated"): #expect(cut < reportedFrom, "cut at \(cut): \(got)")
            case .problem("ip.tunnel_not_decoded"): #expect(cut >= reportedFrom, "cut at \(cut)")
            default: Issue.record("cut at \(cut): \(got)")
            }
        }
    }
}
