import EngineIO
import Testing

/// Collects the packets of a payload as "type:data" strings (binary data as hex).
func packets(_ body: [UInt8], version: Int, jsonp: Bool = false) -> (packets: [String], problem: String?) {
    var out: [String] = []
    let problem = body.withUnsafeBytes { bytes in
        EngineIOPayload.decodePayload(bytes, version: version, jsonp: jsonp) { p in
            let data =
                p.binary
                ? p.data.map { String($0, radix: 16) }.joined(separator: " ") : String(decoding: p.data, as: UTF8.self)
            out.append("\(p.type.name):\(p.binary ? "b " : "")\(data)")
        }
    }
    return (out, problem)
}

/// The engine.io-protocol repository's own payload examples (v3 and v4 READMEs).
@Suite struct EngineIOPayloadTests {
    @Test func v4RecordSeparator() {
        let r = packets(Array("4hello\u{1e}2\u{1e}4world".utf8), version: 4)
        #expect(r.packets == ["message:hello", "ping:", "message:world"])
        #expect(r.problem == nil)
    }

    @Test func v4Base64Binary() {
        let r = packets(Array("4hello\u{1e}bAQIDBA==".utf8), version: 4)
        #expect(r.packets == ["message:hello", "message:b 1 2 3 4"])
    }

    @Test func v3CharacterLengths() {
        // "€" is one character (three UTF-8 bytes): the length is 2, not 4.
        let r = packets(Array("6:4hello2:4€".utf8), version: 3)
        #expect(r.packets == ["message:hello", "message:€"])
        #expect(r.problem == nil)
    }

    @Test func v3Base64Binary() {
        let r = packets(Array("2:4€10:b4AQIDBA==".utf8), version: 3)
        #expect(r.packets == ["message:€", "message:b 1 2 3 4"])
    }

    @Test func v3AstralCharacterCountsTwo() {
        // U+1F600 is two UTF-16 code units, as JavaScript counts.
        let r = packets(Array("3:4😀1:2".utf8), version: 3)
        #expect(r.packets == ["message:😀", "ping:"])
    }

    @Test func v3BinaryPayload() {
        let body: [UInt8] = [0x00, 0x04, 0xff, 0x34, 0xe2, 0x82, 0xac, 0x01, 0x05, 0xff, 0x04, 0x01, 0x02, 0x03, 0x04]
        let r = packets(body, version: 3)
        #expect(r.packets == ["message:€", "message:b 1 2 3 4"])
        #expect(r.problem == nil)
    }

    @Test func v3JSONP() {
        let r = packets(Array("___eio[0](\"6:4hello2:4\\u20ac\");".utf8), version: 3, jsonp: true)
        #expect(r.packets == ["message:hello", "message:€"])
    }

    @Test(arguments: [
        ("7:4hello", 3), ("4hello\u{1e}x", 4), ("5x4hello", 3), ("bZZZ*", 4),
    ])
    func lyingPayloadsAreReported(text: String, version: Int) {
        #expect(packets(Array(text.utf8), version: version).problem != nil)
    }

    /// `0:` is what the version 3 encoder writes for no packets: no packets, no fault (engine.io-parser 2.2.1,
    /// "should encode/decode empty payloads").
    @Test func v3EmptyPacketsAreSkipped() {
        #expect(packets(Array("0:".utf8), version: 3) == ([], nil))
        #expect(packets(Array("0:2:4a0:".utf8), version: 3) == (["message:a"], nil))
    }

    /// An empty payload is a fault in both versions, as the reference parsers decode it (v3: `decodePayload('')`
    /// calls back with an error; v4: `decodePayload("")` is one error packet), in a JSONP response too.
    @Test(arguments: [("", 3, false), ("", 4, false), ("___eio[0](\"\");", 3, true)])
    func emptyPayloadIsAFault(text: String, version: Int, jsonp: Bool) {
        let r = packets(Array(text.utf8), version: version, jsonp: jsonp)
        #expect(r.packets.isEmpty)
        #expect(r.problem != nil)
    }

    /// A text packet that starts with `b` is binary data in base64, over WebSocket as in a payload (a peer sending
    /// with `b64=1`): `b<base64>` in version 4, `b<type><base64>` in version 3.
    @Test(arguments: [
        ("bAQIDBA==", 4, "message:b 1 2 3 4"), ("b4AQIDBA==", 3, "message:b 1 2 3 4"), ("b2AQ==", 3, "ping:b 1"),
        ("b", 4, "message:b "),
    ])
    func base64TextPacket(text: String, version: Int, expected: String) {
        var out: [String] = []
        let problem = Array(text.utf8).withUnsafeBytes { bytes in
            EngineIOPayload.decodeTextPacket(bytes, version: version) { p in
                out.append(
                    "\(p.type.name):\(p.binary ? "b " : "")"
                        + p.data.map { String($0, radix: 16) }.joined(separator: " "))
            }
        }
        #expect(problem == nil)
        #expect(out == [expected])
    }

    @Test(arguments: [("b4*", 3), ("b", 3), ("b9AQ==", 3), ("bA*", 4)])
    func badBase64TextPacket(text: String, version: Int) {
        let problem = Array(text.utf8).withUnsafeBytes {
            EngineIOPayload.decodeTextPacket($0, version: version) { _ in }
        }
        #expect(problem != nil)
    }

    /// An open packet without data is a valid packet (the reference parsers' vectors round-trip `{type: "open"}`);
    /// data that is not a handshake is reported.
    @Test(arguments: [
        ("", false), (#"{"sid":"a"}"#, false), (#"{"some":"json"}"#, true), ("x", true), (#"{"sid":1}"#, true),
    ])
    func badOpen(data: String, bad: Bool) {
        #expect(Array(data.utf8).withUnsafeBytes { EngineIOPayload.isBadOpen($0) } == bad)
    }

    @Test func handshake() throws {
        let json = Array(
            #"{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
                .utf8)
        let h = try #require(json.withUnsafeBytes { EngineIOPayload.handshake($0) })
        #expect(h.sid == "lv_VI97HAXpY6yYWAAAC")
        #expect(h.upgrades == ["websocket"])
        #expect(h.pingInterval == 25000)
        #expect(h.pingTimeout == 20000)
        #expect(h.maxPayload == 1_000_000)
    }
}
