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
