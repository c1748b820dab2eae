import SocketIO
import Testing

@testable import IMProtocol

let v2 = try! MessageTypeTable.builtin("v2")
let v1 = try! MessageTypeTable.builtin("v1")

func decode(_ json: String, upstream: Bool = true, schema: String = "v2") -> IMMessage {
    let decoder = schema == "v2" ? IMDecoder(table: v2, others: [v1]) : IMDecoder(table: v1, others: [v2])
    return Array(json.utf8).withUnsafeBytes { decoder.decode($0, upstream: upstream) }
}

func codes(_ m: IMMessage) -> [String] { m.warnings.map(\.code) }

/// The text fields as Strings, read while the argument they may index is alive.
func texts(_ json: String, upstream: Bool = true) -> (message: IMMessage, texts: [String?]) {
    let decoder = IMDecoder(table: v2, others: [v1])
    return Array(json.utf8).withUnsafeBytes { bytes in
        let m = decoder.decode(bytes, upstream: upstream)
        return (m, [m.msgId, m.fromId, m.destId, m.fromName].map { $0?.string(in: bytes) })
    }
}

let base = #""msgId":"m1","fromId":"u1","fromType":1,"destId":"u2","fromName":"A","imageIconUrl":"http://x/a.png""#

/// Each rule of the ImMessage layer, once broken and once kept.
@Suite struct IMDecoderTests {
    @Test(arguments: [
        // Well-formed: no warning.
        (#"{\#(base),"content":"hi","messageType":2}"#, true, "v2", [String]()),
        (
            #"{\#(base),"content":"{\"fileName\":\"a.pdf\",\"fileSize\":\"12\",\"fileUrl\":\"http://f\",\"fileType\":\"pdf\",\"filished\":false}","messageType":4}"#,
            true, "v2", []
        ),
        (#"{\#(base),"content":{"url":"http://v","time":3},"messageType":16}"#, false, "v2", []),
        (#"{\#(base),"content":"1","messageType":43}"#, true, "v2", []),
        (#"{\#(base),"content":"","messageType":31}"#, true, "v2", []),
        // A string holding the ImMessage.
        (
            #""{\"msgId\":\"m1\",\"fromId\":\"u1\",\"fromType\":1,\"destId\":\"u2\",\"fromName\":\"A\",\"imageIconUrl\":\"i\",\"content\":\"hi\",\"messageType\":2}""#,
            true, "v2", []
        ),
        // Broken rules.
        (
            #"{"msgId":"m1","fromId":"u1","fromType":1,"content":"hi","messageType":2}"#, true, "v2",
            ["im.required_missing"]
        ),
        (#"{\#(base),"content":null,"messageType":2}"#, true, "v2", ["im.required_missing"]),
        (#"{\#(base),"content":"hi","messageType":"2"}"#, true, "v2", ["im.wrong_type"]),
        (#"{\#(base),"content":"hi","messageType":999}"#, true, "v2", ["im.unknown_type"]),
        (#"{\#(base),"content":"hi","messageType":5}"#, true, "v2", ["im.wrong_direction"]),
        (#"{\#(base),"content":"hi","messageType":1}"#, false, "v2", ["im.wrong_direction"]),
        (
            #"{"msgId":"m1","fromId":"u1","fromType":5,"destId":"u2","fromName":"A","imageIconUrl":"i","content":"hi","messageType":2}"#,
            true, "v1", ["im.bad_from_type"]
        ),
        (#"{\#(base),"content":"{\"url\":\"http://v\"}","messageType":16}"#, true, "v2", ["im.bad_content"]),
        (#"{\#(base),"content":"2","messageType":43}"#, true, "v2", ["im.bad_content"]),
        // Content keys are compared with their escapes undone; a repeated key counts as its last value.
        (#"{\#(base),"content":{"\u0075rl":"http://v","t\u0069me":3},"messageType":16}"#, false, "v2", []),
        (#"{\#(base),"content":"{\"\\u0075rl\":\"v\",\"time\":3}","messageType":16}"#, false, "v2", []),
        (#"{\#(base),"content":{"url":"v","time":3,"time":"x"},"messageType":16}"#, false, "v2", ["im.bad_content"]),
        (#"{\#(base),"content":{"url":"v","time":"x","time":3},"messageType":16}"#, false, "v2", []),
        (#"{\#(base),"content":{"urL":"v","time":3},"messageType":16}"#, false, "v2", ["im.bad_content"]),
        (#"{\#(base),"content":"hi","messageType":100}"#, true, "v1", ["im.schema_mismatch"]),
        (
            #"{\#(base),"content":{"msgCodes":"a","msgString":"b","msgType":"c","aiteId":[1,2]},"messageType":34}"#,
            true, "v1", ["im.schema_mismatch"]
        ),
        ("[1,2]", true, "v2", ["im.wrong_type"]),
    ])
    func rules(json: String, upstream: Bool, schema: String, expected: [String]) {
        #expect(codes(decode(json, upstream: upstream, schema: schema)) == expected, "\(json)")
        // Given the members found by the Socket.IO parser, the decoder reads the same.
        let decoder = schema == "v2" ? IMDecoder(table: v2, others: [v1]) : IMDecoder(table: v1, others: [v2])
        let event = Array(("2[\"chat\"," + json + "]").utf8)
        event.withUnsafeBytes { text in
            guard case .success(let p) = SocketIOPacket.parse(text), let elements = p.elements else {
                Issue.record("not an event: \(json)")
                return
            }
            let argument = UnsafeRawBufferPointer(rebasing: text[elements[1]])
            let walked = decoder.decode(argument, upstream: upstream)
            let given = decoder.decode(argument, upstream: upstream, members: p.argumentMembers)
            #expect(p.argumentMembers != nil || !json.hasPrefix("{"))
            #expect(given.warnings == walked.warnings && given.msgId == walked.msgId && given.info == walked.info)
            #expect(codes(given) == expected, "\(json)")
        }
    }

    @Test func fieldsAndStructuredContent() throws {
        let (m, ids) = texts(#"{\#(base),"content":"{\"url\":\"http://v\",\"time\":3}","messageType":16}"#)
        #expect(m.messageType == 16)
        #expect(m.info?.typeName == "offline-voice")
        #expect(m.info?.direction == .both)
        #expect(ids == ["m1", "u1", "u2", "A"])
        #expect(m.fromType == 1)
        #expect(m.fromTypeName == "person")
        // The content string holds the object: it is shown decoded.
        #expect(m.content.map { String(decoding: $0, as: UTF8.self) } == #"{"url":"http://v","time":3}"#)
    }

    /// A table's types and fromTypes are found whatever their numbers: small ones in the decoder's arrays, negative
    /// ones and ones past the arrays' bound in its dictionaries.
    @Test(arguments: [0, 7, 4095, 4096, 70_000, -3, Int.max])
    func typeNumbersOfATable(type: Int) throws {
        let table = try MessageTypeTable.parse(
            "@schema\tcustom\n@fromType\t\(type)\tsomeone\n\(type)\tboth\tcustom-type\tx\n"
                + "@content\t\(type)\tobject\tn:number\n", name: "custom")
        let decoder = IMDecoder(table: table, others: [])
        func decode(_ content: String) -> IMMessage {
            let json =
                #"{"msgId":"m","fromId":"a","fromType":\#(type),"destId":"b","fromName":"A","imageIconUrl":"i","content":\#(content),"messageType":\#(type)}"#
            return Array(json.utf8).withUnsafeBytes { decoder.decode($0, upstream: true) }
        }
        let good = decode(#"{"n":1}"#)
        #expect(good.info?.typeName == "custom-type")
        #expect(good.fromTypeName == "someone")
        #expect(good.warnings.isEmpty)
        #expect(codes(decode(#"{"n":"1"}"#)) == ["im.bad_content"])
    }

    /// A structured content sent as an object is shown as sent, spacing included.
    @Test func structuredContentAsSent() {
        let json = #"{\#(base),"content":{ "url" : "http://v", "time":3 },"messageType":16}"#
        let decoder = IMDecoder(table: v2, others: [v1])
        let shown = Array(json.utf8).withUnsafeBytes { bytes in
            let m = decoder.decode(bytes, upstream: false)
            #expect(m.warnings.isEmpty)
            return m.withContentJSON(in: bytes) { $0.map { String(decoding: $0, as: UTF8.self) } }
        }
        #expect(shown == #"{ "url" : "http://v", "time":3 }"#)
    }

    @Test func numericIdsAreAccepted() {
        let (m, ids) = texts(
            #"{"msgId":"m","fromId":42,"fromType":2,"destId":7,"fromName":"A","imageIconUrl":"i","content":"x","messageType":2}"#
        )
        #expect(ids == ["m", "42", "7", "A"])
        #expect(m.fromId == .bytes(22..<24))  // the number as sent
        #expect(m.warnings.isEmpty)
    }

    /// A text without escapes stays bytes of the argument; one with escapes, or in an ImMessage sent as a string
    /// (whose bytes are a decoded copy), is decoded.
    @Test func textsAsBytesOrDecoded() {
        let (m, ids) = texts(
            #"{"msgId":"m\u00e9","fromId":"u\"1","fromType":2,"destId":"","fromName":"中","imageIconUrl":"i","content":"x","messageType":2}"#
        )
        #expect(ids == ["mé", "u\"1", "", "中"])
        #expect(m.msgId == .string("mé"))
        #expect(m.fromId == .string("u\"1"))
        guard case .bytes = m.destId, case .bytes = m.fromName else {
            Issue.record("expected bytes: \(String(describing: m.destId)), \(String(describing: m.fromName))")
            return
        }
        let (inner, innerIds) = texts(
            #""{\"msgId\":\"m1\",\"fromId\":7,\"fromType\":1,\"destId\":\"u2\",\"fromName\":\"A\",\"imageIconUrl\":\"i\",\"content\":\"hi\",\"messageType\":2}""#
        )
        #expect(innerIds == ["m1", "7", "u2", "A"])
        #expect(inner.msgId == .string("m1"))
        #expect(inner.fromId == .string("7"))
    }

    @Test func tablesLoadAndLookUp() throws {
        #expect(v1.types.count == 37)
        #expect(v2.types[31]?.typeName == "heartbeat")
        #expect(v1.types[31]?.typeName == "recall")
        #expect(v2.lookup("recall")?.messageType == 32)
        #expect(v2.events == ["chat", "chatroom"])
        #expect(v1.events == ["chat"])
        #expect(throws: MessageTypeTable.LoadError.self) { try MessageTypeTable.parse("1\tsideways\tx\ty", name: "t") }
        // A table saved with CRLF line ends reads as the same table.
        let crlf = try MessageTypeTable.parse(
            "@schema\tw\r\n# comment\r\n\r\n@event\tchat\r\n@fromType\t1\tperson\r\n2\tboth\ttext\t文本\r\n3\tup\timage\r\n",
            name: "t")
        #expect(crlf.schema == "w" && crlf.events == ["chat"] && crlf.fromTypes[1]?.name == "person")
        #expect(crlf.types[2]?.direction == .both && crlf.types[2]?.typeName == "text")
        #expect(crlf.types[2]?.description == "文本" && crlf.types[3]?.description == "")
        #expect(crlf.types[3]?.direction == .up && crlf.types[3]?.typeName == "image")
        #expect(throws: MessageTypeTable.LoadError.self) {
            try MessageTypeTable.parse("@content\t9\tobject\ta:string\n1\tup\tx\ty", name: "t")
        }
    }
}

/// The shipped tables are read next to the executable without a `Bundle` (start-up), and that finds the files
/// `Bundle.module` finds.
@Suite struct BuiltinTableTests {
    @Test(arguments: ["v1", "v2"])
    func besideExecutableMatchesTheBundle(version: String) throws {
        let direct = try #require(
            MessageTypeTable.besideExecutable("imscope_IMProtocol.resources/Resources/messagetypes-\(version).tsv"))
        #expect(direct == MessageTypeTable.bundled("messagetypes-\(version)"))
        #expect(MessageTypeTable.besideExecutable("imscope_IMProtocol.resources/Resources/none.tsv") == nil)
    }
}
