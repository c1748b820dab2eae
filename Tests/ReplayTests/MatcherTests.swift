import Replay
import XCTest

/// A chat event as the IM server pushes it: args[0] an object with messageType, msgId and the given fields.
private func chat(_ type: Int, _ msgId: String, _ fields: [String: JSONValue] = [:], frame: UInt64? = nil)
    -> ServerMessage
{
    var object = fields
    object["messageType"] = .number(String(type))
    object["msgId"] = .string(msgId)
    return ServerMessage(kind: .event, name: "chat", args: [.object(object)], frame: frame)
}

private func ack(_ id: Int64, _ args: [JSONValue]) -> ServerMessage {
    ServerMessage(kind: .ack, ackId: id, args: args)
}

private let clientIds: Set<String> = ["c-1", "c-2", "c-3", "c-4", "c-5"]

private func statuses(_ outcomes: [Outcome]) -> [String] {
    outcomes.map { o in
        let label = (o.expected ?? o.actual).map { m in
            if case .object(let first)? = m.args.first, case .string(let id)? = first["msgId"] { return id }
            return m.label
        }
        return "\(o.status.rawValue) \(label ?? "")"
    }
}

final class MatcherTests: XCTestCase {
    let ordered = Matcher(rules: IgnoreRules(clientMsgIds: clientIds))
    let unordered = Matcher(rules: IgnoreRules(clientMsgIds: clientIds), ordered: false)

    func testOrderedAlignment() {
        let a = chat(7, "c-1")
        let b = chat(7, "c-2")
        let c = chat(8, "c-3")
        let x = chat(9, "c-4")
        let table: [(name: String, expected: [ServerMessage], actual: [ServerMessage], result: [String])] = [
            ("same", [a, b, c], [a, b, c], ["matched c-1", "matched c-2", "matched c-3"]),
            ("missing in the middle", [a, b, c], [a, c], ["matched c-1", "missing c-2", "matched c-3"]),
            ("unexpected in the middle", [a, c], [a, x, c], ["matched c-1", "unexpected c-4", "matched c-3"]),
            ("missing first", [a, b, c], [b, c], ["missing c-1", "matched c-2", "matched c-3"]),
            ("extra last", [a], [a, x], ["matched c-1", "unexpected c-4"]),
            ("swapped", [a, b], [b, a], ["missing c-1", "matched c-2", "unexpected c-1"]),
            ("none came", [a, b], [], ["missing c-1", "missing c-2"]),
            ("none expected", [], [x], ["unexpected c-4"]),
            ("replaced", [a, b, c], [a, x, c], ["matched c-1", "missing c-2", "unexpected c-4", "matched c-3"]),
            ("duplicates", [a, a, b], [a, b], ["matched c-1", "missing c-1", "matched c-2"]),
            ("duplicates both", [a, a], [a, a], ["matched c-1", "matched c-1"]),
        ]
        for row in table {
            XCTAssertEqual(statuses(ordered.match(expected: row.expected, actual: row.actual)), row.result, row.name)
        }
    }

    func testClientVerdict() {
        let v = ordered.verdict(
            name: "u1", conns: [1, 2], sid: "S", expected: [chat(7, "c-1"), chat(7, "c-2")], actual: [chat(7, "c-2")])
        XCTAssertEqual(v.name, "u1")
        XCTAssertEqual(v.conns, [1, 2])
        XCTAssertEqual(v.sid, "S")
        XCTAssertNil(v.error)
        XCTAssertEqual(v.counts, OutcomeCounts(matched: 1, missing: 1))
    }

    func testAlignmentLimit() {
        let a = chat(7, "c-1")
        let b = chat(7, "c-2")
        let c = chat(8, "c-3")
        let x = chat(9, "c-4")
        // One cell short of the table the middle [b] against [x] needs (2 x 2): greedy in-order pairing.
        let greedy = Matcher(rules: IgnoreRules(clientMsgIds: clientIds), alignmentLimit: 3)
        let table = Matcher(rules: IgnoreRules(clientMsgIds: clientIds), alignmentLimit: 4)
        for m in [greedy, table] {
            XCTAssertEqual(
                statuses(m.match(expected: [a, b, c], actual: [a, x, c])),
                ["matched c-1", "missing c-2", "unexpected c-4", "matched c-3"])
        }
        // Where greedy and the alignment part ways: a swap.
        XCTAssertEqual(
            statuses(greedy.match(expected: [a, b], actual: [b, a])), ["unexpected c-2", "matched c-1", "missing c-2"])
        XCTAssertEqual(
            statuses(ordered.match(expected: [a, b], actual: [b, a])), ["missing c-1", "matched c-2", "unexpected c-1"])
    }

    func testOrderedPrefersValueEqualPairs() {
        // Same key (server-made msgIds do not identify), different values: the equal one pairs.
        let s1 = chat(7, "s-1", ["text": .string("one")])
        let s2 = chat(7, "s-2", ["text": .string("two")])
        let s9 = chat(7, "s-9", ["text": .string("two")])
        // Online/offline notices changed, so neither end is trimmed as equal before the alignment.
        let x = ServerMessage(kind: .event, name: "online", args: [.string("u2")])
        let x2 = ServerMessage(kind: .event, name: "online", args: [.string("u3")])
        let y = ServerMessage(kind: .event, name: "offline", args: [.string("u2")])
        let y2 = ServerMessage(kind: .event, name: "offline", args: [.string("u3")])
        let outcomes = ordered.match(expected: [x, s1, s2, y], actual: [x2, s9, y2])
        XCTAssertEqual(outcomes.map(\.status), [.changed, .missing, .matched, .changed])
        XCTAssertEqual(outcomes[1].expected, s1)
        XCTAssertEqual(outcomes[2].expected, s2)
        XCTAssertEqual(
            outcomes[2].ignored,
            [
                IgnoredDifference(
                    path: ValuePath(head: "chat", [.key("args"), .index(0), .key("msgId")]), reason: "server-made msgId"
                )
            ])
        // And the other way round: the equal one is first.
        XCTAssertEqual(
            ordered.match(expected: [x, s2, s1, y], actual: [x2, s9, y2]).map(\.status),
            [.changed, .matched, .missing, .changed])
    }

    func testChangedField() {
        let e = chat(7, "c-1", ["status": .number("0"), "text": .string("hi")], frame: 812)
        let a = chat(7, "c-1", ["status": .number("3"), "text": .string("hi")])
        let outcomes = ordered.match(expected: [e], actual: [a])
        XCTAssertEqual(outcomes.count, 1)
        XCTAssertEqual(outcomes[0].status, .changed)
        XCTAssertEqual(
            outcomes[0].differences,
            [
                Difference(
                    path: ValuePath(head: "chat", [.key("args"), .index(0), .key("status")]),
                    expected: .json(.number("0")), actual: .json(.number("3")))
            ])
        XCTAssertEqual(outcomes[0].differences.map(\.description), ["chat.args[0].status: expected 0, got 3"])
        // 3 == 3.0: the same number, no difference.
        let same = chat(7, "c-1", ["status": .number("3.0"), "text": .string("hi")])
        XCTAssertEqual(ordered.match(expected: [a], actual: [same])[0].status, .matched)
    }

    func testStructuralDifferences() {
        let rules = IgnoreRules()
        let e = ServerMessage(
            kind: .event, name: "room",
            args: [.object(["a": .number("1"), "b": .array([.number("1"), .number("2")]), "t": .string("x")]), .null])
        let a = ServerMessage(
            kind: .event, name: "room",
            args: [.object(["b": .array([.number("1")]), "c": .number("2"), "t": .array([])])])
        XCTAssertEqual(
            rules.compare(e, a).differences.map(\.description),
            [
                "room.args[0].a: missing (expected 1)",
                "room.args[0].b[1]: missing (expected 2)",
                "room.args[0].c: unexpected key (got 2)",
                "room.args[0].t: expected \"x\", got []",
                "room.args[1]: missing (expected null)",
            ])
        XCTAssertEqual(
            rules.compare(a, e).differences.map(\.description).last, "room.args[1]: unexpected element (got null)")
    }

    func testDefaultIgnoresAreListed() {
        let e = ServerMessage(
            kind: .connect,
            args: [
                .object([
                    "sid": .string("A"), "id": .number("1"),
                    "meta": .object(["sendTime": .number("10"), "receiveTime": .number("11")]),
                ])
            ])
        let a = ServerMessage(
            kind: .connect,
            args: [
                .object([
                    "sid": .string("B"), "meta": .object(["sendTime": .number("20"), "receiveTime": .number("11")]),
                ])
            ])
        let outcome = ordered.match(expected: [e], actual: [a])[0]
        XCTAssertEqual(outcome.status, .matched)
        XCTAssertEqual(
            outcome.ignored.map { "\($0.path) \($0.reason)" },
            ["connect.args[0].id **.id", "connect.args[0].meta.sendTime **.sendTime", "connect.args[0].sid **.sid"])
        // Without the defaults, the same pair is changed.
        let strict = Matcher(rules: IgnoreRules(patterns: []))
        XCTAssertEqual(strict.match(expected: [e], actual: [a])[0].differences.count, 3)
        // A user pattern ignores what it names, and only that.
        let custom = Matcher(rules: IgnoreRules(patterns: ["connect.args[0].sid", "**.meta.*"]))
        let c = custom.match(expected: [e], actual: [a])[0]
        XCTAssertEqual(c.differences.map(\.path.description), ["connect.args[0].id"])
        XCTAssertEqual(
            c.ignored.map { "\($0.path) \($0.reason)" },
            ["connect.args[0].meta.sendTime **.meta.*", "connect.args[0].sid connect.args[0].sid"])
    }

    func testMsgIds() {
        let rules = IgnoreRules(patterns: [], clientMsgIds: ["c-1"])
        let path = ValuePath(head: "chat", [.key("args"), .index(0), .key("msgId")])
        // Both server-made: not compared, listed.
        XCTAssertEqual(
            rules.compare(chat(1, "s-1"), chat(1, "s-2")).ignored,
            [IgnoredDifference(path: path, reason: "server-made msgId")])
        XCTAssertEqual(rules.compare(chat(1, "s-1"), chat(1, "s-2")).differences, [])
        // One of them client-sent: compared.
        XCTAssertEqual(
            rules.compare(chat(1, "c-1"), chat(1, "s-2")).differences.map(\.description),
            ["chat.args[0].msgId: expected \"c-1\", got \"s-2\""])
        XCTAssertEqual(rules.compare(chat(1, "s-1"), chat(1, "c-1")).differences.count, 1)
        // Numeric server ids too.
        let n1 = ServerMessage(kind: .event, name: "chat", args: [.object(["msgId": .number("5")])])
        let n2 = ServerMessage(kind: .event, name: "chat", args: [.object(["msgId": .number("6")])])
        XCTAssertTrue(rules.compare(n1, n2).isEqual)
        // A client-sent msgId identifies: a different one does not pair.
        let m = Matcher(rules: IgnoreRules(clientMsgIds: ["c-1", "c-2"]))
        XCTAssertEqual(
            m.match(expected: [chat(1, "c-1")], actual: [chat(1, "c-2")]).map(\.status), [.missing, .unexpected])
        // A server-made one is matched by position.
        XCTAssertEqual(
            m.match(expected: [chat(1, "s-1"), chat(1, "s-2")], actual: [chat(1, "s-8"), chat(1, "s-9")]).map(\.status),
            [.matched, .matched])
    }

    func testAcksPairById() {
        let ok: [JSONValue] = [.object(["status": .number("0")])]
        let failed: [JSONValue] = [.object(["status": .number("1")])]
        XCTAssertEqual(
            ordered.match(expected: [ack(1, ok), ack(2, ok)], actual: [ack(2, ok), ack(1, ok)]).map(\.status),
            [.missing, .matched, .unexpected])
        XCTAssertEqual(
            unordered.match(expected: [ack(1, ok), ack(2, ok)], actual: [ack(2, ok), ack(1, ok)]).map(\.status),
            [.matched, .matched])
        let changed = ordered.match(expected: [ack(1, ok)], actual: [ack(1, failed)])
        XCTAssertEqual(changed.map(\.status), [.changed])
        XCTAssertEqual(changed[0].differences.map(\.description), ["ack.args[0].status: expected 0, got 1"])
        XCTAssertEqual(
            ordered.match(expected: [ack(1, ok)], actual: [ack(3, ok)]).map(\.status), [.missing, .unexpected])
        // Namespace is identity too.
        var other = ack(1, ok)
        other.namespace = "/admin"
        XCTAssertEqual(ordered.match(expected: [ack(1, ok)], actual: [other]).map(\.status), [.missing, .unexpected])
    }

    func testAttachments() {
        let e = ServerMessage(
            kind: .event, name: "file", args: [.object(["_placeholder": .bool(true), "num": .number("0")])],
            attachments: [[1, 2, 3]])
        var a = e
        a.attachments = [Array(0..<20)]
        let outcome = ordered.match(expected: [e], actual: [a])[0]
        XCTAssertEqual(outcome.status, .changed)
        XCTAssertEqual(
            outcome.differences.map(\.description),
            ["file.attachments[0]: expected <3 bytes 010203>, got <20 bytes 000102030405060708090a0b0c0d0e0f…>"])
        a.attachments = [[1, 2, 3], [4]]
        XCTAssertEqual(
            ordered.match(expected: [e], actual: [a])[0].differences.map(\.description),
            ["file.attachments[1]: unexpected element (got <1 bytes 04>)"])
        a.attachments = [[1, 2, 3]]
        XCTAssertEqual(ordered.match(expected: [e], actual: [a])[0].status, .matched)
    }

    func testUnordered() {
        let a = chat(7, "c-1")
        let b = chat(7, "c-2")
        let c = chat(8, "c-3")
        let x = chat(9, "c-4")
        XCTAssertEqual(
            statuses(unordered.match(expected: [a, b, c], actual: [c, a, x])),
            ["matched c-1", "missing c-2", "matched c-3", "unexpected c-4"])
        XCTAssertEqual(
            statuses(unordered.match(expected: [a, a, b], actual: [b, a])),
            ["matched c-1", "missing c-1", "matched c-2"])
        // Value-equal pairs first: s=2 pairs with s=2 although s=1 comes first.
        let s1 = chat(7, "s-1", ["s": .number("1")])
        let s2 = chat(7, "s-2", ["s": .number("2")])
        let s3 = chat(7, "s-3", ["s": .number("3")])
        let outcomes = unordered.match(expected: [s1, s2], actual: [s2, s3])
        XCTAssertEqual(outcomes.map(\.status), [.changed, .matched])
        XCTAssertEqual(outcomes[0].actual, s3)
        XCTAssertEqual(outcomes[0].differences.map(\.description), ["chat.args[0].s: expected 1, got 3"])
    }
}
