import Testing

@testable import Capture

/// A capture file's head and the timestamp digits it implies.
struct HeadCase: Sendable, CustomTestStringConvertible {
    var name: String
    var hex: String
    var digits: UInt8
    var testDescription: String { name }
}

// pcap global headers (magic, version 2.4, thiszone, sigfigs, snaplen 262144, linktype 1) and pcapng heads
// (a Section Header Block, then an Interface Description Block: linktype 1, snaplen 262144, options), written
// with Python `struct.pack` as tcpdump and dumpcap write them, in both byte orders.
let headCases: [HeadCase] = [
    HeadCase(
        name: "pcap, microseconds, little-endian",
        hex: "d4 c3 b2 a1 02 00 04 00 00 00 00 00 00 00 00 00 00 00 04 00 01 00 00 00", digits: 6),
    HeadCase(
        name: "pcap, microseconds, big-endian",
        hex: "a1 b2 c3 d4 00 02 00 04 00 00 00 00 00 00 00 00 00 04 00 00 00 00 00 01", digits: 6),
    HeadCase(
        name: "pcap, nanoseconds, little-endian",
        hex: "4d 3c b2 a1 02 00 04 00 00 00 00 00 00 00 00 00 00 00 04 00 01 00 00 00", digits: 9),
    HeadCase(
        name: "pcap, nanoseconds, big-endian",
        hex: "a1 b2 3c 4d 00 02 00 04 00 00 00 00 00 00 00 00 00 04 00 00 00 00 00 01", digits: 9),
    HeadCase(
        name: "pcapng little-endian, IDB without if_tsresol (default microseconds)",
        // SHB (28 bytes, byte-order magic 1a2b3c4d, version 1.0, section length -1) | IDB (20 bytes, no options)
        hex: """
            0a 0d 0d 0a 1c 00 00 00 4d 3c 2b 1a 01 00 00 00 ff ff ff ff ff ff ff ff 1c 00 00 00 01 00 00 00 14 00
            00 00 01 00 00 00 00 00 04 00 14 00 00 00
            """, digits: 6),
    HeadCase(
        name: "pcapng big-endian, IDB without if_tsresol (default microseconds)",
        hex: """
            0a 0d 0d 0a 00 00 00 1c 1a 2b 3c 4d 00 01 00 00 ff ff ff ff ff ff ff ff 00 00 00 1c 00 00 00 01 00 00
            00 14 00 01 00 00 00 04 00 00 00 00 00 14
            """, digits: 6),
    HeadCase(
        name: "pcapng little-endian, if_tsresol 9 (nanoseconds)",
        // SHB | IDB (32 bytes): if_tsresol (code 9, length 1, value 9, 3 pad), opt_endofopt
        hex: """
            0a 0d 0d 0a 1c 00 00 00 4d 3c 2b 1a 01 00 00 00 ff ff ff ff ff ff ff ff 1c 00 00 00 01 00 00 00 20 00
            00 00 01 00 00 00 00 00 04 00 09 00 01 00 09 00 00 00 00 00 00 00 20 00 00 00
            """, digits: 9),
    HeadCase(
        name: "pcapng big-endian, if_tsresol 9 (nanoseconds)",
        hex: """
            0a 0d 0d 0a 00 00 00 1c 1a 2b 3c 4d 00 01 00 00 ff ff ff ff ff ff ff ff 00 00 00 1c 00 00 00 01 00 00
            00 20 00 01 00 00 00 04 00 00 00 09 00 01 09 00 00 00 00 00 00 00 00 00 00 20
            """, digits: 9),
    HeadCase(
        name: "pcapng little-endian, if_name \"lo\" (padded) then if_tsresol 6",
        // SHB | IDB (40 bytes): if_name (code 2, length 2, "lo", 2 pad), if_tsresol 6, opt_endofopt
        hex: """
            0a 0d 0d 0a 1c 00 00 00 4d 3c 2b 1a 01 00 00 00 ff ff ff ff ff ff ff ff 1c 00 00 00 01 00 00 00 28 00
            00 00 01 00 00 00 00 00 04 00 02 00 02 00 6c 6f 00 00 09 00 01 00 06 00 00 00 00 00 00 00 28 00 00 00
            """, digits: 6),
    HeadCase(
        name: "pcapng big-endian, if_name \"lo\" (padded) then if_tsresol 6",
        hex: """
            0a 0d 0d 0a 00 00 00 1c 1a 2b 3c 4d 00 01 00 00 ff ff ff ff ff ff ff ff 00 00 00 1c 00 00 00 01 00 00
            00 28 00 01 00 00 00 04 00 00 00 02 00 02 6c 6f 00 00 00 09 00 01 06 00 00 00 00 00 00 00 00 00 00 28
            """, digits: 6),
    HeadCase(
        name: "pcapng little-endian, if_name \"eth0\" then if_tsresol 2^-30",
        // SHB | IDB (40 bytes): if_name "eth0", if_tsresol 0x9e (power of two, 2^-30), opt_endofopt
        hex: """
            0a 0d 0d 0a 1c 00 00 00 4d 3c 2b 1a 01 00 00 00 ff ff ff ff ff ff ff ff 1c 00 00 00 01 00 00 00 28 00
            00 00 01 00 00 00 00 00 04 00 02 00 04 00 65 74 68 30 09 00 01 00 9e 00 00 00 00 00 00 00 28 00 00 00
            """, digits: 9),
    HeadCase(
        name: "pcapng big-endian, if_name \"eth0\" then if_tsresol 2^-30",
        hex: """
            0a 0d 0d 0a 00 00 00 1c 1a 2b 3c 4d 00 01 00 00 ff ff ff ff ff ff ff ff 00 00 00 1c 00 00 00 01 00 00
            00 28 00 01 00 00 00 04 00 00 00 02 00 04 65 74 68 30 00 09 00 01 9e 00 00 00 00 00 00 00 00 00 00 28
            """, digits: 9),
    HeadCase(
        name: "pcapng little-endian, if_tsresol 2^-10 (coarser than microseconds)",
        hex: """
            0a 0d 0d 0a 1c 00 00 00 4d 3c 2b 1a 01 00 00 00 ff ff ff ff ff ff ff ff 1c 00 00 00 01 00 00 00 20 00
            00 00 01 00 00 00 00 00 04 00 09 00 01 00 8a 00 00 00 00 00 00 00 20 00 00 00
            """, digits: 6),
    HeadCase(
        name: "pcapng big-endian, if_tsresol 3 (milliseconds)",
        hex: """
            0a 0d 0d 0a 00 00 00 1c 1a 2b 3c 4d 00 01 00 00 ff ff ff ff ff ff ff ff 00 00 00 1c 00 00 00 01 00 00
            00 20 00 01 00 00 00 04 00 00 00 09 00 01 03 00 00 00 00 00 00 00 00 00 00 20
            """, digits: 6),
    HeadCase(
        name: "pcapng little-endian, SHB with an option (shb_userappl), IDB if_tsresol 9",
        // SHB (44 bytes): shb_userappl "imscope" (7 bytes, 1 pad), opt_endofopt | IDB if_tsresol 9
        hex: """
            0a 0d 0d 0a 2c 00 00 00 4d 3c 2b 1a 01 00 00 00 ff ff ff ff ff ff ff ff 04 00 07 00 69 6d 73 63 6f 70
            65 00 00 00 00 00 2c 00 00 00 01 00 00 00 20 00 00 00 01 00 00 00 00 00 04 00 09 00 01 00 09 00 00 00
            00 00 00 00 20 00 00 00
            """, digits: 9),
    HeadCase(name: "fewer than 4 bytes", hex: "d4 c3", digits: 6),
    HeadCase(name: "not a capture", hex: "47 45 54 20 2f 20 48 54 54 50 2f 31 2e 31 0d 0a", digits: 6),
]

@Suite("PrecisionSniffer.precision(ofHead:)")
struct PrecisionSnifferTests {
    @Test(arguments: headCases)
    func precision(_ c: HeadCase) {
        let bytes = hex(c.hex)
        #expect(PrecisionSniffer.precision(ofHead: bytes[...]) == c.digits)
    }

    /// The head may be any slice (stdin's first read), not only one starting at index 0.
    @Test func sliceNotStartingAtZero() {
        let bytes = [0xEE, 0xEE] + hex(headCases[2].hex)
        #expect(PrecisionSniffer.precision(ofHead: bytes[2...]) == 9)
    }

    /// Every cut of a pcapng head stops cleanly: a cut IDB gives the default, never a crash.
    @Test func everyPrefixOfAPcapngHead() {
        let bytes = hex(headCases[6].hex)
        for cut in 0...bytes.count {
            let digits = PrecisionSniffer.precision(ofHead: bytes[0..<cut])
            #expect(digits == 6 || digits == 9, "cut at \(cut)")
        }
        #expect(PrecisionSniffer.precision(ofHead: bytes[...]) == 9)
    }
}
