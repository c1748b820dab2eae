import DecoderTestSupport
import EngineIO
import Testing

// The encoders against the reference encoders' vectors (the encode expectations of engine.io-parser 5.2.2 and
// 2.2.1, and the protocol READMEs' examples, as EngineIOReferenceVectorTests holds them): each case encodes packets
// and checks the exact bytes, then decodes them back through the project's decoders (`EngineIOPayload` for a
// WebSocket message, `EngineIOPolling` then `EngineIOPayload` for a payload, fed whole and one byte at a time) to
// the packets it started from. A case marked "worked out" has no vector in the references; its bytes are worked out
// from the reference encoder at that tag.

/// How a case encodes its packets.
enum EIOEncoding: Sendable, CustomStringConvertible {
    /// One packet as one WebSocket message.
    case frame
    /// One packet as one WebSocket message, binary as base64 text (`supportsBinary` false).
    case frameBase64
    /// A polling payload, text (version 3 binary packets as base64).
    case payload
    /// A polling payload with binary supported (version 3: XHR2 when a packet is binary).
    case payloadBinary
    /// A version 3 XHR2 payload, whatever the packets.
    case xhr2

    var description: String {
        switch self {
        case .frame: return "frame"
        case .frameBase64: return "frame (base64)"
        case .payload: return "payload"
        case .payloadBinary: return "payload (binary supported)"
        case .xhr2: return "XHR2 payload"
        }
    }
}

/// What a case expects: a text or binary WebSocket message, or a payload's bytes.
enum EIOEncoded: Sendable, Equatable {
    case text(String)
    case binary([UInt8])
    case payload([UInt8])

    static func payload(_ s: String) -> EIOEncoded { .payload(Array(s.utf8)) }
}

struct EIOEncoderCase: Sendable, CustomTestStringConvertible {
    var source: String
    var version: Int
    var packets: [EngineIOOutgoingPacket]
    var encoding: EIOEncoding
    var expected: EIOEncoded
    var testDescription: String { "\(source) (\(encoding))" }

    init(
        _ source: String, version: Int, _ packets: [EngineIOOutgoingPacket], _ encoding: EIOEncoding,
        _ expected: EIOEncoded
    ) {
        self.source = source
        self.version = version
        self.packets = packets
        self.encoding = encoding
        self.expected = expected
    }
}

private func msg(_ s: String) -> EngineIOOutgoingPacket { EngineIOOutgoingPacket(type: .message, text: s) }
private func bin(_ b: [UInt8]) -> EngineIOOutgoingPacket { .binaryMessage(b) }

/// A packet as the decoder tests show it: "type:data", binary data as "b" and hex.
private func shown(_ p: EngineIOOutgoingPacket) -> String {
    p.binary ? "\(p.type.name):b " + hex(p.data) : "\(p.type.name):" + String(decoding: p.data, as: UTF8.self)
}

@Suite struct EngineIOEncoderTableTests {
    static let handshakeV3 = EngineIOReferenceVectorTests.handshakeV3
    static let handshakeV4 = EngineIOReferenceVectorTests.handshakeV4

    static let v4: [EIOEncoderCase] = [
        EIOEncoderCase(
            "engine.io-parser 5.2.2 test/index.ts: should encode/decode a string", version: 4,
            [msg("test")], .frame, .text("4test")),
        EIOEncoderCase(
            "engine.io-parser 5.2.2 test/index.ts: should encode/decode all packet types", version: 4,
            [EngineIOOutgoingPacket(type: .open), .close, .pingProbe, .pongProbe, msg("test")], .payload,
            .payload("0\u{1e}1\u{1e}2probe\u{1e}3probe\u{1e}4test")),
        EIOEncoderCase(
            "engine.io-parser 5.2.2 test/node.ts: should encode/decode a Buffer", version: 4, [bin([1, 2, 3, 4])],
            .frame, .binary([1, 2, 3, 4])),
        EIOEncoderCase(
            "engine.io-parser 5.2.2 test/node.ts: should encode/decode a Buffer as base64", version: 4,
            [bin([1, 2, 3, 4])], .frameBase64, .text("bAQIDBA==")),
        EIOEncoderCase(
            "engine.io-parser 5.2.2 test/node.ts: should encode/decode a string + Buffer payload", version: 4,
            [msg("test"), bin([1, 2, 3, 4])], .payload, .payload("4test\u{1e}bAQIDBA==")),
        // Version 4 payloads are text whatever the transport supports.
        EIOEncoderCase(
            "engine.io-parser 5.2.2 test/node.ts: a string + Buffer payload (binary supported)", version: 4,
            [msg("test"), bin([1, 2, 3, 4])], .payloadBinary, .payload("4test\u{1e}bAQIDBA==")),
        EIOEncoderCase(
            "engine.io-protocol README (main): Packet encoding: HTTP long-polling", version: 4,
            [msg("hello"), .ping, msg("world")], .payload, .payload("4hello\u{1e}2\u{1e}4world")),
        EIOEncoderCase(
            "engine.io-protocol README (main): Packet encoding: HTTP long-polling (binary)", version: 4,
            [msg("hello"), bin([1, 2, 3, 4])], .payload, .payload("4hello\u{1e}bAQIDBA==")),
        EIOEncoderCase(
            "engine.io-protocol README (main): Packet encoding: WebSocket", version: 4, [msg("hello")], .frame,
            .text("4hello")),
        EIOEncoderCase(
            "engine.io-protocol README (main): Handshake", version: 4,
            [EngineIOOutgoingPacket(type: .open, text: handshakeV4)], .frame, .text("0" + handshakeV4)),
        EIOEncoderCase("engine.io-protocol README (main): Heartbeat: ping", version: 4, [.ping], .frame, .text("2")),
        EIOEncoderCase("engine.io-protocol README (main): Heartbeat: pong", version: 4, [.pong], .frame, .text("3")),
        EIOEncoderCase(
            "engine.io-protocol README (main): Upgrade: 2probe", version: 4, [.pingProbe], .frame, .text("2probe")),
        EIOEncoderCase(
            "engine.io-protocol README (main): Upgrade: 3probe", version: 4, [.pongProbe], .frame, .text("3probe")),
        EIOEncoderCase("engine.io-protocol README (main): Upgrade: 5", version: 4, [.upgrade], .frame, .text("5")),
        EIOEncoderCase(
            "engine.io-protocol test-suite: several plaintext messages", version: 4,
            [msg("test1"), msg("test2"), msg("test3")], .payload, .payload("4test1\u{1e}4test2\u{1e}4test3")),
        EIOEncoderCase("engine.io-protocol test-suite: close packet", version: 4, [.close], .payload, .payload("1")),
        EIOEncoderCase("engine.io-protocol test-suite: upgrade (noop)", version: 4, [.noop], .payload, .payload("6")),
        EIOEncoderCase(
            "socket.io-protocol Readme (main): Sample session, request n°5", version: 4,
            [msg(#"2["hello"]"#), msg(#"2["world"]"#)], .payload, .payload("42[\"hello\"]\u{1e}42[\"world\"]")),
        EIOEncoderCase(
            "socket.io-protocol Readme (main): Sample session, WebSocket BINARY_ACK", version: 4,
            [msg(#"61-/admin,1[{"_placeholder":true,"num":0}]"#)], .frame,
            .text(#"461-/admin,1[{"_placeholder":true,"num":0}]"#)),
    ]

    static let v3: [EIOEncoderCase] = [
        EIOEncoderCase(
            "engine.io-parser 2.2.1 test/parser.js: should encode packets as strings", version: 3, [msg("test")],
            .frame, .text("4test")),
        EIOEncoderCase(
            "engine.io-parser 2.2.1 test/parser.js: should allow no data", version: 3, [msg("")], .frame,
            .text("4")),
        EIOEncoderCase(
            "engine.io-parser 2.2.1 test/parser.js: should encode a close packet", version: 3, [.close], .frame,
            .text("1")),
        EIOEncoderCase(
            "engine.io-parser 2.2.1 test/parser.js: should encode a ping packet", version: 3,
            [EngineIOOutgoingPacket(type: .ping, text: "1")], .frame, .text("21")),
        EIOEncoderCase(
            "engine.io-parser 2.2.1 test/parser.js: should encode a pong packet", version: 3,
            [EngineIOOutgoingPacket(type: .pong, text: "1")], .frame, .text("31")),
        EIOEncoderCase(
            "engine.io-parser 2.2.1 test/parser.js: should encode a utf8 special chars message packet", version: 3,
            [msg("utf8 — string")], .frame, .text("4utf8 — string")),
        EIOEncoderCase(
            "engine.io-parser 2.2.1 test/parser.js: should encode an upgrade packet", version: 3, [.upgrade], .frame,
            .text("5")),
        EIOEncoderCase(
            "engine.io-parser 2.2.1 test/parser.js: should encode payloads as strings", version: 3, [.ping, .pong],
            .payload, .payload("1:21:3")),
        EIOEncoderCase(
            "engine.io-parser 2.2.1 test/parser.js: should encode string payloads as strings even if binary supported",
            version: 3, [.ping, .pong], .payloadBinary, .payload("1:21:3")),
        EIOEncoderCase(
            "engine.io-parser 2.2.1 test/parser.js: should encode/decode packets (one)", version: 3, [msg("a")],
            .payload, .payload("2:4a")),
        EIOEncoderCase(
            "engine.io-parser 2.2.1 test/parser.js: should encode/decode packets (two)", version: 3, [msg("a"), .ping],
            .payload, .payload("2:4a1:2")),
        EIOEncoderCase(
            "engine.io-parser 2.2.1 test/parser.js: should encode/decode empty payloads", version: 3, [], .payload,
            .payload("0:")),
        EIOEncoderCase(
            "engine.io-parser 2.2.1 test/parser.js: should not utf8 encode when dealing with strings only", version: 3,
            [msg("€€€"), msg("α")], .payload, .payload("4:4€€€2:4α")),
        // "😀" is two UTF-16 code units: '4😀'.length is 3.
        EIOEncoderCase(
            "engine.io-parser 2.2.1 lib/index.js: setLengthHeader counts UTF-16 code units (worked out)", version: 3,
            [msg("😀"), msg("a")], .payload, .payload("3:4😀2:4a")),
        EIOEncoderCase(
            "engine.io-parser 2.2.1 test/parser.js: should not utf8 encode by default (utf8encode, in a binary payload)",
            version: 3, [msg("€€€")], .xhr2,
            .payload([0, 1, 0, 0xFF, 0x34] + Array(repeating: [0xE2, 0x82, 0xAC], count: 3).flatMap { $0 })),
        EIOEncoderCase(
            "engine.io-parser 2.2.1 test/node/index.js: should encode a binary message", version: 3,
            [bin([0, 1, 2, 3, 4])], .frameBase64, .text("b4AAECAwQ=")),
        EIOEncoderCase(
            "engine.io-parser 2.2.1 test/node/index.js: should encode/decode mixed binary and string contents as b64",
            version: 3, [bin([0, 1, 2, 3, 4]), msg("hello 亜")], .payload, .payload("10:b4AAECAwQ=8:4hello 亜")),
        EIOEncoderCase(
            "engine.io-parser 2.2.1 test/node/index.js: should encode binary contents as binary", version: 3,
            [bin([0, 1, 2, 3, 4]), bin([5, 6, 7, 8])], .payloadBinary,
            .payload([1, 6, 255, 4, 0, 1, 2, 3, 4, 1, 5, 255, 4, 5, 6, 7, 8])),
        EIOEncoderCase(
            "engine.io-parser 2.2.1 test/node/index.js: should encode mixed binary and string contents as binary",
            version: 3, [bin((0..<123).map { UInt8($0) }), msg("hello 亜"), .close], .payloadBinary,
            .payload(
                [1, 1, 2, 4, 255, 4] + (0..<123).map { UInt8($0) } + [0, 1, 0, 255] + Array("4hello 亜".utf8)
                    + [0, 1, 255, 0x31])),
        EIOEncoderCase(
            "engine.io-parser 2.2.1 test/node/index.js: should encode/decode an ArrayBuffer as b64", version: 3,
            [bin([0, 1, 2, 3])], .frameBase64, .text("b4AAECAw==")),
        EIOEncoderCase(
            "engine.io-parser 2.2.1 test/node/index.js: should encode/decode an ArrayBuffer as binary", version: 3,
            [bin([0, 1, 2, 3])], .frame, .binary([4, 0, 1, 2, 3])),
        EIOEncoderCase(
            "engine.io-protocol README (v3): Sample session: request n°1 (open packet)", version: 3,
            [EngineIOOutgoingPacket(type: .open, text: handshakeV3)], .payload, .payload("96:0" + handshakeV3)),
        EIOEncoderCase(
            "engine.io-protocol README (v3): Sample session: request n°3 (message out)", version: 3,
            [msg("hello"), msg("world")], .payload, .payload("6:4hello6:4world")),
        EIOEncoderCase(
            "engine.io-protocol README (v3): Sample session: WebSocket frame 2probe", version: 3, [.pingProbe], .frame,
            .text("2probe")),
        EIOEncoderCase(
            "engine.io-protocol README (v3): Encoding: packet (binary 4|0|1|2|3|4|5)", version: 3,
            [bin([0, 1, 2, 3, 4, 5])], .frame, .binary([4, 0, 1, 2, 3, 4, 5])),
        EIOEncoderCase(
            "engine.io-protocol README (v3): Encoding: payload without binary", version: 3, [msg("hello"), msg("€")],
            .payload, .payload("6:4hello2:4€")),
        EIOEncoderCase(
            "engine.io-protocol README (v3): Encoding: payload with binary (XHR2)", version: 3,
            [msg("€"), bin([1, 2, 3, 4])], .payloadBinary,
            .payload([0x00, 0x04, 0xFF, 0x34, 0xE2, 0x82, 0xAC, 0x01, 0x05, 0xFF, 0x04, 0x01, 0x02, 0x03, 0x04])),
        EIOEncoderCase(
            "engine.io-protocol README (v3): Encoding: payload with binary (base64)", version: 3,
            [msg("€"), bin([1, 2, 3, 4])], .payload, .payload("2:4€10:b4AQIDBA==")),
        EIOEncoderCase(
            "socket.io-protocol Readme (v4): Sample session, request n°1 (open packet)", version: 3,
            [EngineIOOutgoingPacket(type: .open, text: handshakeV3), msg("0")], .payload,
            .payload("96:0" + handshakeV3 + "2:40")),
        // The client's side of the upgrade (worked out: encodePacket of each).
        EIOEncoderCase(
            "engine.io-parser 2.2.1: 3probe (worked out)", version: 3, [.pongProbe], .frame,
            .text("3probe")),
        EIOEncoderCase("engine.io-parser 2.2.1: noop (worked out)", version: 3, [.noop], .payload, .payload("1:6")),
    ]

    static let cases = v4 + v3

    static func encode(_ c: EIOEncoderCase) -> EIOEncoded {
        switch c.encoding {
        case .frame, .frameBase64:
            switch EngineIOEncoder.frame(c.packets[0], version: c.version, supportsBinary: c.encoding == .frame) {
            case .text(let bytes): return .text(String(decoding: bytes, as: UTF8.self))
            case .binary(let bytes): return .binary(bytes)
            }
        case .payload, .payloadBinary:
            return .payload(
                EngineIOEncoder.payload(c.packets, version: c.version, supportsBinary: c.encoding == .payloadBinary))
        case .xhr2:
            return .payload(EngineIOEncoder.binaryPayload(c.packets))
        }
    }

    @Test(arguments: cases)
    func encodesAsTheReference(_ c: EIOEncoderCase) {
        #expect(Self.encode(c) == c.expected)
    }

    @Test(arguments: cases)
    func decodesBack(_ c: EIOEncoderCase) {
        let packets = c.packets.map(shown)
        switch Self.encode(c) {
        case .text(let s):
            #expect(decodeMessage(Array(s.utf8), binary: false, version: c.version).map(stripOpen) == packets)
        case .binary(let b):
            #expect(decodeMessage(b, binary: true, version: c.version) == packets)
        case .payload(let body):
            for way in PollingWay.allCases {
                for feed in [Feed.whole, .byteAtATime] {
                    #expect(polled(body, version: c.version, way: way, feed: feed) == packets, "\(way), \(feed)")
                }
            }
        }
    }

    /// `renderVector` adds an open packet's sid; the packets compared are as `shown` writes them.
    func stripOpen(_ s: String) -> String {
        guard let r = s.range(of: " sid=") else { return s }
        return String(s[..<r.lowerBound])
    }

    /// Every case's source is named; the two versions' tables hold what their names say.
    @Test func tablesAreConsistent() {
        #expect(Self.v4.allSatisfy { $0.version == 4 })
        #expect(Self.v3.allSatisfy { $0.version == 3 })
        #expect(Self.v4.count == 20)
        #expect(Self.v3.count == 31)
    }

    @Test func utf16Length() {
        #expect(EngineIOEncoder.utf16Length(Array("a€😀".utf8)) == 4)
        #expect(EngineIOEncoder.utf16Length([]) == 0)
    }
}
