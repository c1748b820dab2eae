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

    @Test(arguments: ["", "9", "2{\"a\":1}", "2[1]", "2[\"x\"", "3[]", "5[\"x\"]", "2/admin,[\"x\",]"])
    func malformed(text: String) {
        if case .success(let p) = Self.parse(text) { Issue.record("accepted \(text) as \(p)") }
    }
}
