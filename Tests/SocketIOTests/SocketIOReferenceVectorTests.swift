import DecoderTestSupport
import SocketIO
import Testing

// The reference implementations' own test vectors, and the protocol specification's examples, as tables: packets
// in, records and diagnostics out. Read as data from (test files at the tags named, Readmes at the commits named):
//
// - socketio/socket.io-parser 4.2.4 (164ba2a, Socket.IO protocol 5, over Engine.IO 4): test/parser.js,
//   test/buffer.js, test/arraybuffer.js, test/blob.js, and lib/index.ts for behaviour the tests do not pin down
//   (marked "lib/…").
// - socketio/socket.io-parser 3.4.3 (060339a, protocol 4, over Engine.IO 3): test/parser.js, test/buffer.js,
//   test/arraybuffer.js, test/blob.js, index.js.
// - socketio/socket.io-protocol Readme.md, main (4f633dd, protocol 5) and branch v4 (8df2120, protocol 4): the
//   packet encodings and the Socket.IO side of the sample sessions. (Main's `3/admin,13["bar"]` is followed by a
//   stray backquote in the Readme, left out.)
//
// An encoder test becomes a decoder vector: the packet the encoder writes (worked out from the encoder at that tag:
// `<type>[<n>-][<nsp>,][<id>][JSON.stringify(data)]`, then the attachments) must decode to the packet the test
// started from. A `SocketIOSession` is fed whole Engine.IO messages, never a byte stream (see
// SocketIOSessionTableTests); each vector runs with both deliveries. Ack ids are paired by the session, which the
// parsers do not do: an ACK fed without its request is also `sio.ack_unmatched`, and that is no difference.
// socket.io-parser 4 reports a reassembled binary packet as EVENT/ACK; imscope keeps the type on the wire
// (BINARY_EVENT/BINARY_ACK) and its attachment count: a matter of presentation.
//
// Records: `TYPE nsp [#id] [payload as sent] [event=name] [att[hex|hex]] [answers frame]`; a diagnostic: `! code`.
// Where the reference throws, the vector expects the diagnostic; where it throws "invalid payload" or "illegal
// attachments" on a packet imscope can read, imscope keeps the record as well (`keptWithDiagnostic`: that is the
// policy, not counted as a difference).
//
// Not turned into vectors: "throws an error when encoding circular objects" (4.2.4: the encoder throws, nothing is
// sent), `new Decoder().add(999)` (a JavaScript number, no wire form), "exposes types", "should not modify the
// input packet" is one (its encoding decodes), and 3.4.3's "properly handles circular objects" is one too (the
// encoder sends `4"encode error"`).
//
// Tally: vectors / decoded as the reference does / of those, refused by the reference and kept with a diagnostic /
// deliberate differences (listed below and in the user guide):
//   socket.io-parser 4.2.4              51 / 43 / 18 / 8
//   socket.io-parser 3.4.3              38 / 35 / 12 / 3
//   socket.io-protocol (main, v4)       27 / 27 /  0 / 0

/// Where a vector comes from, and the protocol revision it is read with.
enum SIOSource: String, Sendable {
    case parser424 = "socket.io-parser 4.2.4"
    case parser343 = "socket.io-parser 3.4.3"
    case protocol5 = "socket.io-protocol Readme (main)"
    case protocol4 = "socket.io-protocol Readme (v4)"

    var protocolVersion: Int { self == .parser424 || self == .protocol5 ? 5 : 4 }
}

/// A way imscope decodes on purpose otherwise than the reference parsers; each is listed in the user guide
/// (`rawValue` is how it starts there).
enum SIODifference: String, Sendable, CaseIterable {
    case textWhileWaiting = "A text packet while a binary packet waits for its attachments"
    case incompleteReported = "A binary packet left incomplete"
    case emptyPacket = "An empty Socket.IO packet"
    case emptyAttachmentCount = "A binary packet without its attachment count"
    case payloadMandatory = "An EVENT or ACK without a payload"
    case ackWithoutId = "An ACK without an id"
    case unnamedAttachment = "An attachment no placeholder names"
    case placeholderWithoutAttachments = "Placeholders in a binary packet that announces no attachments"
}

/// How a vector's outcome stands to the reference's.
enum SIOOutcome: Sendable, Equatable {
    /// Decoded as the reference decodes it; where it throws, a diagnostic.
    case same
    /// The reference throws "invalid payload" or "illegal attachments"; imscope reports it and keeps the record.
    case keptWithDiagnostic
    /// A deliberate difference.
    case differs(SIODifference)
}

struct SIOVector: Sendable, CustomTestStringConvertible {
    var source: SIOSource
    var test: String
    var steps: [SessionStep]
    var expected: [String]
    var outcome: SIOOutcome
    var testDescription: String { "\(source.rawValue): \(test)" }

    init(
        _ source: SIOSource, _ test: String, _ steps: [SessionStep], _ expected: [String], _ outcome: SIOOutcome = .same
    ) {
        self.source = source
        self.test = test
        self.steps = steps
        self.expected = expected
        self.outcome = outcome
    }
}

/// `TYPE nsp [#id] [payload] [event=name] [att[hex|hex]] [answers frame]`.
func renderVector(_ m: SocketIOMessage) -> String {
    let p = m.packet
    var s = "\(p.type.name) \(p.namespace)"
    if let id = p.ackId { s += " #\(id)" }
    if let data = p.data { s += " " + String(decoding: UnsafeRawBufferPointer(rebasing: m.text[data]), as: UTF8.self) }
    if let name = p.eventName(in: m.text) { s += " event=\(name)" }
    if !m.attachments.isEmpty { s += " att[" + m.attachments.map { hex($0) }.joined(separator: "|") + "]" }
    if let a = m.answers { s += " answers \(a.frame)" }
    return s
}

/// `{"_placeholder":true,"num":N}`, as the encoder writes it.
private func ph(_ n: Int) -> String { placeholder(n) }

/// One packet sent by the client.
private func sent(_ text: String) -> [SessionStep] { [.text(.client, text)] }

@Suite struct SocketIOReferenceVectorTests {
    static let vectors: [SIOVector] = parser424 + parser343 + protocolReadmes

    /// Vectors both parser versions share (their parser.js and buffer.js tests overlap), with the differences of
    /// 4.2.4 (protocol 5) and 3.4.3 (protocol 4) where they differ.
    static func shared(_ source: SIOSource) -> [SIOVector] {
        let new = source == .parser424
        let parsingError = new ? "throw an error upon parsing error" : "returns an error packet on parsing error"
        return [
            SIOVector(source, "test/parser.js: encodes disconnection", sent("1/woot,"), ["DISCONNECT /woot"]),
            SIOVector(
                source, "test/parser.js: encodes an event", sent(#"2["a",1,{}]"#), [#"EVENT / ["a",1,{}] event=a"#]),
            SIOVector(
                source, new ? "test/parser.js: encodes an event (with ack)" : "test/parser.js: encodes an event (2nd)",
                sent(#"2/test,1["a",1,{}]"#),
                [#"EVENT /test #1 ["a",1,{}] event=a"#]),
            SIOVector(
                source, "test/parser.js: encodes an ack", [.text(.server, #"3123["a",1,{}]"#)],
                ["! sio.ack_unmatched", #"ACK / #123 ["a",1,{}]"#]),
            SIOVector(
                source, new ? "test/parser.js: encodes an connect error" : "test/parser.js: encodes an error",
                sent(#"4"Unauthorized""#),
                [#"CONNECT_ERROR / "Unauthorized""#]),
            SIOVector(source, "test/parser.js: decodes a bad binary packet", sent("5"), ["! sio.bad_packet"]),
            SIOVector(
                source, #"test/parser.js: \#(parsingError) 442["some","data""#, sent(#"442["some","data""#),
                ["! sio.bad_packet"]),
            SIOVector(
                source, #"test/parser.js: \#(parsingError) 0/admin,"invalid""#, sent(#"0/admin,"invalid""#),
                ["! sio.invalid_payload", #"CONNECT /admin "invalid""#], .keptWithDiagnostic),
            SIOVector(
                source, "test/parser.js: \(parsingError) 1/admin,{}", sent("1/admin,{}"),
                ["! sio.invalid_payload", "DISCONNECT /admin {}"], .keptWithDiagnostic),
            SIOVector(
                source, #"test/parser.js: \#(parsingError) 2/admin,"invalid"#, sent(#"2/admin,"invalid"#),
                ["! sio.bad_packet"]),
            SIOVector(
                source, "test/parser.js: \(parsingError) 2/admin,{}", sent("2/admin,{}"),
                ["! sio.invalid_payload", "EVENT /admin {}"], .keptWithDiagnostic),
            SIOVector(
                source, #"test/parser.js: \#(parsingError) 2[{"toString":"foo"}]"#, sent(#"2[{"toString":"foo"}]"#),
                ["! sio.invalid_payload", #"EVENT / [{"toString":"foo"}]"#], .keptWithDiagnostic),
            SIOVector(
                source, #"test/parser.js: \#(parsingError) 2[true,"foo"]"#, sent(#"2[true,"foo"]"#),
                ["! sio.invalid_payload", #"EVENT / [true,"foo"]"#], .keptWithDiagnostic),
            SIOVector(
                source, #"test/parser.js: \#(parsingError) 2[null,"bar"]"#, sent(#"2[null,"bar"]"#),
                ["! sio.invalid_payload", #"EVENT / [null,"bar"]"#], .keptWithDiagnostic),
            SIOVector(
                source, "test/buffer.js: encodes a Buffer",
                [.text(.client, #"51-/cool,23["a",\#(ph(0))]"#), .binary(.client, "abc")],
                [#"BINARY_EVENT /cool #23 ["a",\#(ph(0))] event=a att[61 62 63]"#]),
            SIOVector(
                source, "test/buffer.js: encodes a nested Buffer",
                [.text(.client, #"51-/cool,23["a",{"b":["c",\#(ph(0))]}]"#), .binary(.client, "abc")],
                [#"BINARY_EVENT /cool #23 ["a",{"b":["c",\#(ph(0))]}] event=a att[61 62 63]"#]),
            SIOVector(
                source, "test/buffer.js: encodes a binary ack with Buffer",
                [.text(.server, #"61-/back,127["a",\#(ph(0)),{}]"#), .binary(.server, "xxx")],
                ["! sio.ack_unmatched", #"BINARY_ACK /back #127 ["a",\#(ph(0)),{}] att[78 78 78]"#]),
            SIOVector(
                source,
                "test/buffer.js: throws an error when adding an attachment with an invalid 'num' attribute (string)",
                [.text(.client, #"51-["hello",{"_placeholder":true,"num":"splice"}]"#), .binary(.client, "world")],
                [
                    "! sio.bad_placeholder",
                    #"BINARY_EVENT / ["hello",{"_placeholder":true,"num":"splice"}] event=hello att[77 6f 72 6c 64]"#,
                ], .keptWithDiagnostic),
            SIOVector(
                source,
                "test/buffer.js: throws an error when adding an attachment with an invalid 'num' attribute (out-of-bound)",
                [.text(.client, #"51-["hello",\#(ph(1))]"#), .binary(.client, "world")],
                ["! sio.bad_placeholder", #"BINARY_EVENT / ["hello",\#(ph(1))] event=hello att[77 6f 72 6c 64]"#],
                .keptWithDiagnostic),
            SIOVector(
                source, "test/buffer.js: throws an error when adding an attachment without header",
                [.binary(.client, "world")], ["! sio.unexpected_binary"]),
            SIOVector(
                source, "test/buffer.js: throws an error when decoding a binary event without attachments",
                [.text(.client, #"51-["hello",\#(ph(0))]"#), .text(.client, #"2["hello"]"#)],
                ["! sio.attachment_missing", #"EVENT / ["hello"] event=hello"#], .differs(.textWhileWaiting)),
            SIOVector(
                source, "test/arraybuffer.js: encodes an ArrayBuffer",
                [.text(.client, #"51-0["a",\#(ph(0))]"#), .binaryBytes(.client, [0, 0])],
                [#"BINARY_EVENT / #0 ["a",\#(ph(0))] event=a att[00 00]"#]),
            SIOVector(
                source, "test/arraybuffer.js: encodes a TypedArray",
                [.text(.client, #"51-0["a",\#(ph(0))]"#), .binaryBytes(.client, [0, 1, 2, 3, 4])],
                [#"BINARY_EVENT / #0 ["a",\#(ph(0))] event=a att[00 01 02 03 04]"#]),
            SIOVector(
                source, "test/arraybuffer.js: encodes ArrayBuffers deep in JSON",
                [
                    .text(
                        .client,
                        #"52-/deep,999["a",{"a":"hi","b":{"why":\#(ph(0))},"c":{"a":"bye","b":{"a":\#(ph(1))}}}]"#),
                    .binaryBytes(.client, [0, 0, 0]), .binaryBytes(.client, [0, 0, 0, 0, 0, 0]),
                ],
                [
                    #"BINARY_EVENT /deep #999 ["a",{"a":"hi","b":{"why":\#(ph(0))},"c":{"a":"bye","b":{"a":\#(ph(1))}}}] event=a att[00 00 00|00 00 00 00 00 00]"#
                ]),
            SIOVector(
                source, "test/arraybuffer.js: encodes deep binary JSON with null values",
                [
                    .text(.client, #"51-600["a",{"a":"b","c":4,"e":{"g":null},"h":\#(ph(0))}]"#),
                    .binaryBytes(.client, Array(repeating: 0, count: 9)),
                ],
                [
                    #"BINARY_EVENT / #600 ["a",{"a":"b","c":4,"e":{"g":null},"h":\#(ph(0))}] event=a att[00 00 00 00 00 00 00 00 00]"#
                ]),
        ]
    }

    static let parser424: [SIOVector] =
        shared(.parser424) + [
            SIOVector(
                .parser424, "test/parser.js: encodes connection", sent(#"0/woot,{"token":"123"}"#),
                [#"CONNECT /woot {"token":"123"}"#]),
            SIOVector(
                .parser424, "test/parser.js: encodes an event (with an integer as event name)", sent(#"2[1,"a",{}]"#),
                [#"EVENT / [1,"a",{}] event=1"#]),
            SIOVector(
                .parser424, "test/parser.js: encodes an connect error (with object)",
                sent(#"4{"message":"Unauthorized"}"#), [#"CONNECT_ERROR / {"message":"Unauthorized"}"#]),
            SIOVector(
                .parser424, "test/parser.js: throw an error upon parsing error 0[]", sent("0[]"),
                ["! sio.invalid_payload", "CONNECT / []"],
                .keptWithDiagnostic),
            SIOVector(
                .parser424, #"test/parser.js: throw an error upon parsing error 2["connect"]"#, sent(#"2["connect"]"#),
                ["! sio.invalid_payload", #"EVENT / ["connect"] event=connect"#], .keptWithDiagnostic),
            SIOVector(
                .parser424, #"test/parser.js: throw an error upon parsing error 2["disconnect","123"]"#,
                sent(#"2["disconnect","123"]"#),
                ["! sio.invalid_payload", #"EVENT / ["disconnect","123"] event=disconnect"#], .keptWithDiagnostic),
            SIOVector(.parser424, "test/parser.js: unknown packet type 9", sent("999"), ["! sio.bad_packet"]),
            SIOVector(
                .parser424, "test/parser.js: should resume decoding after calling destroy()",
                [.text(.client, #"51-["hello"]"#), .finish, .text(.client, #"2["hello"]"#)],
                ["! sio.attachment_missing", #"EVENT / ["hello"] event=hello"#], .differs(.incompleteReported)),
            SIOVector(
                .parser424, "test/arraybuffer.js: encodes an ArrayBuffer into an object with a null prototype",
                [.text(.client, #"51-0["a",{"array":\#(ph(0))}]"#), .binaryBytes(.client, [0, 0])],
                [#"BINARY_EVENT / #0 ["a",{"array":\#(ph(0))}] event=a att[00 00]"#]),
            SIOVector(
                .parser424, "test/arraybuffer.js: should not modify the input packet",
                [
                    .text(.client, #"52-["a",\#(ph(0)),\#(ph(1))]"#), .binaryBytes(.client, [1, 2, 3]),
                    .binaryBytes(.client, [4, 5, 6]),
                ],
                [#"BINARY_EVENT / ["a",\#(ph(0)),\#(ph(1))] event=a att[01 02 03|04 05 06]"#]),
            SIOVector(
                .parser424, "test/blob.js: encodes a Blob",
                [.text(.client, #"51-0["a",\#(ph(0))]"#), .binaryBytes(.client, [0, 0])],
                [#"BINARY_EVENT / #0 ["a",\#(ph(0))] event=a att[00 00]"#]),
            SIOVector(
                .parser424, "test/blob.js: encodes an Blob deep in JSON",
                [
                    .text(.client, #"51-/deep,999["a",{"a":"hi","b":{"why":\#(ph(0))},"c":"bye"}]"#),
                    .binaryBytes(.client, [0, 0]),
                ],
                [#"BINARY_EVENT /deep #999 ["a",{"a":"hi","b":{"why":\#(ph(0))},"c":"bye"}] event=a att[00 00]"#]),
            SIOVector(
                .parser424, "test/blob.js: encodes a binary ack with a blob",
                [
                    .text(.server, #"61-/deep,999[{"a":"hi ack","b":{"why":\#(ph(0))},"c":"bye ack"}]"#),
                    .binaryBytes(.server, [0, 0]),
                ],
                [
                    "! sio.ack_unmatched",
                    #"BINARY_ACK /deep #999 [{"a":"hi ack","b":{"why":\#(ph(0))},"c":"bye ack"}] att[00 00]"#,
                ]),
            // RESERVED_EVENTS: the rest of the list, and a name that is one once its escapes are decoded.
            SIOVector(
                .parser424, "lib/index.ts: RESERVED_EVENTS connect_error", sent(#"2["connect_error"]"#),
                ["! sio.invalid_payload", #"EVENT / ["connect_error"] event=connect_error"#], .keptWithDiagnostic),
            SIOVector(
                .parser424, "lib/index.ts: RESERVED_EVENTS disconnecting", sent(#"2["disconnecting",1]"#),
                ["! sio.invalid_payload", #"EVENT / ["disconnecting",1] event=disconnecting"#], .keptWithDiagnostic),
            SIOVector(
                .parser424, "lib/index.ts: RESERVED_EVENTS newListener", sent(#"2["newListener"]"#),
                ["! sio.invalid_payload", #"EVENT / ["newListener"] event=newListener"#], .keptWithDiagnostic),
            SIOVector(
                .parser424, "lib/index.ts: RESERVED_EVENTS removeListener", sent(#"2/admin,7["removeListener"]"#),
                ["! sio.invalid_payload", #"EVENT /admin #7 ["removeListener"] event=removeListener"#],
                .keptWithDiagnostic),
            SIOVector(
                .parser424, "lib/index.ts: RESERVED_EVENTS connect, escaped", sent(#"2["\u0063onnect"]"#),
                ["! sio.invalid_payload", #"EVENT / ["\u0063onnect"] event=connect"#], .keptWithDiagnostic),
            // isObject: a CONNECT payload must be a plain object, a CONNECT_ERROR one a string or a plain object.
            SIOVector(
                .parser424, "lib/index.ts: isPayloadValid CONNECT null", sent("0null"),
                ["! sio.invalid_payload", "CONNECT / null"], .keptWithDiagnostic),
            SIOVector(
                .parser424, "lib/index.ts: isPayloadValid CONNECT_ERROR []", sent("4[]"),
                ["! sio.invalid_payload", "CONNECT_ERROR / []"], .keptWithDiagnostic),
            // decodeString(""): Number("".charAt(0)) is 0, a CONNECT to "/".
            SIOVector(
                .parser424, "lib/index.ts: decodeString of an empty packet", sent(""), ["! sio.bad_packet"],
                .differs(.emptyPacket)),
            // The count "" passes `buf != Number(buf)` ("" == 0): no attachments, and the packet is emitted at once.
            SIOVector(
                .parser424, "lib/index.ts: decodeString of a binary packet without its count", sent(#"5-["a"]"#),
                ["! sio.bad_packet"], .differs(.emptyAttachmentCount)),
            // isPayloadValid is only asked when there is a payload.
            SIOVector(
                .parser424, "lib/index.ts: an EVENT without a payload", sent("2"),
                ["! sio.invalid_payload", "EVENT /"],
                .differs(.payloadMandatory)),
            SIOVector(
                .parser424, "lib/index.ts: an ACK without an id", [.text(.server, "3[]")],
                ["! sio.invalid_payload", "ACK / []"], .differs(.ackWithoutId)),
            // reconstructPacket replaces the placeholders it finds and never asks whether every attachment was used.
            SIOVector(
                .parser424, "lib/binary.ts: an attachment no placeholder names",
                [
                    .text(.client, #"52-["a",\#(ph(1))]"#), .binaryBytes(.client, [1]), .binaryBytes(.client, [2]),
                ],
                ["! sio.bad_placeholder", #"BINARY_EVENT / ["a",\#(ph(1))] event=a att[01|02]"#],
                .differs(.unnamedAttachment)),
            // With no attachments announced the packet is emitted as it is: reconstructPacket never looks at it.
            SIOVector(
                .parser424, "lib/index.ts: a binary packet of 0 attachments with a placeholder",
                sent(#"50-["a",\#(ph(0))]"#), ["! sio.bad_placeholder", #"BINARY_EVENT / ["a",\#(ph(0))] event=a"#],
                .differs(.placeholderWithoutAttachments)),
        ]

    static let parser343: [SIOVector] =
        shared(.parser343) + [
            SIOVector(.parser343, "test/parser.js: encodes connection", sent("0/woot,"), ["CONNECT /woot"]),
            SIOVector(
                .parser343, "test/parser.js: properly handles circular objects", sent(#"4"encode error""#),
                [#"CONNECT_ERROR / "encode error""#]),
            SIOVector(
                .parser343, "test/arraybuffer.js: cleans itself up on close",
                [.text(.client, #"52-0["foo",\#(ph(0)),\#(ph(1))]"#), .binaryBytes(.client, [0, 0]), .finish],
                ["! sio.attachment_missing"], .differs(.incompleteReported)),
            // data is the Blob itself, not an array: isPayloadValid refuses it before the attachment comes.
            SIOVector(
                .parser343, "test/blob.js: encodes a Blob",
                [.text(.client, #"51-0\#(ph(0))"#), .binaryBytes(.client, [0, 0])],
                ["! sio.invalid_payload", #"BINARY_EVENT / #0 \#(ph(0)) att[00 00]"#], .keptWithDiagnostic),
            SIOVector(
                .parser343, "test/blob.js: encodes an Blob deep in JSON",
                [
                    .text(.client, #"51-/deep,999{"a":"hi","b":{"why":\#(ph(0))},"c":"bye"}"#),
                    .binaryBytes(.client, [0, 0]),
                ],
                [
                    "! sio.invalid_payload",
                    #"BINARY_EVENT /deep #999 {"a":"hi","b":{"why":\#(ph(0))},"c":"bye"} att[00 00]"#,
                ],
                .keptWithDiagnostic),
            SIOVector(
                .parser343, "test/blob.js: encodes a binary ack with a blob",
                [
                    .text(.server, #"61-/deep,999{"a":"hi ack","b":{"why":\#(ph(0))},"c":"bye ack"}"#),
                    .binaryBytes(.server, [0, 0]),
                ],
                [
                    "! sio.invalid_payload", "! sio.ack_unmatched",
                    #"BINARY_ACK /deep #999 {"a":"hi ack","b":{"why":\#(ph(0))},"c":"bye ack"} att[00 00]"#,
                ], .keptWithDiagnostic),
            // isPayloadValid (protocol 4): typeof "object" for CONNECT and ERROR (arrays and null too), no reserved
            // event names, and numbers as event names.
            SIOVector(.parser343, "index.js: isPayloadValid CONNECT []", sent("0[]"), ["CONNECT / []"]),
            SIOVector(.parser343, "index.js: isPayloadValid CONNECT null", sent("0null"), ["CONNECT / null"]),
            SIOVector(.parser343, "index.js: isPayloadValid ERROR []", sent("4[]"), ["CONNECT_ERROR / []"]),
            SIOVector(
                .parser343, "index.js: isPayloadValid CONNECT \"x\"", sent(#"0"x""#),
                ["! sio.invalid_payload", #"CONNECT / "x""#], .keptWithDiagnostic),
            SIOVector(
                .parser343, "index.js: no reserved event names", sent(#"2["connect"]"#),
                [#"EVENT / ["connect"] event=connect"#]),
            SIOVector(
                .parser343, "index.js: an event named by a number", sent(#"2[1,"a",{}]"#),
                [#"EVENT / [1,"a",{}] event=1"#]),
            SIOVector(
                .parser343, "index.js: decodeString of an empty packet", sent(""), ["! sio.bad_packet"],
                .differs(.emptyPacket)),
        ]

    static let protocolReadmes: [SIOVector] = [
        SIOVector(.protocol5, "Connection to a namespace: main namespace", sent("0"), ["CONNECT /"]),
        SIOVector(
            .protocol5, "Connection to a namespace: custom namespace",
            [.text(.server, #"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#)],
            [#"CONNECT /admin {"sid":"oSO0OpakMV_3jnilAAAA"}"#]),
        SIOVector(
            .protocol5, "Connection to a namespace: refused", [.text(.server, #"4{"message":"Not authorized"}"#)],
            [#"CONNECT_ERROR / {"message":"Not authorized"}"#]),
        SIOVector(
            .protocol5, "Sending and receiving data: main namespace", sent(#"2["foo"]"#),
            [#"EVENT / ["foo"] event=foo"#]),
        SIOVector(
            .protocol5, "Sending and receiving data: custom namespace", [.text(.server, #"2/admin,["bar"]"#)],
            [#"EVENT /admin ["bar"] event=bar"#]),
        SIOVector(
            .protocol5, "Sending and receiving data: binary data",
            [.text(.client, #"51-["baz",\#(ph(0))]"#), .binaryBytes(.client, [1, 2, 3, 4])],
            [#"BINARY_EVENT / ["baz",\#(ph(0))] event=baz att[01 02 03 04]"#]),
        SIOVector(
            .protocol5, "Sending and receiving data: multiple attachments",
            [
                .text(.client, #"52-/admin,["baz",\#(ph(0)),\#(ph(1))]"#), .binaryBytes(.client, [1, 2]),
                .binaryBytes(.client, [3, 4]),
            ],
            [#"BINARY_EVENT /admin ["baz",\#(ph(0)),\#(ph(1))] event=baz att[01 02|03 04]"#]),
        SIOVector(
            .protocol5, "Acknowledgement: main namespace", [.text(.client, #"212["foo"]"#), .text(.server, "312[]")],
            [#"EVENT / #12 ["foo"] event=foo"#, "ACK / #12 [] answers 1"]),
        SIOVector(
            .protocol5, "Acknowledgement: custom namespace",
            [.text(.server, #"2/admin,13["foo"]"#), .text(.client, #"3/admin,13["bar"]"#)],
            [#"EVENT /admin #13 ["foo"] event=foo"#, #"ACK /admin #13 ["bar"] answers 1"#]),
        SIOVector(
            .protocol5, "Acknowledgement: binary data (BINARY_ACK)",
            [
                .text(.server, #"215["foo"]"#), .text(.client, #"61-15["bar",\#(ph(0))]"#),
                .binaryBytes(.client, [1, 2, 3, 4]),
            ],
            [#"EVENT / #15 ["foo"] event=foo"#, #"BINARY_ACK / #15 ["bar",\#(ph(0))] att[01 02 03 04] answers 1"#]),
        SIOVector(
            .protocol5, "Acknowledgement: binary data (BINARY_EVENT)",
            [
                .text(.client, #"51-14["foo",\#(ph(0))]"#), .binaryBytes(.client, [1, 2, 3, 4]),
                .text(.server, #"314["bar"]"#),
            ],
            [#"BINARY_EVENT / #14 ["foo",\#(ph(0))] event=foo att[01 02 03 04]"#, #"ACK / #14 ["bar"] answers 2"#]),
        SIOVector(.protocol5, "Disconnection: main namespace", sent("1"), ["DISCONNECT /"]),
        SIOVector(.protocol5, "Disconnection: custom namespace", sent("1/admin,"), ["DISCONNECT /admin"]),
        SIOVector(
            .protocol5, "Sample session",
            [
                .text(.client, "0"), .text(.server, #"0{"sid":"wZX3oN0bSVIhsaknAAAI"}"#),
                .text(.server, #"2["hey","Jude"]"#), .text(.client, #"2["hello"]"#), .text(.client, #"2["world"]"#),
                .text(.client, "0/admin,"), .text(.server, #"0/admin,{"sid":"-G5j-67EZFp-q59rADQM"}"#),
                .text(.client, #"2/admin,1["tellme"]"#), .text(.server, #"61-/admin,1[\#(ph(0))]"#),
                .binaryBytes(.server, [1, 2, 3]),
            ],
            [
                "CONNECT /", #"CONNECT / {"sid":"wZX3oN0bSVIhsaknAAAI"}"#, #"EVENT / ["hey","Jude"] event=hey"#,
                #"EVENT / ["hello"] event=hello"#, #"EVENT / ["world"] event=world"#, "CONNECT /admin",
                #"CONNECT /admin {"sid":"-G5j-67EZFp-q59rADQM"}"#, #"EVENT /admin #1 ["tellme"] event=tellme"#,
                #"BINARY_ACK /admin #1 [\#(ph(0))] att[01 02 03] answers 8"#,
            ]),
        SIOVector(.protocol4, "Examples: CONNECT for the default namespace", [.text(.server, "0")], ["CONNECT /"]),
        SIOVector(.protocol4, "Examples: CONNECT for /admin", sent("0/admin,"), ["CONNECT /admin"]),
        SIOVector(.protocol4, "Examples: DISCONNECT for /admin", sent("1/admin,"), ["DISCONNECT /admin"]),
        SIOVector(.protocol4, "Examples: EVENT", sent(#"2["hello",1]"#), [#"EVENT / ["hello",1] event=hello"#]),
        SIOVector(
            .protocol4, "Examples: EVENT with an acknowledgement id, then ACK",
            [.text(.client, #"2/admin,456["project:delete",123]"#), .text(.server, "3/admin,456[]")],
            [#"EVENT /admin #456 ["project:delete",123] event=project:delete"#, "ACK /admin #456 [] answers 1"]),
        SIOVector(
            .protocol4, "Examples: ERROR", [.text(.server, #"4/admin,"Not authorized""#)],
            [#"CONNECT_ERROR /admin "Not authorized""#]),
        SIOVector(
            .protocol4, "Examples: BINARY_EVENT",
            [.text(.client, #"51-["hello",\#(ph(0))]"#), .binaryBytes(.client, [1, 2, 3])],
            [#"BINARY_EVENT / ["hello",\#(ph(0))] event=hello att[01 02 03]"#]),
        SIOVector(
            .protocol4, "Examples: BINARY_EVENT with an acknowledgement id, then BINARY_ACK",
            [
                .text(.client, #"51-/admin,456["project:delete",\#(ph(0))]"#), .binaryBytes(.client, [1, 2, 3]),
                .text(.server, #"61-/admin,456[\#(ph(0))]"#), .binaryBytes(.server, [3, 2, 1]),
            ],
            [
                #"BINARY_EVENT /admin #456 ["project:delete",\#(ph(0))] event=project:delete att[01 02 03]"#,
                #"BINARY_ACK /admin #456 [\#(ph(0))] att[03 02 01] answers 2"#,
            ]),
        SIOVector(
            .protocol4, "Exchange protocol: connection to the default namespace", [.text(.server, "0")], ["CONNECT /"]),
        SIOVector(
            .protocol4, "Exchange protocol: connection to a non-default namespace",
            [.text(.client, "0/admin,"), .text(.server, "0/admin,")], ["CONNECT /admin", "CONNECT /admin"]),
        SIOVector(
            .protocol4, "Exchange protocol: refused connection", [.text(.server, #"4/admin,"Not authorized""#)],
            [#"CONNECT_ERROR /admin "Not authorized""#]),
        SIOVector(
            .protocol4, "Exchange protocol: acknowledgement (BINARY_ACK)",
            [
                .text(.client, #"2/admin,456["hello"]"#), .text(.server, #"61-/admin,456[\#(ph(0))]"#),
                .binaryBytes(.server, [1, 2, 3]),
            ],
            [
                #"EVENT /admin #456 ["hello"] event=hello"#,
                #"BINARY_ACK /admin #456 [\#(ph(0))] att[01 02 03] answers 1"#,
            ]),
        SIOVector(
            .protocol4, "Sample session",
            [
                .text(.client, "0"), .text(.server, #"2["hey","Jude"]"#), .text(.client, #"2["hello"]"#),
                .text(.client, #"2["world"]"#), .text(.client, "0/admin,"), .text(.server, "0/admin,"),
                .text(.client, #"2/admin,1["tellme"]"#), .text(.server, #"61-/admin,1[\#(ph(0))]"#),
                .binaryBytes(.server, [1, 2, 3]),
            ],
            [
                "CONNECT /", #"EVENT / ["hey","Jude"] event=hey"#, #"EVENT / ["hello"] event=hello"#,
                #"EVENT / ["world"] event=world"#, "CONNECT /admin", "CONNECT /admin",
                #"EVENT /admin #1 ["tellme"] event=tellme"#,
                #"BINARY_ACK /admin #1 [\#(ph(0))] att[01 02 03] answers 7"#,
            ]),
    ]

    @Test(arguments: vectors, Delivery.allCases)
    func vector(_ v: SIOVector, _ delivery: Delivery) {
        let got = run(
            v.steps, protocolVersion: v.source.protocolVersion, details: false, delivery, render: renderVector)
        #expect(got == v.expected)
    }

    /// Every difference a vector names is in the user guide's list, and every one listed there is used.
    @Test func differencesAreDocumented() throws {
        let guide = try userGuideDifferences()
        for d in SIODifference.allCases {
            #expect(guide.contains(d.rawValue), "\(d.rawValue)")
            #expect(Self.vectors.contains { $0.outcome == .differs(d) }, "\(d) names no vector")
        }
        #expect(guide.contains("An invalid packet is kept"))
    }

    /// The tally in the header, kept true.
    @Test func tally() {
        func count(_ sources: [SIOSource]) -> [Int] {
            let vs = Self.vectors.filter { sources.contains($0.source) }
            let kept = vs.filter { $0.outcome == .keptWithDiagnostic }.count
            let differing = vs.filter { if case .differs = $0.outcome { true } else { false } }.count
            return [vs.count, vs.count - differing, kept, differing]
        }
        #expect(count([.parser424]) == [51, 43, 18, 8])
        #expect(count([.parser343]) == [38, 35, 12, 3])
        #expect(count([.protocol5, .protocol4]) == [27, 27, 0, 0])
    }
}
