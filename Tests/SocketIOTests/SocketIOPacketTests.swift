import JSONScan
import SocketIO
import Testing

/// The socket.io-protocol repository's packet examples, and malformed ones.
@Suite struct SocketIOPacketTests {
    static func parse(_ text: String) -> Result<SocketIOPacket, SocketIOParseError> {
        Array(text.utf8).withUnsafeBytes { SocketIOPacket.parse($0) }
    }

    @Test(arguments: [
        ("0", SocketIOPacketType.connect, "/", nil as Int64?, 0, false),
        ("0/admin,{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}", .connect, "/admin", nil, 0, true),
        ("4{\"message\":\"Not authorized\"}", .connectError, "/", nil, 0, true),
        ("2[\"foo\"]", .event, "/", nil, 0, true),
        ("2/admin,[\"bar\"]", .event, "/admin", nil, 0, true),
        ("51-[\"baz\",{\"_placeholder\":true,\"num\":0}]", .binaryEvent, "/", nil, 1, true),
        (
            "52-/admin,[\"baz\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]", .binaryEvent,
            "/admin", nil, 2, true
        ),
        ("212[\"foo\"]", .event, "/", 12, 0, true),
        ("312[\"bar\"]", .ack, "/", 12, 0, true),
        ("1/admin,", .disconnect, "/admin", nil, 0, false),
        ("61-/admin,12[{\"_placeholder\":true,\"num\":0}]", .binaryAck, "/admin", 12, 1, true),
    ])
    func examples(text: String, type: SocketIOPacketType, nsp: String, ackId: Int64?, attachments: Int, hasData: Bool)
        throws
    {
        let p = try Self.parse(text).get()
        #expect(p.type == type)
        #expect(p.namespace == nsp)
        #expect(p.ackId == ackId)
        #expect(p.attachments == attachments)
        #expect((p.data != nil) == hasData)
    }

    /// The members of an event's first argument, found while validating, as (key, value) texts of that argument;
    /// none for other shapes. Fed whole: a packet is parsed as a whole message.
    @Test(
        arguments: [
            (
                #"2["chat",{"a":1, "b" : [1,{"c":2}] ,"d":"x\"y"}]"#,
                [["\"a\"", "1"], ["\"b\"", #"[1,{"c":2}]"#], ["\"d\"", #""x\"y""#]]
            ),
            (#"2/nsp,7[ "chat" , { } ]"#, []),
            (#"2["chat",{"k":{"n":{}}},{"ignored":1}]"#, [["\"k\"", #"{"n":{}}"#]]),
            (#"2["chat","not an object"]"#, nil),
            (#"2["chat"]"#, nil),
            (#"35[{"a":1},{"b":2}]"#, nil),
            (#"51-["chat",{"_placeholder":true,"num":0}]"#, [["\"_placeholder\"", "true"], ["\"num\"", "0"]]),
        ] as [(String, [[String]]?)])
    func argumentMembers(text: String, expected: [[String]]?) throws {
        let bytes = Array(text.utf8)
        let p = try Self.parse(text).get()
        let found = p.argumentMembers.map { members in
            members.map { m -> [String] in
                let argument = bytes[p.elements![1]]
                let base = argument.startIndex
                return [m.key, m.value].map {
                    String(decoding: argument[(base + $0.lowerBound)..<(base + $0.upperBound)], as: UTF8.self)
                }
            }
        }
        #expect(found == expected)
    }

    @Test(arguments: ["", "9", "2{\"a\":1}", "2[1]", "2[\"x\"", "3[]", "5[\"x\"]", "2/admin,[\"x\",]"])
    func malformed(text: String) {
        if case .success(let p) = Self.parse(text) { Issue.record("accepted \(text) as \(p)") }
    }
}
