import Foundation
import Replay
import SocketIO
import Testing

/// The replay script file: what export writes reads back to the same script (rendered again, the same bytes), and
/// a file that is wrong is refused with where and what.
struct ScriptJSONTests {
    @Test(arguments: [
        "replay-eio4-websocket.pcap", "replay-eio3-polling-upgrade.pcap", "replay-eio4-polling.pcap",
        "replay-eio4-namespace.pcap",
    ])
    func roundTrip(capture: String) throws {
        let script = try ScriptBuilderTests.script(capture)
        let text = ScriptJSON.render(script, source: capture, ignore: ["chat.args[0].receiveTime"])
        let (read, ignore) = try ScriptJSON.parse(Array(text.utf8))
        #expect(ignore == ["chat.args[0].receiveTime"])
        #expect(ScriptJSON.render(read, source: capture, ignore: ignore) == text)
        #expect(read.clients.map(\.name) == script.clients.map(\.name))
        #expect(read.clients.map(\.expected) == script.clients.map(\.expected))
        #expect(read.clientMessageIds == script.clientMessageIds)
        // What is sent is the same JSON (keys sorted), the same attachments.
        for (a, b) in zip(read.clients.flatMap(\.steps), script.clients.flatMap(\.steps)) {
            guard case .send(let p) = a.action, case .send(let q) = b.action else { continue }
            #expect(p.type == q.type && p.namespace == q.namespace && p.ackId == q.ackId)
            #expect(p.attachments == q.attachments)
            #expect(try p.data.map { try JSONValue(parsing: $0) } == q.data.map { try JSONValue(parsing: $0) })
        }
    }

    /// A payload that was not JSON is kept as its text and sent as it was.
    @Test func payloadThatIsNotJSON() throws {
        let packet = SocketIOOutgoingPacket(type: .event, data: Array("[\"chat\",{oops}]".utf8))
        let script = ReplayScript(clients: [
            ScriptClient(
                name: "u1", user: "u1", conns: [1], sid: "s", engineIOVersion: 4, transport: .websocket,
                path: "/socket.io/", query: [("userId", "u1")], headers: [], start: 0, frame: 1,
                steps: [ScriptStep(action: .send(packet), time: 0.5, frame: 2, after: nil)], expected: [])
        ])
        let text = ScriptJSON.render(script, source: nil)
        #expect(text.contains(#""dataText": "[\"chat\",{oops}]""#))
        let (read, _) = try ScriptJSON.parse(Array(text.utf8))
        guard case .send(let p) = read.clients[0].steps[0].action else {
            Issue.record("not a send")
            return
        }
        #expect(p.data == packet.data)
    }

    static let minimal = """
        {"format": "imscope-replay-script", "version": 1, "clients": [{"name": "u1", "engineIO": 4,
         "transport": "websocket", "path": "/socket.io/", "start": 0, "expected": [],
         "steps": [{"at": 0, "send": {"type": "EVENT", "data": ["chat", {}]}}]}]}
        """

    @Test func minimalScriptReads() throws {
        let (script, ignore) = try ScriptJSON.parse(Array(Self.minimal.utf8))
        #expect(ignore.isEmpty && script.clients.count == 1 && script.clients[0].steps.count == 1)
    }

    @Test(arguments: [
        ("{\n,}", "not valid JSON at line 2, column 1"),
        ("[1,\n 2,,3]", "not valid JSON at line 2, column 4"),
        ("[]", "the script: expected an object"),
        ("{\"clients\": []}", "format: not an imscope replay script"),
        (minimal.replacingOccurrences(of: "\"version\": 1", with: "\"version\": 2"), "version: 2 is not a version"),
        (minimal.replacingOccurrences(of: "EVENT", with: "EVNT"), "clients[0].steps[0].send.type: \"EVNT\" is not"),
        (minimal.replacingOccurrences(of: "\"engineIO\": 4", with: "\"engineIO\": 5"), "clients[0].engineIO: must"),
        (
            minimal.replacingOccurrences(of: "\"at\": 0,", with: "\"at\": 0, \"after\": 3,"),
            "clients[0].steps[0].after: 3 is not the index"
        ),
        (minimal.replacingOccurrences(of: "\"name\": \"u1\",", with: ""), "clients[0].name: missing"),
        (
            minimal.replacingOccurrences(of: "\"type\": \"EVENT\"", with: "\"type\": \"BINARY_EVENT\""),
            "clients[0].steps[0].send: a BINARY_EVENT needs attachments"
        ),
        (
            minimal.replacingOccurrences(of: "\"send\"", with: "\"sent\""),
            "clients[0].steps[0]: a step has either"
        ),
        (
            minimal.replacingOccurrences(of: "\"transport\": \"websocket\"", with: "\"transport\": \"ws\""),
            "clients[0].transport: \"ws\" is not websocket"
        ),
    ])
    func refused(text: String, message: String) {
        do {
            _ = try ScriptJSON.parse(Array(text.utf8))
            Issue.record("accepted: \(text)")
        } catch {
            #expect("\(error)".hasPrefix(message), "\(error)")
        }
    }
}
