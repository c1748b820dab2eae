import Replay
import Testing

/// What two runs teach: the paths that differed (between the runs, or from the recording), never what the rules
/// already ignore, and messages missing or unexpected as unlearnable; the noise file reads back.
struct NoiseTests {
    static func chat(_ fields: [String: JSONValue]) -> ServerMessage {
        ServerMessage(kind: .event, name: "chat", args: [.object(fields)])
    }

    static func script(expected: [ServerMessage]) -> ReplayScript {
        ReplayScript(clients: [
            ScriptClient(
                name: "u1", user: "u1", conns: [1], sid: "s", engineIOVersion: 4, transport: .websocket,
                path: "/socket.io/", query: [], headers: [], start: 0, frame: 1, steps: [], expected: expected)
        ])
    }

    @Test func learnsWhatDiffers() {
        let recorded = Self.chat(["msgId": .string("m1"), "messageType": .number("2"), "trace": .string("a")])
        let run1 = Self.chat([
            "msgId": .string("m1"), "messageType": .number("2"), "trace": .string("b"), "receiveTime": .number("5"),
        ])
        let run2 = Self.chat([
            "msgId": .string("m1"), "messageType": .number("2"), "trace": .string("c"), "receiveTime": .number("6"),
            "extra": .bool(true),
        ])
        let matcher = Matcher(rules: IgnoreRules(clientMsgIds: ["m1"]))
        let learned = Noise.learn(Self.script(expected: [recorded]), runs: [[[run1]], [[run2]]], matcher: matcher)
        // receiveTime is a default rule (not learned); extra appears in run 2 only.
        #expect(learned.patterns == ["chat.args[0].extra", "chat.args[0].trace"])
        #expect(learned.unlearnable.isEmpty)
    }

    @Test func aMissingMessageIsNotNoise() {
        let recorded = Self.chat(["msgId": .string("m1"), "messageType": .number("2")])
        let learned = Noise.learn(
            Self.script(expected: [recorded]), runs: [[[recorded]], [[]]],
            matcher: Matcher(rules: IgnoreRules(clientMsgIds: ["m1"])))
        #expect(learned.patterns.isEmpty)
        #expect(learned.unlearnable.count == 1 && learned.unlearnable[0].hasPrefix("run 2: u1 missing event chat"))
    }

    @Test func fileRoundTrip() throws {
        let learned = Noise.Learned(patterns: ["chat.args[0].trace", "**.serverTime"], unlearnable: [])
        let text = Noise.render(learned, source: "c.pcap", server: "http://h:1")
        #expect(try Noise.parse(text).map(\.description) == learned.patterns)
        #expect(throws: Noise.ReadError.self) { try Noise.parse("# ok\n\nchat.args[\n") }
    }

    /// A message that differed only in learned noise is matched, and says so.
    @Test func noiseOnlyOutcome() throws {
        let pattern = try IgnorePattern(parsing: "chat.args[0].trace")
        let matcher = Matcher(rules: IgnoreRules(clientMsgIds: ["m1"], noise: [pattern]))
        let a = Self.chat(["msgId": .string("m1"), "trace": .string("a")])
        let b = Self.chat(["msgId": .string("m1"), "trace": .string("b")])
        let outcomes = matcher.match(expected: [a], actual: [b])
        #expect(outcomes.map(\.status) == [.matched] && outcomes[0].isNoiseOnly)
        #expect(matcher.match(expected: [a], actual: [a]).allSatisfy { !$0.isNoiseOnly })
    }
}
