import DecoderTestSupport
import SocketIO
import Testing

// The encoder against the reference encoders' vectors (the `encode` expectations of socket.io-parser 4.2.4 and
// 3.4.3, and the protocol Readmes' examples, as SocketIOReferenceVectorTests holds them): each case encodes a packet
// and checks the exact text and attachments, then decodes them back through a `SocketIOSession` to the record the
// reference vector expects. A case marked "worked out" has no vector in the references; its text is worked out from
// `encodeAsString` at that tag. Then every message the decoder makes of every reference vector is encoded again
// (decode → encode → decode), and must give the same record, from the same bytes.

struct SIOEncoderCase: Sendable, CustomTestStringConvertible {
    var source: String
    var protocolVersion: Int
    var packet: SocketIOOutgoingPacket
    var text: String
    var attachments: [[UInt8]]
    /// The record the encoded packet decodes to (`renderVector`, without the ack's pairing).
    var record: String
    var testDescription: String { source }

    init(
        _ source: String, _ protocolVersion: Int, _ packet: SocketIOOutgoingPacket, _ text: String,
        _ attachments: [[UInt8]], _ record: String
    ) {
        self.source = source
        self.protocolVersion = protocolVersion
        self.packet = packet
        self.text = text
        self.attachments = attachments
        self.record = record
    }

    init(
        _ source: String, _ protocolVersion: Int, _ packet: SocketIOOutgoingPacket, _ text: String, _ record: String
    ) {
        self.init(source, protocolVersion, packet, text, [], record)
    }
}

private func json(_ s: String) -> [UInt8] { Array(s.utf8) }
private func ph(_ n: Int) -> String { placeholder(n) }

/// A record as `renderVector` shows it, without `answers` (a packet decoded alone answers nothing).
func renderAlone(_ m: SocketIOMessage) -> String {
    var m = m
    m.answers = nil
    return renderVector(m)
}

/// Decodes an encoded packet in a session of its own: the records, without the problems (an ACK fed alone is
/// `sio.ack_unmatched`).
func decodeAlone(_ e: SocketIOEncodedPacket, protocolVersion: Int) -> [String] {
    let steps: [SessionStep] = [.textBytes(.client, e.text)] + e.attachments.map { .binaryBytes(.client, $0) }
    return run(steps, protocolVersion: protocolVersion, details: false, .events, render: renderAlone).filter {
        !$0.hasPrefix("! ")
    }
}

@Suite struct SocketIOEncoderTableTests {
    static let cases: [SIOEncoderCase] = [
        SIOEncoderCase(
            "socket.io-parser 4.2.4 test/parser.js: encodes connection", 5,
            .connect(namespace: "/woot", auth: json(#"{"token":"123"}"#)), #"0/woot,{"token":"123"}"#,
            #"CONNECT /woot {"token":"123"}"#),
        SIOEncoderCase(
            "socket.io-parser 3.4.3 test/parser.js: encodes connection", 4, .connect(namespace: "/woot"), "0/woot,",
            "CONNECT /woot"),
        // socket.io-client 2 puts the query in the namespace: `nsp + '?' + query`.
        SIOEncoderCase(
            "socket.io-parser 3.4.3: CONNECT with a query (worked out)", 4, .connect(namespace: "/admin?token=abc"),
            "0/admin?token=abc,", "CONNECT /admin?token=abc"),
        SIOEncoderCase("socket.io-protocol Readme (main): main namespace", 5, .connect(), "0", "CONNECT /"),
        SIOEncoderCase(
            "socket.io-protocol Readme (main): custom namespace", 5,
            .connect(namespace: "/admin", auth: json(#"{"sid":"oSO0OpakMV_3jnilAAAA"}"#)),
            #"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#, #"CONNECT /admin {"sid":"oSO0OpakMV_3jnilAAAA"}"#),
        SIOEncoderCase(
            "socket.io-parser 4.2.4 test/parser.js: encodes disconnection", 5, .disconnect(namespace: "/woot"),
            "1/woot,", "DISCONNECT /woot"),
        SIOEncoderCase(
            "socket.io-protocol Readme (main): Disconnection: main namespace", 5, .disconnect(), "1", "DISCONNECT /"),
        SIOEncoderCase(
            "socket.io-parser 4.2.4 test/parser.js: encodes an event", 5,
            .event(elements: [json(#""a""#), json("1"), json("{}")]), #"2["a",1,{}]"#,
            #"EVENT / ["a",1,{}] event=a"#),
        SIOEncoderCase(
            "socket.io-parser 4.2.4 test/parser.js: encodes an event (with an integer as event name)", 5,
            .event(elements: [json("1"), json(#""a""#), json("{}")]), #"2[1,"a",{}]"#,
            #"EVENT / [1,"a",{}] event=1"#),
        SIOEncoderCase(
            "socket.io-parser 4.2.4 test/parser.js: encodes an event (with ack)", 5,
            .event(namespace: "/test", ackId: 1, elements: [json(#""a""#), json("1"), json("{}")]),
            #"2/test,1["a",1,{}]"#, #"EVENT /test #1 ["a",1,{}] event=a"#),
        SIOEncoderCase(
            "socket.io-parser 3.4.3 test/parser.js: encodes an event (2nd)", 4,
            .event(namespace: "/test", ackId: 1, elements: [json(#""a""#), json("1"), json("{}")]),
            #"2/test,1["a",1,{}]"#, #"EVENT /test #1 ["a",1,{}] event=a"#),
        SIOEncoderCase(
            "socket.io-parser 4.2.4 test/parser.js: encodes an ack", 5,
            .ack(ackId: 123, arguments: [json(#""a""#), json("1"), json("{}")]), #"3123["a",1,{}]"#,
            #"ACK / #123 ["a",1,{}]"#),
        SIOEncoderCase(
            "socket.io-protocol Readme (main): Acknowledgement: main namespace", 5, .ack(ackId: 12, arguments: []),
            "312[]", "ACK / #12 []"),
        SIOEncoderCase(
            "socket.io-protocol Readme (v4): EVENT with an acknowledgement id, then ACK", 4,
            .ack(namespace: "/admin", ackId: 456, arguments: []), "3/admin,456[]", "ACK /admin #456 []"),
        SIOEncoderCase(
            "socket.io-parser 4.2.4 test/parser.js: encodes an connect error", 5,
            SocketIOOutgoingPacket(type: .connectError, data: json(#""Unauthorized""#)), #"4"Unauthorized""#,
            #"CONNECT_ERROR / "Unauthorized""#),
        SIOEncoderCase(
            "socket.io-parser 4.2.4 test/parser.js: encodes an connect error (with object)", 5,
            SocketIOOutgoingPacket(type: .connectError, data: json(#"{"message":"Unauthorized"}"#)),
            #"4{"message":"Unauthorized"}"#, #"CONNECT_ERROR / {"message":"Unauthorized"}"#),
        SIOEncoderCase(
            "socket.io-protocol Readme (v4): ERROR", 4,
            SocketIOOutgoingPacket(type: .connectError, namespace: "/admin", data: json(#""Not authorized""#)),
            #"4/admin,"Not authorized""#, #"CONNECT_ERROR /admin "Not authorized""#),
        SIOEncoderCase(
            "socket.io-parser 4.2.4 test/buffer.js: encodes a Buffer", 5,
            .event(
                namespace: "/cool", ackId: 23, elements: [json(#""a""#), SocketIOEncoder.placeholder(0)],
                attachments: [json("abc")]), #"51-/cool,23["a",\#(ph(0))]"#, [json("abc")],
            #"BINARY_EVENT /cool #23 ["a",\#(ph(0))] event=a att[61 62 63]"#),
        SIOEncoderCase(
            "socket.io-parser 3.4.3 test/buffer.js: encodes a nested Buffer", 4,
            .event(
                namespace: "/cool", ackId: 23, elements: [json(#""a""#), json(#"{"b":["c",\#(ph(0))]}"#)],
                attachments: [json("abc")]), #"51-/cool,23["a",{"b":["c",\#(ph(0))]}]"#, [json("abc")],
            #"BINARY_EVENT /cool #23 ["a",{"b":["c",\#(ph(0))]}] event=a att[61 62 63]"#),
        SIOEncoderCase(
            "socket.io-parser 4.2.4 test/buffer.js: encodes a binary ack with Buffer", 5,
            .ack(
                namespace: "/back", ackId: 127, arguments: [json(#""a""#), SocketIOEncoder.placeholder(0), json("{}")],
                attachments: [json("xxx")]), #"61-/back,127["a",\#(ph(0)),{}]"#, [json("xxx")],
            #"BINARY_ACK /back #127 ["a",\#(ph(0)),{}] att[78 78 78]"#),
        SIOEncoderCase(
            "socket.io-parser 4.2.4 test/arraybuffer.js: encodes ArrayBuffers deep in JSON", 5,
            .event(
                namespace: "/deep", ackId: 999,
                elements: [
                    json(#""a""#), json(#"{"a":"hi","b":{"why":\#(ph(0))},"c":{"a":"bye","b":{"a":\#(ph(1))}}}"#),
                ], attachments: [[0, 0, 0], [0, 0, 0, 0, 0, 0]]),
            #"52-/deep,999["a",{"a":"hi","b":{"why":\#(ph(0))},"c":{"a":"bye","b":{"a":\#(ph(1))}}}]"#,
            [[0, 0, 0], [0, 0, 0, 0, 0, 0]],
            #"BINARY_EVENT /deep #999 ["a",{"a":"hi","b":{"why":\#(ph(0))},"c":{"a":"bye","b":{"a":\#(ph(1))}}}] event=a att[00 00 00|00 00 00 00 00 00]"#
        ),
        SIOEncoderCase(
            "socket.io-protocol Readme (main): Sending and receiving data: multiple attachments", 5,
            .event(
                namespace: "/admin",
                elements: [json(#""baz""#), SocketIOEncoder.placeholder(0), SocketIOEncoder.placeholder(1)],
                attachments: [[1, 2], [3, 4]]), #"52-/admin,["baz",\#(ph(0)),\#(ph(1))]"#, [[1, 2], [3, 4]],
            #"BINARY_EVENT /admin ["baz",\#(ph(0)),\#(ph(1))] event=baz att[01 02|03 04]"#),
        SIOEncoderCase(
            "socket.io-protocol Readme (v4): BINARY_EVENT with an acknowledgement id, then BINARY_ACK", 4,
            .ack(
                namespace: "/admin", ackId: 456, arguments: [SocketIOEncoder.placeholder(0)], attachments: [[3, 2, 1]]),
            #"61-/admin,456[\#(ph(0))]"#, [[3, 2, 1]], #"BINARY_ACK /admin #456 [\#(ph(0))] att[03 02 01]"#),
    ]

    @Test(arguments: cases)
    func encodesAsTheReference(_ c: SIOEncoderCase) {
        let e = SocketIOEncoder.encode(c.packet)
        #expect(String(decoding: e.text, as: UTF8.self) == c.text)
        #expect(e.attachments == c.attachments)
    }

    @Test(arguments: cases)
    func decodesBack(_ c: SIOEncoderCase) {
        #expect(decodeAlone(SocketIOEncoder.encode(c.packet), protocolVersion: c.protocolVersion) == [c.record])
    }

    /// decode → encode → decode over every reference vector: each message the decoder makes, encoded again from
    /// the decoded message (its JSON as recorded), is the same text and attachments, and decodes to the same record.
    @Test(arguments: SocketIOReferenceVectorTests.vectors)
    func roundTrip(_ v: SIOVector) {
        let version = v.source.protocolVersion
        var seen = 0
        _ = run(v.steps, protocolVersion: version, details: false, .events) { m in
            seen += 1
            let e = SocketIOEncoder.encode(SocketIOOutgoingPacket(m))
            #expect(e.text == Array(m.text), "the same text")
            #expect(e.attachments == (m.packet.type.isBinary ? m.attachments : []), "the same attachments")
            #expect(decodeAlone(e, protocolVersion: version) == [renderAlone(m)])
            return ""
        }
        #expect(seen == v.expected.filter { !$0.hasPrefix("! ") }.count)
    }

    /// A replay renumbers acks and may move a packet to another namespace: the arguments' JSON stays as recorded.
    @Test func reencodeWithNewAckIdAndNamespace() {
        let recorded: [SessionStep] = [
            .text(.client, #"51-/cool,23["a",\#(ph(0)),{"x" : 1}]"#), .binary(.client, "abc"),
        ]
        var out: [SocketIOEncodedPacket] = []
        var elements: [[UInt8]]? = nil
        _ = run(recorded, details: false, .events) { m in
            out.append(SocketIOEncoder.encode(SocketIOOutgoingPacket(m, namespace: "/", ackId: 7)))
            out.append(SocketIOEncoder.encode(SocketIOOutgoingPacket(m, ackId: .some(nil))))
            elements = SocketIOOutgoingPacket.elements(of: m)
            return ""
        }
        #expect(
            out.map { String(decoding: $0.text, as: UTF8.self) } == [
                #"51-7["a",\#(ph(0)),{"x" : 1}]"#, #"51-/cool,["a",\#(ph(0)),{"x" : 1}]"#,
            ])
        #expect(out.map(\.attachments) == [[json("abc")], [json("abc")]])
        #expect(elements == [json(#""a""#), json(ph(0)), json(#"{"x" : 1}"#)])
    }

    @Test func tally() {
        #expect(Self.cases.count == 23)
        #expect(SocketIOReferenceVectorTests.vectors.count == 116)
    }
}
