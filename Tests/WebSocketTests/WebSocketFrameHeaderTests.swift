import Testing

@testable import WebSocket

/// `WebSocketFrameHeader.parse` and `WebSocketOpcode` (RFC 6455 section 5.2).
@Suite struct WebSocketFrameHeaderTests {
    struct HeaderCase: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var expected: WebSocketFrameHeader?
        var testDescription: String { name }
    }

    static func header(
        fin: Bool = true, rsv1: Bool = false, rsv2: Bool = false, rsv3: Bool = false, opcode: UInt8,
        masked: Bool = false,
        key: UInt32 = 0, length: UInt64, headerLength: Int
    ) -> WebSocketFrameHeader {
        WebSocketFrameHeader(
            fin: fin, rsv1: rsv1, rsv2: rsv2, rsv3: rsv3, opcode: WebSocketOpcode(rawValue: opcode), masked: masked,
            maskKey: key, length: length, headerLength: headerLength)
    }

    static let cases: [HeaderCase] = [
        HeaderCase(
            name: "7-bit length 5", bytes: [0x81, 0x05], expected: header(opcode: 1, length: 5, headerLength: 2)),
        HeaderCase(
            name: "7-bit length 0", bytes: [0x82, 0x00], expected: header(opcode: 2, length: 0, headerLength: 2)),
        HeaderCase(
            name: "7-bit length 125", bytes: [0x82, 0x7D], expected: header(opcode: 2, length: 125, headerLength: 2)),
        HeaderCase(
            name: "not final", bytes: [0x01, 0x03], expected: header(fin: false, opcode: 1, length: 3, headerLength: 2)),
        HeaderCase(
            name: "16-bit length 256", bytes: [0x82, 0x7E, 0x01, 0x00],
            expected: header(opcode: 2, length: 256, headerLength: 4)),
        HeaderCase(
            name: "16-bit length 65535", bytes: [0x82, 0x7E, 0xFF, 0xFF],
            expected: header(opcode: 2, length: 65535, headerLength: 4)),
        HeaderCase(
            name: "64-bit length 65536", bytes: [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0],
            expected: header(opcode: 2, length: 65536, headerLength: 10)),
        HeaderCase(
            name: "64-bit length, all bytes used", bytes: [0x82, 0x7F, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF],
            expected: header(opcode: 2, length: 0x0123_4567_89AB_CDEF, headerLength: 10)),
        HeaderCase(
            name: "64-bit length with the most significant bit set (parsed; the stream rejects it)",
            bytes: [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1],
            expected: header(opcode: 2, length: 0x8000_0000_0000_0001, headerLength: 10)),
        HeaderCase(
            name: "masked, 7-bit (RFC 6455 section 5.7)", bytes: [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D],
            expected: header(opcode: 1, masked: true, key: 0x37FA_213D, length: 5, headerLength: 6)),
        HeaderCase(
            name: "masked, 16-bit", bytes: [0x82, 0xFE, 0x01, 0x00, 0xA1, 0xB2, 0xC3, 0xD4],
            expected: header(opcode: 2, masked: true, key: 0xA1B2_C3D4, length: 256, headerLength: 8)),
        HeaderCase(
            name: "masked, 64-bit", bytes: [0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 0xDE, 0xAD, 0xBE, 0xEF],
            expected: header(opcode: 2, masked: true, key: 0xDEAD_BEEF, length: 65536, headerLength: 14)),
        HeaderCase(
            name: "masked with a zero key", bytes: [0x89, 0x80, 0, 0, 0, 0],
            expected: header(opcode: 9, masked: true, key: 0, length: 0, headerLength: 6)),
        HeaderCase(
            name: "RSV1", bytes: [0xC1, 0x01], expected: header(rsv1: true, opcode: 1, length: 1, headerLength: 2)),
        HeaderCase(
            name: "RSV2", bytes: [0xA1, 0x01], expected: header(rsv2: true, opcode: 1, length: 1, headerLength: 2)),
        HeaderCase(
            name: "RSV3", bytes: [0x91, 0x01], expected: header(rsv3: true, opcode: 1, length: 1, headerLength: 2)),
        HeaderCase(
            name: "all RSV bits, not final", bytes: [0x72, 0x01],
            expected: header(fin: false, rsv1: true, rsv2: true, rsv3: true, opcode: 2, length: 1, headerLength: 2)),
        HeaderCase(
            name: "trailing bytes are not the header's", bytes: [0x8A, 0x01, 0x99, 0x81, 0x00],
            expected: header(opcode: 10, length: 1, headerLength: 2)),
        HeaderCase(name: "empty", bytes: [], expected: nil),
        HeaderCase(name: "one byte", bytes: [0x81], expected: nil),
        HeaderCase(name: "16-bit length cut", bytes: [0x82, 0x7E, 0x01], expected: nil),
        HeaderCase(name: "16-bit length missing", bytes: [0x82, 0x7E], expected: nil),
        HeaderCase(name: "64-bit length cut", bytes: [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0], expected: nil),
        HeaderCase(name: "mask key cut", bytes: [0x81, 0x85, 0x37, 0xFA, 0x21], expected: nil),
        HeaderCase(name: "mask key missing", bytes: [0x81, 0x85], expected: nil),
        HeaderCase(name: "16-bit masked, key cut", bytes: [0x82, 0xFE, 0x01, 0x00, 0xA1, 0xB2, 0xC3], expected: nil),
        HeaderCase(name: "64-bit masked, key cut", bytes: [0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 0xDE], expected: nil),
    ]

    @Test(arguments: cases)
    func parse(_ c: HeaderCase) {
        let parsed = c.bytes.withUnsafeBytes { WebSocketFrameHeader.parse($0) }
        #expect(parsed == c.expected)
        if let parsed {
            // The header length announced by the second byte agrees.
            #expect(WebSocketFrameHeader.headerLength(c.bytes[1]) == parsed.headerLength)
        }
    }

    /// Every prefix of a complete header is "need more bytes".
    @Test(arguments: cases.filter { $0.expected != nil })
    func prefixesNeedMore(_ c: HeaderCase) {
        let n = c.expected!.headerLength
        for k in 0..<n {
            #expect(c.bytes.prefix(k).withUnsafeBytes { WebSocketFrameHeader.parse($0) } == nil, "prefix \(k)")
        }
    }

    struct OpcodeCase: Sendable, CustomTestStringConvertible {
        var raw: UInt8
        var name: String
        var isControl: Bool
        var isKnown: Bool
        var testDescription: String { "opcode \(raw)" }
    }

    static let opcodes: [OpcodeCase] = [
        OpcodeCase(raw: 0, name: "continuation", isControl: false, isKnown: true),
        OpcodeCase(raw: 1, name: "text", isControl: false, isKnown: true),
        OpcodeCase(raw: 2, name: "binary", isControl: false, isKnown: true),
        OpcodeCase(raw: 3, name: "reserved-3", isControl: false, isKnown: false),
        OpcodeCase(raw: 4, name: "reserved-4", isControl: false, isKnown: false),
        OpcodeCase(raw: 5, name: "reserved-5", isControl: false, isKnown: false),
        OpcodeCase(raw: 6, name: "reserved-6", isControl: false, isKnown: false),
        OpcodeCase(raw: 7, name: "reserved-7", isControl: false, isKnown: false),
        OpcodeCase(raw: 8, name: "close", isControl: true, isKnown: true),
        OpcodeCase(raw: 9, name: "ping", isControl: true, isKnown: true),
        OpcodeCase(raw: 10, name: "pong", isControl: true, isKnown: true),
        OpcodeCase(raw: 11, name: "reserved-11", isControl: true, isKnown: false),
        OpcodeCase(raw: 12, name: "reserved-12", isControl: true, isKnown: false),
        OpcodeCase(raw: 13, name: "reserved-13", isControl: true, isKnown: false),
        OpcodeCase(raw: 14, name: "reserved-14", isControl: true, isKnown: false),
        OpcodeCase(raw: 15, name: "reserved-15", isControl: true, isKnown: false),
    ]

    @Test(arguments: opcodes)
    func opcode(_ c: OpcodeCase) {
        let op = WebSocketOpcode(rawValue: c.raw)
        #expect(op.rawValue == c.raw)
        #expect(op.name == c.name)
        #expect(op.isControl == c.isControl)
        #expect(op.isKnown == c.isKnown)
        // The high nibble (FIN and RSV bits) is not part of the opcode.
        #expect(WebSocketOpcode(rawValue: 0xF0 | c.raw) == op)
        // Parsed from a header byte with every flag set.
        let h = [0xF0 | c.raw, 0x00].withUnsafeBytes { WebSocketFrameHeader.parse($0) }
        #expect(h?.opcode == op)
    }

    @Test func namedOpcodes() {
        #expect(WebSocketOpcode.continuation.rawValue == 0)
        #expect(WebSocketOpcode.text.rawValue == 1)
        #expect(WebSocketOpcode.binary.rawValue == 2)
        #expect(WebSocketOpcode.close.rawValue == 8)
        #expect(WebSocketOpcode.ping.rawValue == 9)
        #expect(WebSocketOpcode.pong.rawValue == 10)
    }

    /// `headerLength(_:)` for every second byte: 2, 4 or 10, plus 4 when masked.
    @Test func headerLengthForEverySecondByte() {
        for b1 in 0...255 {
            let len = b1 & 0x7F
            let expected = (len == 126 ? 4 : len == 127 ? 10 : 2) + (b1 & 0x80 != 0 ? 4 : 0)
            #expect(WebSocketFrameHeader.headerLength(UInt8(b1)) == expected, "b1 \(b1)")
        }
    }
}
