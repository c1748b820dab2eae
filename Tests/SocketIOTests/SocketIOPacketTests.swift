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

    /// Packets that cannot be parsed: no record is made of them.
    @Test(arguments: ["", "9", "2[\"x\"", "5[\"x\"]", "5-[\"x\"]", "2/admin,[\"x\",]", "2[\"x\"] x", "0{"])
    func malformed(text: String) {
        if case .success(let p) = Self.parse(text) { Issue.record("accepted \(text) as \(p)") }
    }

    /// Packets that parse but break a rule of their type: kept, with the rule they break (the reference parsers
    /// throw "invalid payload" on most; see SocketIOReferenceVectorTests). Protocol 4 allows more shapes for CONNECT
    /// and CONNECT_ERROR, and reserves no event names.
    @Test(
        arguments: [
            ("2{\"a\":1}", 5, SocketIOPayloadProblem.eventNotArray),
            ("2", 5, .eventNotArray), ("2[]", 5, .eventWithoutName), ("2[true]", 4, .eventWithoutName),
            ("2[[\"x\"]]", 5, .eventWithoutName), ("3[]", 5, .ackWithoutId), ("3", 5, .ackNotArray),
            ("31{}", 4, .ackNotArray), ("0[]", 5, .connectNotObject), ("0null", 5, .connectNotObject),
            ("0\"x\"", 4, .connectNotObject), ("0true", 4, .connectNotObject), ("1{}", 4, .disconnectWithPayload),
            ("1/a,\"x\"", 5, .disconnectWithPayload), ("4[]", 5, .connectErrorNotStringOrObject),
            ("4true", 4, .connectErrorNotStringOrObject), ("2[\"connect_error\"]", 5, .reservedEventName),
            ("2[\"disconnecting\",1]", 5, .reservedEventName), ("2[\"newListener\"]", 5, .reservedEventName),
            ("2[\"removeListener\"]", 5, .reservedEventName), ("2[\"\\u0063onnect\"]", 5, .reservedEventName),
            ("51-{\"_placeholder\":true,\"num\":0}", 5, .eventNotArray),
        ] as [(String, Int, SocketIOPayloadProblem)])
    func ruleBroken(text: String, protocolVersion: Int, problem: SocketIOPayloadProblem) throws {
        let p = try Array(text.utf8).withUnsafeBytes { SocketIOPacket.parse($0, protocolVersion: protocolVersion) }
            .get()
        #expect(p.problem == problem)
        #expect(Array(text.utf8).withUnsafeBytes { p.problemMessage(in: $0) } != nil)
    }

    /// The same shapes where they are allowed, and names that only look reserved.
    @Test(
        arguments: [
            ("2[1]", 5), ("2[-1.5,\"a\"]", 5), ("0[]", 4), ("0null", 4), ("0{}", 5), ("4[]", 4), ("4null", 4),
            ("4\"x\"", 5), ("4{}", 5), ("2[\"connect\"]", 4), ("2[\"disconnect\",1]", 4), ("2[\"Connect\"]", 5),
            ("2[\"connects\"]", 5), ("2[\"newlistener\"]", 5), ("2[\"connect_erro\\u0072x\"]", 5), ("1/a,", 5),
            ("4", 5), ("0", 5),
        ] as [(String, Int)])
    func ruleKept(text: String, protocolVersion: Int) throws {
        let p = try Array(text.utf8).withUnsafeBytes { SocketIOPacket.parse($0, protocolVersion: protocolVersion) }
            .get()
        #expect(p.problem == nil)
    }

    /// An event name is a string, or a number as it was sent; a first element that is neither is no name, and the
    /// payload is then shown whole (no elements).
    @Test(arguments: [
        ("2[\"a\",1]", "a" as String?, true), ("2[1,\"a\",{}]", "1", true), ("2[-12.5e3]", "-12.5e3", true),
        ("2[\"a\\\"b\"]", "a\"b", true), ("2[true,\"foo\"]", nil, false), ("2[null]", nil, false),
        ("2[{\"toString\":\"foo\"}]", nil, false), ("2[]", nil, false), ("3[\"a\"]", nil, true),
    ])
    func eventNames(text: String, name: String?, hasElements: Bool) throws {
        let bytes = Array(text.utf8)
        let p = try Self.parse(text).get()
        #expect(bytes.withUnsafeBytes { p.eventName(in: $0) } == name)
        #expect((p.elements != nil) == hasElements)
        #expect(p.argumentMembers == nil || hasElements)
    }

    /// Placeholders against attachments, as the reference parsers rebuild a binary packet: any object whose
    /// `_placeholder` is `true` must name one of the attachments by an integer `num`; an attachment no placeholder
    /// names is reported too.
    @Test(arguments: [
        (#"51-["a",{"_placeholder":true,"num":0}]"#, 1, nil as String?),
        (#"52-["a",{"x":[{"_placeholder":true,"num":1}]},{"_placeholder":true,"num":0}]"#, 2, nil),
        (#"51-["a",{"_placeholder":true,"num":0,"extra":1}]"#, 1, nil),
        (#"51-["a",{"_placeholder":false,"num":7}]"#, 0, nil),
        (#"51-["a",{"_placeholder":"true","num":7}]"#, 0, nil),
        (
            #"51-["hello",{"_placeholder":true,"num":"splice"}]"#, 1,
            #"BINARY_EVENT: placeholder {"_placeholder":true,"num":"splice"} names none of the 1 attachments; "#
                + "attachment 0 (5 bytes) is named by no placeholder"
        ),
        (
            #"51-["hello",{"_placeholder":true,"num":1}]"#, 1,
            #"BINARY_EVENT: placeholder {"_placeholder":true,"num":1} names none of the 1 attachments; "#
                + "attachment 0 (5 bytes) is named by no placeholder"
        ),
        (
            #"61-1[{"_placeholder":true,"num":-1},{"_placeholder":true,"num":0.5},{"_placeholder":true}]"#, 1,
            #"BINARY_ACK: placeholder {"_placeholder":true,"num":-1} names none of the 1 attachments (and 2 more "#
                + "placeholders); attachment 0 (5 bytes) is named by no placeholder"
        ),
        (
            #"52-["a",{"_placeholder":true,"num":1}]"#, 2,
            "BINARY_EVENT: attachment 0 (5 bytes) is named by no placeholder"
        ),
        (
            #"50-["a",{"_placeholder":true,"num":0}]"#, 0,
            #"BINARY_EVENT: placeholder {"_placeholder":true,"num":0} names none of the 0 attachments"#
        ),
        (#"52-"#, 2, "BINARY_EVENT: attachments 0 (5 bytes), 1 (5 bytes) are named by no placeholder"),
    ])
    func placeholders(text: String, attachments: Int, expected: String?) throws {
        let bytes = Array(text.utf8)
        let p = try Self.parse(text).get()
        let found = bytes.withUnsafeBytes {
            p.placeholderProblem(in: $0, attachments: Array(repeating: Array("world".utf8), count: attachments))
        }
        #expect(found == expected)
    }
}
