import DecoderTestSupport
import EngineIO
import Testing

// The reference implementations' own test vectors, and the protocol specification's examples, as tables: bytes in,
// packets and diagnostics out. Read as data from (test files at the tags named, READMEs at the commits named):
//
// - socketio/engine.io-parser 5.2.2 (69d02dd, Engine.IO 4): test/index.ts, test/node.ts, and lib/index.ts and
//   lib/decodePacket.ts for behaviour the tests do not pin down (marked "lib/…").
// - socketio/engine.io-parser 2.2.1 (68c22c3, Engine.IO 3): test/parser.js, test/node/index.js.
// - socketio/engine.io-protocol README.md, main (f21de7b, version 4) and branch v3 (05468d1); test-suite/
//   test-suite.js (main): the bodies and frames it sends a server.
// - socketio/socket.io-protocol Readme.md, main (4f633dd) and branch v4 (8df2120): the Engine.IO side of their
//   sample sessions.
//
// An encoder test becomes a decoder vector: what the encoder writes (given in the test, or worked out from the
// encoder at that tag) must decode to the packets the test started from. A WebSocket message is one packet, fed
// whole (the WebSocket layer has reassembled it); a polling body goes through `EngineIOPolling` as a POST body and
// as a GET response, whole, one byte at a time and in seeded random cuts, and must decode the same every time.
//
// Packets are "type:data" (binary data as hex; an open packet adds the handshake's sid, or "! eio.bad_open");
// the fault of a WebSocket message is "! eio.bad_packet" and that of a payload "! eio.bad_payload", the
// diagnostics the pipeline raises for them. Where the reference returns its error packet, a vector expects the
// diagnostic: imscope keeps the packets before the fault, as the reference's callback has delivered them.
//
// Not turned into vectors: createPacketEncoderStream / createPacketDecoderStream (5.2.2, 15 tests: WebTransport
// framing, which imscope does not decode); and in 2.2.1, "should encode a string message with lone surrogates
// replaced by U+FFFD" (the encoder writes lone surrogates as WTF-8, which is not UTF-8 on any wire imscope reads),
// decode(undefined) and decode('4\uffff', utf8decode) (a JavaScript value, and a character no byte stream carries).
//
// Tally (vectors / decoded as the reference does / deliberate differences, listed below and in the user guide):
//   engine.io-parser 5.2.2            18 / 16 / 2
//   engine.io-parser 2.2.1            37 / 36 / 1
//   engine.io-protocol (v4, v3)       31 / 31 / 0
//   socket.io-protocol (EIO 4, 3)      9 /  9 / 0

/// Where a vector comes from.
enum EIOSource: String, Sendable {
    case parser522 = "engine.io-parser 5.2.2"
    case parser221 = "engine.io-parser 2.2.1"
    case protocolV4 = "engine.io-protocol README (main)"
    case protocolV3 = "engine.io-protocol README (v3)"
    case testSuite = "engine.io-protocol test-suite (main)"
    case socketIOProtocol = "socket.io-protocol Readme (main, v4)"
}

/// A way imscope decodes on purpose otherwise than the reference parsers; each is listed in the user guide
/// (`title` is how it starts there).
enum EIODifference: String, Sendable, CaseIterable {
    case badOpenData = "An open packet whose data is not a handshake"
    case v4DecodesPastAFault = "A version 4 payload with a bad packet"
    case strictBase64 = "Base64 with characters outside the alphabet"
}

/// What a vector feeds.
enum EIOInput: Sendable {
    /// A WebSocket text message.
    case text(String)
    /// A WebSocket binary message.
    case binary([UInt8])
    /// A polling body (text).
    case payload(String)
    /// A polling body given as bytes (version 3 binary payloads).
    case payloadBytes([UInt8])
    /// A JSONP polling response (version 3, `j=` in the request).
    case jsonp(String)
}

struct EIOVector: Sendable, CustomTestStringConvertible {
    var source: EIOSource
    /// The test (file and title) or section the vector comes from.
    var test: String
    var version: Int
    var input: EIOInput
    var expected: [String]
    var difference: EIODifference? = nil
    var testDescription: String { "\(source.rawValue): \(test)" }

    init(
        _ source: EIOSource, _ test: String, version: Int, _ input: EIOInput, _ expected: [String],
        difference: EIODifference? = nil
    ) {
        self.source = source
        self.test = test
        self.version = version
        self.input = input
        self.expected = expected
        self.difference = difference
    }
}

/// A packet as the vectors show it: an open packet adds its handshake's sid, or the diagnostic the pipeline raises.
func renderVector(_ p: EngineIOPacket) -> String {
    var s = render(p)
    if p.type == .open {
        if let h = EngineIOPayload.handshake(p.data) {
            s += " sid=\(h.sid)"
        } else if EngineIOPayload.isBadOpen(p.data) {
            s += " ! eio.bad_open"
        }
    }
    return s
}

/// Decodes a WebSocket message as the pipeline does.
func decodeMessage(_ bytes: [UInt8], binary: Bool, version: Int) -> [String] {
    var out: [String] = []
    let problem = bytes.withUnsafeBytes { raw in
        binary
            ? EngineIOPayload.decodeBinaryPacket(raw, version: version) { out.append(renderVector($0)) }
            : EngineIOPayload.decodeTextPacket(raw, version: version) { out.append(renderVector($0)) }
    }
    if problem != nil { out.append("! eio.bad_packet") }
    return out
}

@Suite struct EngineIOReferenceVectorTests {
    static let handshakeV4 =
        #"{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
    static let handshakeV3 =
        #"{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000}"#

    static let vectors: [EIOVector] = parser522 + parser221 + engineIOProtocol + socketIOProtocol

    static let parser522: [EIOVector] = [
        EIOVector(
            .parser522, "test/index.ts: should encode/decode a string", version: 4, .text("4test"), ["message:test"]),
        EIOVector(
            .parser522, "test/index.ts: should fail to decode a malformed packet (\"\")", version: 4, .text(""),
            ["! eio.bad_packet"]),
        EIOVector(
            .parser522, "test/index.ts: should fail to decode a malformed packet (\"a123\")", version: 4, .text("a123"),
            ["! eio.bad_packet"]),
        EIOVector(
            .parser522, "test/index.ts: should encode/decode all packet types", version: 4,
            .payload("0\u{1e}1\u{1e}2probe\u{1e}3probe\u{1e}4test"),
            ["open:", "close:", "ping:probe", "pong:probe", "message:test"]),
        EIOVector(
            .parser522, "test/index.ts: should fail to decode a malformed payload (\"{\")", version: 4, .payload("{"),
            ["! eio.bad_payload"]),
        EIOVector(
            .parser522, "test/index.ts: should fail to decode a malformed payload (\"{}\")", version: 4, .payload("{}"),
            ["! eio.bad_payload"]),
        EIOVector(
            .parser522, "test/index.ts: should fail to decode a malformed payload ('[\"a123\", \"a456\"]')", version: 4,
            .payload(#"["a123", "a456"]"#), ["! eio.bad_payload"]),
        EIOVector(
            .parser522, "test/node.ts: should encode/decode a Buffer", version: 4, .binary([1, 2, 3, 4]),
            ["message:b 01 02 03 04"]),
        EIOVector(
            .parser522, "test/node.ts: should encode/decode a Buffer as base64", version: 4, .text("bAQIDBA=="),
            ["message:b 01 02 03 04"]),
        EIOVector(
            .parser522, "test/node.ts: should encode/decode an ArrayBuffer", version: 4, .binary([1, 2, 3, 4]),
            ["message:b 01 02 03 04"]),
        EIOVector(
            .parser522, "test/node.ts: should encode/decode an ArrayBuffer as base64", version: 4, .text("bAQIDBA=="),
            ["message:b 01 02 03 04"]),
        // Int16Array [257, 258, 259, 260], sent as it lies in memory (little-endian).
        EIOVector(
            .parser522, "test/node.ts: should encode a typed array", version: 4, .binary([1, 1, 2, 1, 3, 1, 4, 1]),
            ["message:b 01 01 02 01 03 01 04 01"]),
        EIOVector(
            .parser522, "test/node.ts: should encode a typed array (with offset and length)", version: 4,
            .binary([2, 3]), ["message:b 02 03"]),
        EIOVector(
            .parser522, "test/node.ts: should decode an ArrayBuffer as ArrayBuffer", version: 4, .binary([1, 2, 3, 4]),
            ["message:b 01 02 03 04"]),
        EIOVector(
            .parser522, "test/node.ts: should encode/decode a string + Buffer payload", version: 4,
            .payload("4test\u{1e}bAQIDBA=="), ["message:test", "message:b 01 02 03 04"]),
        // decodePayload("") splits into [""], and decodePacket("") is the error packet.
        EIOVector(
            .parser522, "lib/index.ts: decodePayload of an empty payload", version: 4, .payload(""),
            ["! eio.bad_payload"]),
        // decodePayload stops at the first error packet: "4b" is not decoded there.
        EIOVector(
            .parser522, "lib/index.ts: decodePayload stops at the first error packet", version: 4,
            .payload("4a\u{1e}x\u{1e}4b"), ["message:a", "message:b", "! eio.bad_payload"],
            difference: .v4DecodesPastAFault),
        // Buffer.from("AQ*ID", "base64") skips the "*": 01 02 03.
        EIOVector(
            .parser522, "lib/decodePacket.ts: Buffer.from(…, \"base64\") skips what is not base64", version: 4,
            .text("bAQ*ID"), ["! eio.bad_packet"], difference: .strictBase64),
    ]

    static let parser221: [EIOVector] = [
        EIOVector(
            .parser221, "test/parser.js: should encode packets as strings / decode packets as objects", version: 3,
            .text("4test"), ["message:test"]),
        EIOVector(.parser221, "test/parser.js: should allow no data", version: 3, .text("4"), ["message:"]),
        EIOVector(
            .parser221, "test/parser.js: should encode an open packet", version: 3, .text(#"0{"some":"json"}"#),
            [#"open:{"some":"json"} ! eio.bad_open"#], difference: .badOpenData),
        EIOVector(.parser221, "test/parser.js: should encode a close packet", version: 3, .text("1"), ["close:"]),
        EIOVector(.parser221, "test/parser.js: should encode a ping packet", version: 3, .text("21"), ["ping:1"]),
        EIOVector(.parser221, "test/parser.js: should encode a pong packet", version: 3, .text("31"), ["pong:1"]),
        EIOVector(
            .parser221, "test/parser.js: should encode a message packet", version: 3, .text("4aaa"), ["message:aaa"]),
        EIOVector(
            .parser221, "test/parser.js: should encode a utf8 special chars message packet", version: 3,
            .text("4utf8 — string"), ["message:utf8 — string"]),
        EIOVector(
            .parser221, "test/parser.js: should not utf8 encode by default", version: 3, .text("4€€€"), ["message:€€€"]),
        // utf8encode: each UTF-8 byte a character, as a binary payload carries a string: "4€€€" is 10 bytes.
        EIOVector(
            .parser221, "test/parser.js: should not utf8 encode by default (utf8encode, in a binary payload)",
            version: 3,
            .payloadBytes([0, 1, 0, 0xFF, 0x34] + Array(repeating: [0xE2, 0x82, 0xAC], count: 3).flatMap { $0 }),
            ["message:€€€"]),
        EIOVector(
            .parser221, "test/parser.js: should encode a message packet coercing to string", version: 3, .text("41"),
            ["message:1"]),
        EIOVector(.parser221, "test/parser.js: should encode an upgrade packet", version: 3, .text("5"), ["upgrade:"]),
        EIOVector(
            .parser221, "test/parser.js: should disallow bad format", version: 3, .text(":::"), ["! eio.bad_packet"]),
        EIOVector(
            .parser221, "test/parser.js: should disallow inexistent types", version: 3, .text("94103"),
            ["! eio.bad_packet"]),
        EIOVector(
            .parser221, "test/parser.js: should encode payloads as strings", version: 3, .payload("1:21:3"),
            ["ping:", "pong:"]),
        EIOVector(
            .parser221, "test/parser.js: should encode string payloads as strings even if binary supported", version: 3,
            .payload("1:21:3"), ["ping:", "pong:"]),
        EIOVector(
            .parser221, "test/parser.js: should encode/decode packets (one)", version: 3, .payload("2:4a"),
            ["message:a"]),
        EIOVector(
            .parser221, "test/parser.js: should encode/decode packets (two)", version: 3, .payload("2:4a1:2"),
            ["message:a", "ping:"]),
        // encodePayload([]) is "0:"; decoding it calls back nothing.
        EIOVector(.parser221, "test/parser.js: should encode/decode empty payloads", version: 3, .payload("0:"), []),
        EIOVector(
            .parser221, "test/parser.js: should not utf8 encode when dealing with strings only", version: 3,
            .payload("4:4€€€2:4α"), ["message:€€€", "message:α"]),
        EIOVector(
            .parser221, "test/parser.js: should err on bad payload format ('1!')", version: 3, .payload("1!"),
            ["! eio.bad_payload"]),
        EIOVector(
            .parser221, "test/parser.js: should err on bad payload format ('')", version: 3, .payload(""),
            ["! eio.bad_payload"]),
        EIOVector(
            .parser221, "test/parser.js: should err on bad payload format ('))')", version: 3, .payload("))"),
            ["! eio.bad_payload"]),
        EIOVector(
            .parser221, "test/parser.js: should err on bad payload format (Buffer [64])", version: 3,
            .payloadBytes([64]),
            ["! eio.bad_payload"]),
        EIOVector(
            .parser221, "test/parser.js: should err on bad payload length", version: 3, .payload("1:"),
            ["! eio.bad_payload"]),
        EIOVector(
            .parser221, "test/parser.js: should err on bad packet format ('3:99:')", version: 3, .payload("3:99:"),
            ["! eio.bad_payload"]),
        EIOVector(
            .parser221, "test/parser.js: should err on bad packet format ('1:aa')", version: 3, .payload("1:aa"),
            ["! eio.bad_payload"]),
        EIOVector(
            .parser221, "test/parser.js: should err on bad packet format ('1:a2:b')", version: 3, .payload("1:a2:b"),
            ["! eio.bad_payload"]),
        EIOVector(
            .parser221, "test/node/index.js: should encode a binary message", version: 3, .text("b4AAECAwQ="),
            ["message:b 00 01 02 03 04"]),
        EIOVector(
            .parser221, "test/node/index.js: should encode/decode mixed binary and string contents as b64", version: 3,
            .payload("10:b4AAECAwQ=8:4hello 亜"), ["message:b 00 01 02 03 04", "message:hello 亜"]),
        EIOVector(
            .parser221, "test/node/index.js: should encode binary contents as binary", version: 3,
            .payloadBytes([1, 6, 255, 4, 0, 1, 2, 3, 4, 1, 5, 255, 4, 5, 6, 7, 8]),
            ["message:b 00 01 02 03 04", "message:b 05 06 07 08"]),
        // 123 bytes 0…122 (124 with the type byte), "4hello 亜" as 10 UTF-8 bytes, and a close packet.
        EIOVector(
            .parser221, "test/node/index.js: should encode mixed binary and string contents as binary", version: 3,
            .payloadBytes(
                [1, 1, 2, 4, 255, 4] + (0..<123).map { UInt8($0) } + [0, 1, 0, 255] + Array("4hello 亜".utf8)
                    + [0, 1, 255, 0x31]),
            ["message:b " + hex((0..<123).map { UInt8($0) }), "message:hello 亜", "close:"]),
        EIOVector(
            .parser221, "test/node/index.js: should encode/decode an ArrayBuffer as b64", version: 3,
            .text("b4AAECAw=="),
            ["message:b 00 01 02 03"]),
        EIOVector(
            .parser221, "test/node/index.js: should encode/decode an ArrayBuffer as binary", version: 3,
            .binary([4, 0, 1, 2, 3]), ["message:b 00 01 02 03"]),
        // Int32Array [1, 2] at offset 4 of its buffer: the 8 bytes it views, little-endian.
        EIOVector(
            .parser221, "test/node/index.js: should encode/decode a typed array as binary", version: 3,
            .binary([4, 1, 0, 0, 0, 2, 0, 0, 0]), ["message:b 01 00 00 00 02 00 00 00"]),
        EIOVector(
            .parser221, "test/node/index.js: should decode an ArrayBuffer as binary", version: 3,
            .binary([4, 3, 2, 1]), ["message:b 03 02 01"]),
        EIOVector(
            .parser221, "test/node/index.js: should decode an ArrayBuffer without specifying binaryType", version: 3,
            .binary([4, 3, 2, 1]), ["message:b 03 02 01"]),
    ]

    static let engineIOProtocol: [EIOVector] = [
        EIOVector(
            .protocolV4, "Packet encoding: HTTP long-polling", version: 4, .payload("4hello\u{1e}2\u{1e}4world"),
            ["message:hello", "ping:", "message:world"]),
        EIOVector(
            .protocolV4, "Packet encoding: HTTP long-polling (binary)", version: 4, .payload("4hello\u{1e}bAQIDBA=="),
            ["message:hello", "message:b 01 02 03 04"]),
        EIOVector(.protocolV4, "Packet encoding: WebSocket", version: 4, .text("4hello"), ["message:hello"]),
        EIOVector(
            .protocolV4, "Packet encoding: WebSocket (binary, sent as is)", version: 4, .binary([1, 2, 3, 4]),
            ["message:b 01 02 03 04"]),
        EIOVector(
            .protocolV4, "Handshake", version: 4, .text("0" + handshakeV4),
            ["open:\(handshakeV4) sid=lv_VI97HAXpY6yYWAAAC"]),
        EIOVector(.protocolV4, "Heartbeat: ping", version: 4, .text("2"), ["ping:"]),
        EIOVector(.protocolV4, "Heartbeat: pong", version: 4, .text("3"), ["pong:"]),
        EIOVector(.protocolV4, "Upgrade: 2probe", version: 4, .text("2probe"), ["ping:probe"]),
        EIOVector(.protocolV4, "Upgrade: 3probe", version: 4, .text("3probe"), ["pong:probe"]),
        EIOVector(.protocolV4, "Upgrade: 5", version: 4, .text("5"), ["upgrade:"]),
        EIOVector(
            .testSuite, "should send and receive a plaintext message", version: 4, .payload("4hello"), ["message:hello"]
        ),
        EIOVector(
            .testSuite, "should send and receive several plaintext messages", version: 4,
            .payload("4test1\u{1e}4test2\u{1e}4test3"), ["message:test1", "message:test2", "message:test3"]),
        EIOVector(
            .testSuite, "should send and receive plaintext and binary messages", version: 4,
            .payload("4hello\u{1e}bAQIDBA=="), ["message:hello", "message:b 01 02 03 04"]),
        // The server answers 400: the body is no payload.
        EIOVector(
            .testSuite, "should close the session upon invalid packet format (polling)", version: 4, .payload("abc"),
            ["! eio.bad_payload"]),
        EIOVector(
            .testSuite, "should close the session upon invalid packet format (WebSocket)", version: 4, .text("abc"),
            ["! eio.bad_packet"]),
        EIOVector(.testSuite, "should close the session upon close packet", version: 4, .payload("1"), ["close:"]),
        EIOVector(.testSuite, "should send ping/pong packets (ping)", version: 4, .payload("2"), ["ping:"]),
        EIOVector(.testSuite, "should send ping/pong packets (pong)", version: 4, .payload("3"), ["pong:"]),
        EIOVector(
            .testSuite, "should successfully upgrade from HTTP long-polling to WebSocket (noop)", version: 4,
            .payload("6"), ["noop:"]),
        EIOVector(
            .protocolV3, "Sample session: request n°1 (open packet)", version: 3, .payload("96:0" + handshakeV3),
            ["open:\(handshakeV3) sid=lv_VI97HAXpY6yYWAAAC"]),
        EIOVector(
            .protocolV3, "Sample session: request n°2 (message in)", version: 3, .payload("4:4hey"), ["message:hey"]),
        EIOVector(
            .protocolV3, "Sample session: request n°3 (message out)", version: 3, .payload("6:4hello6:4world"),
            ["message:hello", "message:world"]),
        EIOVector(
            .protocolV3, "Sample session with WebSocket only: handshake", version: 3,
            .text(#"0{"sid":"lv_VI97HAXpY6yYWAAAC","pingInterval":25000,"pingTimeout":5000}"#),
            [#"open:{"sid":"lv_VI97HAXpY6yYWAAAC","pingInterval":25000,"pingTimeout":5000} sid=lv_VI97HAXpY6yYWAAAC"#]),
        EIOVector(.protocolV3, "Sample session: WebSocket frame 2probe", version: 3, .text("2probe"), ["ping:probe"]),
        EIOVector(.protocolV3, "Sample session: WebSocket frame 1 (close)", version: 3, .text("1"), ["close:"]),
        EIOVector(
            .protocolV3, "Encoding: packet (binary 4|0|1|2|3|4|5)", version: 3, .binary([4, 0, 1, 2, 3, 4, 5]),
            ["message:b 00 01 02 03 04 05"]),
        EIOVector(
            .protocolV3, "Encoding: payload without binary", version: 3, .payload("6:4hello2:4€"),
            ["message:hello", "message:€"]),
        EIOVector(
            .protocolV3, "Encoding: payload with binary (XHR2)", version: 3,
            .payloadBytes([0x00, 0x04, 0xFF, 0x34, 0xE2, 0x82, 0xAC, 0x01, 0x05, 0xFF, 0x04, 0x01, 0x02, 0x03, 0x04]),
            ["message:€", "message:b 01 02 03 04"]),
        EIOVector(
            .protocolV3, "Encoding: payload with binary (base64)", version: 3, .payload("2:4€10:b4AQIDBA=="),
            ["message:€", "message:b 01 02 03 04"]),
        // The README's "packet data" stands for a payload and is none: the client's decodePayload fails on it too.
        EIOVector(
            .protocolV3, "Transports: JSONP frame", version: 3, .jsonp(#"___eio[4]("packet data");"#),
            ["! eio.bad_payload"]),
        EIOVector(
            .protocolV3, "Transports: JSONP frame (with a payload)", version: 3, .jsonp(#"___eio[4]("4:4hey");"#),
            ["message:hey"]),
    ]

    static let socketIOProtocol: [EIOVector] = [
        EIOVector(
            .socketIOProtocol, "main: Sample session, request n°1 (open packet)", version: 4,
            .payload(
                #"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000,"maxPayload":1000000}"#
            ),
            [
                #"open:{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000,"maxPayload":1000000} sid=lv_VI97HAXpY6yYWAAAC"#
            ]),
        EIOVector(.socketIOProtocol, "main: Sample session, request n°2", version: 4, .payload("40"), ["message:0"]),
        EIOVector(
            .socketIOProtocol, "main: Sample session, request n°3", version: 4,
            .payload(#"40{"sid":"wZX3oN0bSVIhsaknAAAI"}"#),
            [#"message:0{"sid":"wZX3oN0bSVIhsaknAAAI"}"#]),
        EIOVector(
            .socketIOProtocol, "main: Sample session, request n°4", version: 4, .payload(#"42["hey","Jude"]"#),
            [#"message:2["hey","Jude"]"#]),
        EIOVector(
            .socketIOProtocol, "main: Sample session, request n°5", version: 4,
            .payload("42[\"hello\"]\u{1e}42[\"world\"]"),
            [#"message:2["hello"]"#, #"message:2["world"]"#]),
        EIOVector(
            .socketIOProtocol, "main: Sample session, WebSocket BINARY_ACK", version: 4,
            .text(#"461-/admin,1[{"_placeholder":true,"num":0}]"#),
            [#"message:61-/admin,1[{"_placeholder":true,"num":0}]"#]),
        EIOVector(
            .socketIOProtocol, "v4: Sample session, request n°1 (open packet)", version: 3,
            .payload("96:0" + handshakeV3 + "2:40"),
            ["open:\(handshakeV3) sid=lv_VI97HAXpY6yYWAAAC", "message:0"]),
        EIOVector(
            .socketIOProtocol, "v4: Sample session, request n°2", version: 3, .payload(#"16:42["hey","Jude"]"#),
            [#"message:2["hey","Jude"]"#]),
        EIOVector(
            .socketIOProtocol, "v4: Sample session, request n°3", version: 3,
            .payload(#"11:42["hello"]11:42["world"]"#),
            [#"message:2["hello"]"#, #"message:2["world"]"#]),
    ]

    @Test(arguments: vectors)
    func vector(_ v: EIOVector) {
        switch v.input {
        case .text(let text):
            #expect(decodeMessage(Array(text.utf8), binary: false, version: v.version) == v.expected)
        case .binary(let bytes):
            #expect(decodeMessage(bytes, binary: true, version: v.version) == v.expected)
        case .payload, .payloadBytes, .jsonp:
            let body: [UInt8]
            switch v.input {
            case .payload(let text), .jsonp(let text): body = Array(text.utf8)
            case .payloadBytes(let bytes): body = bytes
            default: body = []
            }
            var jsonp = false
            if case .jsonp = v.input { jsonp = true }
            for way in PollingWay.allCases {
                for feed in Feed.allCases {
                    let got = polled(body, version: v.version, jsonp: jsonp, way: way, feed: feed, render: renderVector)
                        .map { $0.hasPrefix("! ") && !$0.hasPrefix("! eio.") ? "! eio.bad_payload" : $0 }
                    #expect(got == v.expected, "\(way), \(feed)")
                }
            }
        }
    }

    /// Every difference a vector names is in the user guide's list, and every one listed there is used.
    @Test func differencesAreDocumented() throws {
        let guide = try userGuideDifferences()
        for d in EIODifference.allCases {
            #expect(guide.contains(d.rawValue), "\(d.rawValue)")
            #expect(Self.vectors.contains { $0.difference == d }, "\(d) names no vector")
        }
    }

    /// The tally in the header, kept true.
    @Test func tally() {
        func count(_ sources: [EIOSource]) -> [Int] {
            let vs = Self.vectors.filter { sources.contains($0.source) }
            let differing = vs.filter { $0.difference != nil }.count
            return [vs.count, vs.count - differing, differing]
        }
        #expect(count([.parser522]) == [18, 16, 2])
        #expect(count([.parser221]) == [37, 36, 1])
        #expect(count([.protocolV4, .protocolV3, .testSuite]) == [31, 31, 0])
        #expect(count([.socketIOProtocol]) == [9, 9, 0])
    }
}
