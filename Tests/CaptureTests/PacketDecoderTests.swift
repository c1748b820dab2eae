import Capture
import ImscopeCore
import Testing

// Fixtures: one TCP segment, 192.168.1.10:51000 -> 192.168.1.20:9092 (IPv6: [2001:db8::10]:51000 ->
// [2001:db8::20]:9092), seq 0x01020304, ack 0x0a0b0c0d, flags PSH|ACK, window 0x1234, payload "hello", wrapped
// in each link layer and IP variant. Made with a few lines of Python `struct.pack` (IP and TCP checksums filled
// in, although the decoder does not check them); the dumps read like `tcpdump -xx`.

/// The segment every fixture carries, over IPv4 and IPv6.
let hello4 = SegmentFields(src: "192.168.1.10:51000", dst: "192.168.1.20:9092")
let hello6 = SegmentFields(src: "[2001:db8::10]:51000", dst: "[2001:db8::20]:9092")

/// One packet of a case and what decoding it should give.
struct Packet: Sendable {
    var hex: String
    var expect: Expected
}

/// A named table row: packets decoded in order by one decoder (fragments need the decoder's memory).
struct DecodeCase: Sendable, CustomTestStringConvertible {
    var name: String
    var linkType: Int32
    var packets: [Packet]
    var testDescription: String { name }

    init(_ name: String, link: Int32, _ hex: String, _ expect: Expected) {
        self.name = name
        self.linkType = link
        self.packets = [Packet(hex: hex, expect: expect)]
    }

    init(_ name: String, link: Int32, packets: [Packet]) {
        self.name = name
        self.linkType = link
        self.packets = packets
    }
}

// MARK: - Link layers

let linkCases: [DecodeCase] = [
    DecodeCase(
        "Ethernet, IPv4, TCP", link: LinkType.ethernet,
        // Ethernet dst 00:11:22:33:44:55 src 66:77:88:99:aa:bb type 0x0800 | IPv4 | TCP | "hello"
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 2d 12 34 40 00 40 06 a5 28 c0 a8 01 0a c0 a8 01 14
        c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 d1 77 00 00 68 65 6c 6c 6f
        """, .tcp(hello4)),
    DecodeCase(
        "Ethernet, IPv6, TCP", link: LinkType.ethernet,
        // Ethernet type 0x86dd | IPv6 payload length 25 next header 6 | TCP | "hello"
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 86 dd 60 00 00 00 00 19 06 40 20 01 0d b8 00 00 00 00 00 00 00 00
        00 00 00 10 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 20 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18
        12 34 f9 44 00 00 68 65 6c 6c 6f
        """, .tcp(hello6)),
    DecodeCase(
        "Ethernet, 802.1Q tag", link: LinkType.ethernet,
        // Ethernet type 0x8100 | TCI 0x0064 (VLAN 100) type 0x0800 | IPv4 | TCP | "hello"
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 81 00 00 64 08 00 45 00 00 2d 12 34 40 00 40 06 a5 28 c0 a8 01 0a
        c0 a8 01 14 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 d1 77 00 00 68 65 6c 6c 6f
        """, .tcp(hello4)),
    DecodeCase(
        "Ethernet, QinQ (802.1ad 0x88a8 outer, 802.1Q 0x8100 inner)", link: LinkType.ethernet,
        // Ethernet type 0x88a8 | S-tag TCI 0x00c8 (VLAN 200) type 0x8100 | C-tag TCI 0x0064 type 0x0800 | IPv4 ...
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 88 a8 00 c8 81 00 00 64 08 00 45 00 00 2d 12 34 40 00 40 06 a5 28
        c0 a8 01 0a c0 a8 01 14 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 d1 77 00 00 68 65 6c 6c 6f
        """, .tcp(hello4)),
    DecodeCase(
        "Linux cooked SLL (113)", link: LinkType.linuxSLL,
        // SLL: packet type 0 (to us), ARPHRD 1, address length 6, address 66:77:88:99:aa:bb + 2 pad, protocol
        // 0x0800 | IPv4 | TCP | "hello"
        """
        00 00 00 01 00 06 66 77 88 99 aa bb 00 00 08 00 45 00 00 2d 12 34 40 00 40 06 a5 28 c0 a8 01 0a c0 a8
        01 14 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 d1 77 00 00 68 65 6c 6c 6f
        """, .tcp(hello4)),
    DecodeCase(
        "Linux cooked SLL2 (276)", link: LinkType.linuxSLL2,
        // SLL2: protocol 0x0800, reserved, interface index 2, ARPHRD 1, packet type 0, address length 6,
        // address 66:77:88:99:aa:bb + 2 pad | IPv4 | TCP | "hello"
        """
        08 00 00 00 00 00 00 02 00 01 00 06 66 77 88 99 aa bb 00 00 45 00 00 2d 12 34 40 00 40 06 a5 28 c0 a8
        01 0a c0 a8 01 14 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 d1 77 00 00 68 65 6c 6c 6f
        """, .tcp(hello4)),
    DecodeCase(
        "BSD NULL (0), little-endian AF_INET", link: LinkType.null,
        // family 2 as written by a little-endian host | IPv4 | TCP | "hello"
        """
        02 00 00 00 45 00 00 2d 12 34 40 00 40 06 a5 28 c0 a8 01 0a c0 a8 01 14 c7 38 23 84 01 02 03 04 0a 0b
        0c 0d 50 18 12 34 d1 77 00 00 68 65 6c 6c 6f
        """, .tcp(hello4)),
    DecodeCase(
        "BSD NULL (0), big-endian AF_INET", link: LinkType.null,
        // family 2 as written by a big-endian host | IPv4 | TCP | "hello"
        """
        00 00 00 02 45 00 00 2d 12 34 40 00 40 06 a5 28 c0 a8 01 0a c0 a8 01 14 c7 38 23 84 01 02 03 04 0a 0b
        0c 0d 50 18 12 34 d1 77 00 00 68 65 6c 6c 6f
        """, .tcp(hello4)),
    DecodeCase(
        "BSD NULL (0), little-endian AF_INET6 (30, macOS)", link: LinkType.null,
        // family 30 little-endian | IPv6 | TCP | "hello"
        """
        1e 00 00 00 60 00 00 00 00 19 06 40 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 10 20 01 0d b8 00 00
        00 00 00 00 00 00 00 00 00 20 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 f9 44 00 00 68 65 6c 6c
        6f
        """, .tcp(hello6)),
    DecodeCase(
        "BSD NULL (0), big-endian AF_INET6 (24, OpenBSD)", link: LinkType.null,
        // family 24 big-endian | IPv6 | TCP | "hello"
        """
        00 00 00 18 60 00 00 00 00 19 06 40 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 10 20 01 0d b8 00 00
        00 00 00 00 00 00 00 00 00 20 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 f9 44 00 00 68 65 6c 6c
        6f
        """, .tcp(hello6)),
    DecodeCase(
        "BSD NULL (0), unknown family", link: LinkType.null,
        // family 7 | IPv4 ... (not an IP family: skipped)
        """
        07 00 00 00 45 00 00 2d 12 34 40 00 40 06 a5 28 c0 a8 01 0a c0 a8 01 14 c7 38 23 84 01 02 03 04 0a 0b
        0c 0d 50 18 12 34 d1 77 00 00 68 65 6c 6c 6f
        """, .skip),
    DecodeCase(
        "OpenBSD LOOP (108), AF_INET", link: LinkType.loop,
        // family 2, always big-endian | IPv4 | TCP | "hello"
        """
        00 00 00 02 45 00 00 2d 12 34 40 00 40 06 a5 28 c0 a8 01 0a c0 a8 01 14 c7 38 23 84 01 02 03 04 0a 0b
        0c 0d 50 18 12 34 d1 77 00 00 68 65 6c 6c 6f
        """, .tcp(hello4)),
    DecodeCase(
        "OpenBSD LOOP (108), AF_INET6", link: LinkType.loop,
        // family 24 big-endian | IPv6 | TCP | "hello"
        """
        00 00 00 18 60 00 00 00 00 19 06 40 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 10 20 01 0d b8 00 00
        00 00 00 00 00 00 00 00 00 20 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 f9 44 00 00 68 65 6c 6c
        6f
        """, .tcp(hello6)),
    DecodeCase(
        "RAW (12), IPv4", link: LinkType.rawLinux,
        // IPv4 | TCP | "hello", no link header
        """
        45 00 00 2d 12 34 40 00 40 06 a5 28 c0 a8 01 0a c0 a8 01 14 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18
        12 34 d1 77 00 00 68 65 6c 6c 6f
        """, .tcp(hello4)),
    DecodeCase(
        "RAW (12), IPv6", link: LinkType.rawLinux,
        // IPv6 | TCP | "hello", no link header
        """
        60 00 00 00 00 19 06 40 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 10 20 01 0d b8 00 00 00 00 00 00
        00 00 00 00 00 20 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 f9 44 00 00 68 65 6c 6c 6f
        """, .tcp(hello6)),
    DecodeCase(
        "RAW (101), IPv4", link: LinkType.raw,
        // IPv4 | TCP | "hello", no link header
        """
        45 00 00 2d 12 34 40 00 40 06 a5 28 c0 a8 01 0a c0 a8 01 14 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18
        12 34 d1 77 00 00 68 65 6c 6c 6f
        """, .tcp(hello4)),
    DecodeCase(
        "RAW (101), IPv6", link: LinkType.raw,
        // IPv6 | TCP | "hello", no link header
        """
        60 00 00 00 00 19 06 40 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 10 20 01 0d b8 00 00 00 00 00 00
        00 00 00 00 00 20 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 f9 44 00 00 68 65 6c 6c 6f
        """, .tcp(hello6)),
    DecodeCase(
        "IPV4 (228)", link: LinkType.ipv4,
        // IPv4 | TCP | "hello", no link header
        """
        45 00 00 2d 12 34 40 00 40 06 a5 28 c0 a8 01 0a c0 a8 01 14 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18
        12 34 d1 77 00 00 68 65 6c 6c 6f
        """, .tcp(hello4)),
    DecodeCase(
        "IPV6 (229)", link: LinkType.ipv6,
        // IPv6 | TCP | "hello", no link header
        """
        60 00 00 00 00 19 06 40 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 10 20 01 0d b8 00 00 00 00 00 00
        00 00 00 00 00 20 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 f9 44 00 00 68 65 6c 6c 6f
        """, .tcp(hello6)),
    DecodeCase(
        "unsupported link type (DLT 105, 802.11)", link: 105,
        "00 11 22 33 44 55 66 77 88 99 aa bb 08 00", .skip),
]

// MARK: - IP variants

let ipCases: [DecodeCase] = [
    DecodeCase(
        "IPv4 with options, IHL 6", link: LinkType.ethernet,
        // Ethernet | IPv4 IHL 6, total 49, option Router Alert 94 04 00 00 | TCP | "hello"
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 00 46 00 00 31 12 34 40 00 40 06 10 20 c0 a8 01 0a c0 a8 01 14
        94 04 00 00 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 d1 77 00 00 68 65 6c 6c 6f
        """, .tcp(hello4)),
    DecodeCase(
        "IPv4 with options, IHL 8", link: LinkType.ethernet,
        // Ethernet | IPv4 IHL 8, total 57, Router Alert + 7 NOP + EOL | TCP | "hello"
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 00 48 00 00 39 12 34 40 00 40 06 0a 15 c0 a8 01 0a c0 a8 01 14
        94 04 00 00 01 01 01 01 01 01 01 00 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 d1 77 00 00 68 65
        6c 6c 6f
        """, .tcp(hello4)),
    DecodeCase(
        "IPv4 with options, IHL 15 (60-byte header)", link: LinkType.ethernet,
        // Ethernet | IPv4 IHL 15, total 85, 39 NOP + EOL | TCP | "hello"
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 00 4f 00 00 55 12 34 40 00 40 06 86 ed c0 a8 01 0a c0 a8 01 14
        01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01
        01 01 01 01 01 00 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 d1 77 00 00 68 65 6c 6c 6f
        """, .tcp(hello4)),
    DecodeCase(
        "IPv4 in a frame padded to 60 bytes (padding is not payload)", link: LinkType.ethernet,
        // Ethernet | IPv4 total 42 | TCP | "hi" | 4 bytes of Ethernet padding
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 2a 12 34 40 00 40 06 a5 2b c0 a8 01 0a c0 a8 01 14
        c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 ac e3 00 00 68 69 00 00 00 00
        """, .tcp(SegmentFields(src: hello4.src, dst: hello4.dst, payload: "hi"))),
    DecodeCase(
        "IPv4 total length 0 (segmentation offload): the captured length is used", link: LinkType.ethernet,
        // Ethernet | IPv4 total length 0 | TCP | "hello"
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 00 12 34 40 00 40 06 a5 55 c0 a8 01 0a c0 a8 01 14
        c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 d1 77 00 00 68 65 6c 6c 6f
        """, .tcp(hello4)),
    DecodeCase(
        "TCP with options (data offset 8)", link: LinkType.ethernet,
        // Ethernet | IPv4 total 57 | TCP data offset 8: MSS 1460, NOP, window scale 7, NOP, NOP, SACK permitted |
        // "hello"
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 39 12 34 40 00 40 06 a5 1c c0 a8 01 0a c0 a8 01 14
        c7 38 23 84 01 02 03 04 0a 0b 0c 0d 80 18 12 34 90 a6 00 00 02 04 05 b4 01 03 03 07 01 01 04 02 68 65
        6c 6c 6f
        """, .tcp(hello4)),
    DecodeCase(
        "IPv6 with hop-by-hop and destination-options headers", link: LinkType.ethernet,
        // Ethernet | IPv6 payload length 41, next 0 | hop-by-hop: next 60, length 0, PadN(4) |
        // destination options: next 6, length 0, PadN(4) | TCP | "hello"
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 86 dd 60 00 00 00 00 29 00 40 20 01 0d b8 00 00 00 00 00 00 00 00
        00 00 00 10 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 20 3c 00 01 04 00 00 00 00 06 00 01 04 00 00
        00 00 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 f9 44 00 00 68 65 6c 6c 6f
        """, .tcp(hello6)),
    DecodeCase(
        "IPv6 with an authentication header", link: LinkType.ethernet,
        // Ethernet | IPv6 payload length 49, next 51 | AH: next 6, length 4 (24 bytes), SPI 0x100, sequence 1,
        // 12-byte ICV | TCP | "hello"
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 86 dd 60 00 00 00 00 31 33 40 20 01 0d b8 00 00 00 00 00 00 00 00
        00 00 00 10 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 20 06 04 00 00 00 00 01 00 00 00 00 01 a0 a1
        a2 a3 a4 a5 a6 a7 a8 a9 aa ab c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 f9 44 00 00 68 65 6c 6c
        6f
        """, .tcp(hello6)),
    DecodeCase(
        "IPv6 with a routing header", link: LinkType.ethernet,
        // Ethernet | IPv6 payload length 49, next 43 | routing: next 6, length 2 (24 bytes), type 0, segments
        // left 0, one address | TCP | "hello"
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 86 dd 60 00 00 00 00 31 2b 40 20 01 0d b8 00 00 00 00 00 00 00 00
        00 00 00 10 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 20 06 02 00 00 00 00 00 00 20 01 0d b8 00 00
        00 00 00 00 00 00 00 00 00 20 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 f9 44 00 00 68 65 6c 6c
        6f
        """, .tcp(hello6)),
    DecodeCase(
        "IPv6 atomic fragment (offset 0, no more fragments) is decoded directly", link: LinkType.ethernet,
        // Ethernet | IPv6 next 44 | fragment header: next 6, offset 0, M 0, id 1 | TCP | "hello"
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 86 dd 60 00 00 00 00 21 2c 40 20 01 0d b8 00 00 00 00 00 00 00 00
        00 00 00 10 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 20 06 00 00 00 00 00 00 01 c7 38 23 84 01 02
        03 04 0a 0b 0c 0d 50 18 12 34 f9 44 00 00 68 65 6c 6c 6f
        """, .tcp(hello6)),
]

// MARK: - Fragments

let fragmentCases: [DecodeCase] = [
    DecodeCase(
        "IPv4 fragments in order, TCP header split across them", link: LinkType.ethernet,
        packets: [
            // IPv4 id 0x4242, MF, offset 0, 16 bytes: the first 16 bytes of the TCP header
            Packet(
                hex: """
                    00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 24 42 42 20 00 40 06 95 23 c0 a8 01 0a c0 a8
                    01 14 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34
                    """, expect: .fragmentBuffered),
            // IPv4 id 0x4242, offset 2 (16 bytes), last: the TCP header's last 4 bytes and "hello"
            Packet(
                hex: """
                    00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 1d 42 42 00 02 40 06 b5 28 c0 a8 01 0a c0 a8
                    01 14 d1 77 00 00 68 65 6c 6c 6f
                    """, expect: .tcp(hello4)),
        ]),
    DecodeCase(
        "IPv4 fragments out of order, TCP header split across them", link: LinkType.ethernet,
        packets: [
            // IPv4 id 0x4242, offset 2 (16 bytes), last: the TCP header's last 4 bytes and "hello"
            Packet(
                hex: """
                    00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 1d 42 42 00 02 40 06 b5 28 c0 a8 01 0a c0 a8
                    01 14 d1 77 00 00 68 65 6c 6c 6f
                    """, expect: .fragmentBuffered),
            // IPv4 id 0x4242, MF, offset 0, 16 bytes: the first 16 bytes of the TCP header
            Packet(
                hex: """
                    00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 24 42 42 20 00 40 06 95 23 c0 a8 01 0a c0 a8
                    01 14 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34
                    """, expect: .tcp(hello4)),
        ]),
    DecodeCase(
        "IPv4 overlapping fragments: the first arrival wins", link: LinkType.ethernet,
        packets: [
            // IPv4 id 0x4343, offset 1 (8 bytes), last: TCP bytes 8..<25 (ack, offset/flags, ..., "hello")
            Packet(
                hex: """
                    00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 25 43 43 00 01 40 06 b4 20 c0 a8 01 0a c0 a8
                    01 14 0a 0b 0c 0d 50 18 12 34 d1 77 00 00 68 65 6c 6c 6f
                    """, expect: .fragmentBuffered),
            // IPv4 id 0x4343, MF, offset 0, 16 bytes: TCP bytes 0..<8 and, overlapping, a different ack (ff ff ff ff)
            // and offset/flags (5f 3f) that must not replace what arrived first
            Packet(
                hex: """
                    00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 24 43 43 20 00 40 06 94 22 c0 a8 01 0a c0 a8
                    01 14 c7 38 23 84 01 02 03 04 ff ff ff ff 5f 3f 00 00
                    """, expect: .tcp(hello4)),
        ]),
    DecodeCase(
        "IPv6 fragment header, fragments out of order", link: LinkType.ethernet,
        packets: [
            // IPv6 next 44 | fragment: next 6, offset 16, M 0, id 0xdeadbeef | TCP bytes 16..<20 and "hello"
            Packet(
                hex: """
                    00 11 22 33 44 55 66 77 88 99 aa bb 86 dd 60 00 00 00 00 11 2c 40 20 01 0d b8 00 00 00 00 00 00
                    00 00 00 00 00 10 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 20 06 00 00 10 de ad be ef f9 44
                    00 00 68 65 6c 6c 6f
                    """, expect: .fragmentBuffered),
            // IPv6 next 44 | fragment: next 6, offset 0, M 1, id 0xdeadbeef | TCP bytes 0..<16
            Packet(
                hex: """
                    00 11 22 33 44 55 66 77 88 99 aa bb 86 dd 60 00 00 00 00 18 2c 40 20 01 0d b8 00 00 00 00 00 00
                    00 00 00 00 00 10 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 20 06 00 00 01 de ad be ef c7 38
                    23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34
                    """, expect: .tcp(hello6)),
        ]),
    DecodeCase(
        "IPv4 fragment cut by the snaplen: the datagram cannot complete", link: LinkType.ethernet,
        packets: [
            // IPv4 id 0x4444, MF, offset 0, 16 bytes on the wire, only 6 captured
            Packet(
                hex: """
                    00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 24 44 44 20 00 40 06 93 21 c0 a8 01 0a c0 a8
                    01 14 c7 38 23 84 01 02
                    """, expect: .fragmentBuffered),
            // IPv4 id 0x4444, offset 2, last: TCP bytes 16..<20 and "hello"
            Packet(
                hex: """
                    00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 1d 44 44 00 02 40 06 b3 26 c0 a8 01 0a c0 a8
                    01 14 d1 77 00 00 68 65 6c 6c 6f
                    """, expect: .problem("ip.fragment_incomplete")),
        ]),
]

// MARK: - Truncated, malformed, not TCP

let troubleCases: [DecodeCase] = [
    DecodeCase(
        "snaplen cuts the payload: payloadLength > payload.count", link: LinkType.ethernet,
        // Ethernet | IPv4 total 45 | TCP | "he" (3 bytes of "hello" not captured)
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 2d 12 34 40 00 40 06 a5 28 c0 a8 01 0a c0 a8 01 14
        c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 d1 77 00 00 68 65
        """, .tcp(SegmentFields(src: hello4.src, dst: hello4.dst, payload: "he", payloadLength: 5))),
    DecodeCase(
        "snaplen cuts an IPv6 payload", link: LinkType.ethernet,
        // Ethernet | IPv6 payload length 25 | TCP | "h"
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 86 dd 60 00 00 00 00 19 06 40 20 01 0d b8 00 00 00 00 00 00 00 00
        00 00 00 10 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 20 c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18
        12 34 f9 44 00 00 68
        """, .tcp(SegmentFields(src: hello6.src, dst: hello6.dst, payload: "h", payloadLength: 5))),
    DecodeCase(
        "snaplen cuts the TCP header", link: LinkType.ethernet,
        // Ethernet | IPv4 total 45 | first 10 bytes of the TCP header
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 2d 12 34 40 00 40 06 a5 28 c0 a8 01 0a c0 a8 01 14
        c7 38 23 84 01 02 03 04 0a 0b
        """, .problem("capture.truncated")),
    DecodeCase(
        "snaplen cuts the TCP options", link: LinkType.ethernet,
        // Ethernet | IPv4 total 57 | TCP data offset 8, cut after 24 of its 32 header bytes
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 39 12 34 40 00 40 06 a5 1c c0 a8 01 0a c0 a8 01 14
        c7 38 23 84 01 02 03 04 0a 0b 0c 0d 80 18 12 34 90 a6 00 00 02 04 05 b4
        """, .problem("capture.truncated")),
    DecodeCase(
        "snaplen cuts the IPv4 header", link: LinkType.ethernet,
        // Ethernet | first 12 bytes of an IPv4 header
        "00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 2d 12 34 40 00 40 06 a5 28",
        .problem("capture.truncated")),
    DecodeCase(
        "snaplen cuts the Ethernet header", link: LinkType.ethernet,
        // 10 bytes of an Ethernet header
        "00 11 22 33 44 55 66 77 88 99", .problem("capture.truncated")),
    DecodeCase(
        "malformed: IPv4 IHL 4 (below 5)", link: LinkType.ethernet,
        // Ethernet | IPv4 with version/IHL 0x44 | TCP | "hello"
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 00 44 00 00 2d 12 34 40 00 40 06 a5 28 c0 a8 01 0a c0 a8 01 14
        c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 d1 77 00 00 68 65 6c 6c 6f
        """, .problem("ip.malformed")),
    DecodeCase(
        "malformed: IPv4 header with version 5", link: LinkType.ethernet,
        // Ethernet type 0x0800 | version/IHL 0x55 ...
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 00 55 00 00 2d 12 34 40 00 40 06 95 28 c0 a8 01 0a c0 a8 01 14
        c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 d1 77 00 00 68 65 6c 6c 6f
        """, .problem("ip.malformed")),
    DecodeCase(
        "malformed: IPv4 total length 16 below the header length", link: LinkType.ethernet,
        // Ethernet | IPv4 total length 0x0010 | TCP | "hello"
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 10 12 34 40 00 40 06 a5 45 c0 a8 01 0a c0 a8 01 14
        c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 d1 77 00 00 68 65 6c 6c 6f
        """, .problem("ip.malformed")),
    DecodeCase(
        "malformed: IPv6 extension header runs past the payload", link: LinkType.ethernet,
        // Ethernet | IPv6 payload length 33, next 0 | hop-by-hop with length 255 (2048 bytes) | TCP | "hello"
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 86 dd 60 00 00 00 00 21 00 40 20 01 0d b8 00 00 00 00 00 00 00 00
        00 00 00 10 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 20 06 ff 01 04 00 00 00 00 c7 38 23 84 01 02
        03 04 0a 0b 0c 0d 50 18 12 34 f9 44 00 00 68 65 6c 6c 6f
        """, .problem("ip.malformed")),
    DecodeCase(
        "malformed: IPv4 fragment ending past 65535 bytes", link: LinkType.ethernet,
        // Ethernet | IPv4 id 0x5555, offset 0x1ffd (65512), 32 bytes of payload
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 34 55 55 1f fd 40 06 82 03 c0 a8 01 0a c0 a8 01 14
        c7 38 23 84 01 02 03 04 0a 0b 0c 0d 50 18 12 34 d1 77 00 00 68 65 6c 6c 61 62 63 64 65 66 67 68
        """, .problem("ip.malformed")),
    DecodeCase(
        "malformed: TCP data offset 4 (below 5)", link: LinkType.ethernet,
        // Ethernet | IPv4 | TCP with offset/flags 0x40 0x18 | "hello"
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 2d 12 34 40 00 40 06 a5 28 c0 a8 01 0a c0 a8 01 14
        c7 38 23 84 01 02 03 04 0a 0b 0c 0d 40 18 12 34 e1 77 00 00 68 65 6c 6c 6f
        """, .problem("tcp.malformed")),
    DecodeCase(
        "malformed: TCP data offset 15 past the 25-byte segment", link: LinkType.ethernet,
        // Ethernet | IPv4 total 45 | TCP with offset/flags 0xf0 0x18 | "hello"
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 2d 12 34 40 00 40 06 a5 28 c0 a8 01 0a c0 a8 01 14
        c7 38 23 84 01 02 03 04 0a 0b 0c 0d f0 18 12 34 31 77 00 00 68 65 6c 6c 6f
        """, .problem("tcp.malformed")),
    DecodeCase(
        "not TCP: UDP over IPv4", link: LinkType.ethernet,
        // Ethernet | IPv4 protocol 17 | UDP 5353 -> 5353 | "hello"
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00 00 21 12 34 40 00 40 11 a5 29 c0 a8 01 0a c0 a8 01 14
        14 e9 14 e9 00 0d 00 00 68 65 6c 6c 6f
        """, .skip),
    DecodeCase(
        "not TCP: UDP over IPv6", link: LinkType.ethernet,
        // Ethernet | IPv6 next header 17 | UDP 5353 -> 5353 | "hello"
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 86 dd 60 00 00 00 00 0d 11 40 20 01 0d b8 00 00 00 00 00 00 00 00
        00 00 00 10 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 20 14 e9 14 e9 00 0d 00 00 68 65 6c 6c 6f
        """, .skip),
    DecodeCase(
        "not TCP: ARP", link: LinkType.ethernet,
        // Ethernet type 0x0806 | ARP request who-has 192.168.1.20 tell 192.168.1.10
        """
        00 11 22 33 44 55 66 77 88 99 aa bb 08 06 00 01 08 00 06 04 00 01 66 77 88 99 aa bb c0 a8 01 0a 00 00
        00 00 00 00 c0 a8 01 14
        """, .skip),
]

@Suite("PacketDecoder.decode(linkType:_:ts:into:)")
struct PacketDecoderTests {
    @Test(arguments: linkCases + ipCases + fragmentCases + troubleCases)
    func decodes(_ c: DecodeCase) {
        var decoder = PacketDecoder()
        for (index, packet) in c.packets.enumerated() {
            let got = decoder.decode(linkType: c.linkType, bytes: hex(packet.hex))
            #expect(got == packet.expect, "packet \(index + 1)")
        }
    }

    /// Every captured prefix of a whole packet decodes to a truncation problem or to a segment whose captured
    /// payload is a prefix of the real one, never to anything else (and never reads past the bytes given).
    @Test(arguments: [
        (LinkType.ethernet, linkCases[0].packets[0].hex, hello4),
        (LinkType.ethernet, linkCases[1].packets[0].hex, hello6),
        (LinkType.ethernet, ipCases[6].packets[0].hex, hello6),
        (LinkType.linuxSLL2, linkCases[5].packets[0].hex, hello4),
    ])
    func everyPrefix(link: Int32, packetHex: String, whole: SegmentFields) {
        let bytes = hex(packetHex)
        for cut in 1..<bytes.count {
            var decoder = PacketDecoder()
            let got = decoder.decode(linkType: link, bytes: Array(bytes[0..<cut]))
            switch got {
            case .problem("capture.truncated"):
                break
            case .tcp(let fields):
                #expect(fields.payloadLength == whole.payloadLength, "cut at \(cut)")
                #expect(whole.payload.starts(with: fields.payload), "cut at \(cut)")
                #expect(bytes.count - cut == whole.payload.count - fields.payload.count, "cut at \(cut)")
            default:
                Issue.record("cut at \(cut): \(got)")
            }
        }
    }
}
