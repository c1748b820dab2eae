import Percentiles
import Replay
import SocketIO
import Testing

/// `--copies`: each copy renames the users and the clients' message ids wherever they appear (query, sends,
/// expectations, words inside longer strings), and a server message naming another copy's user is told apart
/// without parsing it.
struct CopiesTests {
    static let text = "dae3e0b3-19e4-4f60-958d-beaca6c9ac5c"

    static func send(_ json: String) -> ScriptStep {
        ScriptStep(
            action: .send(SocketIOOutgoingPacket(type: .event, ackId: 1, data: Array(json.utf8))), time: 0.1, frame: 5,
            after: nil)
    }

    /// u1 sends u2 a text and then a read receipt naming u2's message; u1 expects a friend-online notice about u2.
    static var script: ReplayScript {
        let notice = ServerMessage(
            kind: .event, name: "chat",
            args: [
                .object([
                    "msgId": .string("server-made"), "fromId": .string("u2"), "destId": .string("u1"),
                    "imageIconUrl": .string("http://img.example.com/avatar/u2.png"), "content": .string("u23 and u2"),
                    "messageType": .number("5"),
                ])
            ])
        let ack = ServerMessage(
            kind: .ack, ackId: 1, args: [.object(["status": .string("ok"), "msgId": .string(text)])])
        return ReplayScript(clients: [
            ScriptClient(
                name: "u1", user: "u1", conns: [1], sid: "s1", engineIOVersion: 4, transport: .websocket,
                path: "/socket.io/", query: [("userId", "u1"), ("v", "u1x")], headers: [("X-User", "u1")], start: 0,
                frame: 1,
                steps: [
                    send(#"["chat",{"msgId":"\#(text)","fromId":"u1","destId":"u2","content":"hi","messageType":2}]"#),
                    send(#"["chat",{"msgId":"m2","fromId":"u1","destId":"u2","content":"m9","messageType":33}]"#),
                ],
                expected: [notice, ack]),
            ScriptClient(
                name: "conn 2", user: "u2", conns: [2], sid: "s2", engineIOVersion: 4, transport: .websocket,
                path: "/socket.io/", query: [("userId", "u2")], headers: [], start: 0, frame: 2,
                steps: [send(#"["chat",{"msgId":"m9","fromId":"u2","destId":"u1","content":"m2","messageType":33}]"#)],
                expected: []),
        ])
    }

    static func data(_ step: ScriptStep) -> JSONValue? {
        guard case .send(let p) = step.action, let d = p.data else { return nil }
        return try? JSONValue(parsing: d)
    }

    @Test func messageIdsStayUUIDs() {
        #expect(CopyNaming.messageId(Self.text, copy: 3) == "dae3e0b3-19e4-4f60-958d-beaca6c9ac5f")
        #expect(
            CopyNaming.messageId("dae3e0b3-19e4-4f60-958d-ffffffffffff", copy: 2)
                == "dae3e0b3-19e4-4f60-958d-000000000001")
        #expect(CopyNaming.messageId("m1", copy: 12) == "m1-12")
        // Not a UUID: 36 characters without the dashes in place.
        let odd = String(repeating: "a", count: 36)
        #expect(CopyNaming.messageId(odd, copy: 1) == odd + "-1")
    }

    @Test func templates() throws {
        #expect(try CopyNaming().user("u1", copy: 7) == "u1-7")
        #expect(try CopyNaming(template: "{copy}{user}").user("10001", copy: 2) == "210001")
        #expect(throws: CopyNaming.TemplateError.self) { try CopyNaming(template: "{user}") }
        #expect(throws: CopyNaming.TemplateError.self) { try CopyNaming(template: "c{copy}") }
    }

    @Test func aCopyRenamesUsersAndMessageIdsEverywhere() throws {
        let copy = Self.script.copy(2, naming: try CopyNaming())
        let u1 = copy.clients[0]
        #expect(u1.name == "u1-2" && u1.user == "u1-2")
        #expect(u1.query.map(\.value) == ["u1-2", "u1x"])
        #expect(u1.headers.map(\.value) == ["u1-2"])
        let text2 = CopyNaming.messageId(Self.text, copy: 2)
        #expect(
            Self.data(u1.steps[0])
                == .array([
                    .string("chat"),
                    .object([
                        "msgId": .string(text2), "fromId": .string("u1-2"), "destId": .string("u2-2"),
                        "content": .string("hi"), "messageType": .number("2"),
                    ]),
                ]))
        // The read receipt's content names the message it reads: renamed with it.
        guard case .array(let second)? = Self.data(u1.steps[1]), case .object(let receipt) = second[1] else {
            Issue.record("no receipt")
            return
        }
        #expect(receipt["msgId"] == .string("m2-2") && receipt["content"] == .string("m9-2"))
        // Expectations: ids, and ids standing as words in longer strings (not u23).
        guard case .object(let notice) = u1.expected[0].args[0] else {
            Issue.record("no notice")
            return
        }
        #expect(notice["fromId"] == .string("u2-2") && notice["destId"] == .string("u1-2"))
        #expect(notice["imageIconUrl"] == .string("http://img.example.com/avatar/u2-2.png"))
        #expect(notice["content"] == .string("u23 and u2-2"))
        #expect(notice["msgId"] == .string("server-made"))
        #expect(u1.expected[1].args[0] == .object(["status": .string("ok"), "msgId": .string(text2)]))
        // A client named by its connection keeps that name, with the copy's number.
        #expect(copy.clients[1].name == "conn 2 #2" && copy.clients[1].user == "u2-2")
        #expect(copy.clientMessageIds == [text2, "m2-2", "m9-2"])
    }

    @Test func otherCopiesAreToldApartWithoutParsing() throws {
        let owners = CopyOwners(Self.script, copies: 3, naming: try CopyNaming())
        func other(_ text: String, own: Int) -> Bool {
            Array(text.utf8).withUnsafeBytes { owners.isOtherCopy($0, own: own) }
        }
        let notice = #"2["chat",{"fromId":"u2-3","destId":"u1-1","messageType":5}]"#
        #expect(other(notice, own: 1))
        #expect(other(notice, own: 3))  // u1-1 is copy 1's: for copy 3 another copy's too
        #expect(!other(#"2["chat",{"fromId":"u2-1","destId":"u1-1"}]"#, own: 1))
        // Ids of no copy (the recorded ones, server-made ones) belong to every copy.
        #expect(!other(#"2["chat",{"fromId":"u2","destId":"system"}]"#, own: 1))
        // An escaped string is unescaped first; a cut text is not read past its end.
        #expect(other(#"2["chat",{"fromId":"u\u0032-2"}]"#, own: 1))
        #expect(!other(#"2["chat",{"fromId":"u2-2"#, own: 1))
        #expect(!other(#"3[{"status":"ok","msgId":"m2-2"}]"#, own: 1))
    }
}

/// `--max-latency` goals and the load summary's percentiles.
struct LoadTests {
    @Test func goalsParse() throws {
        #expect(try LatencyGoal(parsing: "p99=50ms") == LatencyGoal(quantile: .p99, limit: 50))
        #expect(try LatencyGoal(parsing: "chat:p99.9=0.2s") == LatencyGoal(event: "chat", quantile: .p999, limit: 200))
        #expect(try LatencyGoal(parsing: "max=500us") == LatencyGoal(quantile: .max, limit: 0.5))
        #expect(try LatencyGoal(parsing: "P90=12") == LatencyGoal(quantile: .p90, limit: 12))
        #expect(try LatencyGoal(parsing: "chat:p99=50ms").description == "chat:p99=50ms")
        for bad in ["p99", "p98=1ms", "p99=fast", ":p99=1ms", "p99=-1ms", "p99=1h"] {
            #expect(throws: LatencyGoal.ParseError.self, "\(bad)") { try LatencyGoal(parsing: bad) }
        }
    }

    @Test func percentilesFromTheHistogram() {
        let s = LatencySummary((1...1000).map { Duration.microseconds($0 * 100) })
        #expect(s.count == 1000)
        // Three significant digits: within 0.1 %.
        #expect(abs(s[.p50]! - 50) <= 0.05 && abs(s[.p99]! - 99) <= 0.1 && abs(s[.max]! - 100) <= 0.1)
        #expect(LatencySummary([Duration]()).count == 0 && LatencySummary([Duration]())[.p99] == nil)
    }

    static func load(reply: [Double], byEvent: [String: [Double]] = [:], copies: Int = 1) -> LoadSummary {
        func summary(_ ms: [Double]) -> LatencySummary {
            LatencySummary(ms.map { Duration.microseconds(Int64($0 * 1000)) })
        }
        return LoadSummary(
            copies: copies, clients: 2 * copies, peakConnected: 2 * copies, sent: 10, received: 20, crossCopy: 0,
            seconds: 2, reply: summary(reply), replyByEvent: byEvent.mapValues(summary), delivery: summary([]),
            sendLag: summary([1]))
    }

    @Test func goalsGateTheVerdict() throws {
        let load = Self.load(reply: [10, 20, 80], byEvent: ["chat": [10, 20], "chatroom": [80]])
        let met = try LatencyGoal(parsing: "chat:max=50ms").check(load)
        let missed = try LatencyGoal(parsing: "max=50ms").check(load)
        let none = try LatencyGoal(parsing: "nosuch:p50=1s").check(load)
        #expect(met.met && !missed.met && !none.met && none.observed == nil)
        var verdict = Verdict(clients: [], ignore: [], duration: 1, load: load, goals: [met])
        #expect(verdict.exitCode == 0)
        verdict.goals.append(missed)
        #expect(verdict.exitCode == 1)
        #expect(VerdictText.closing(verdict).hasSuffix("; 1 of 2 latency goals missed"))
        #expect(JUnitReport.render(verdict).contains(#"<testsuite name="latency goals" tests="2" failures="1""#))
        #expect(VerdictJSON.render(verdict).contains(#""goals":[{"count":2,"goal":"chat:max=50ms","met":true"#))
    }

    @Test func aClientErrorInALoadRunIsAFailureNotAnError() {
        let client = ClientVerdict(name: "u1-3", conns: [1], outcomes: [], error: "no handshake")
        #expect(Verdict(clients: [client], ignore: [], duration: 1).exitCode == 2)
        #expect(
            Verdict(clients: [client], ignore: [], duration: 1, load: Self.load(reply: [], copies: 5)).exitCode == 1)
        #expect(
            Verdict(clients: [client], error: "refused", ignore: [], duration: 1, load: Self.load(reply: [], copies: 5))
                .exitCode == 2)
    }
}
