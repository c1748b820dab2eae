import Foundation
import Replay
import XCTest

/// A small verdict: u1 with a matched ack, a changed chat and a missing one; conn 3 with an unexpected event whose
/// text needs escaping (markup and a control character XML 1.0 cannot carry).
private func sampleVerdict() -> Verdict {
    let ackMsg = ServerMessage(kind: .ack, ackId: 4, args: [.object(["status": .number("0")])], frame: 700)
    let chatE = ServerMessage(
        kind: .event, name: "chat",
        args: [.object(["messageType": .number("7"), "msgId": .string("m-12"), "status": .number("0")])], frame: 812)
    var chatA = chatE
    chatA.frame = nil
    chatA.args = [.object(["messageType": .number("7"), "msgId": .string("m-12"), "status": .number("3")])]
    let lost = ServerMessage(kind: .event, name: "chat", args: [.object(["messageType": .number("9")])], frame: 820)
    let odd = ServerMessage(kind: .event, namespace: "/admin", name: "note", args: [.string("a<b & \"c\"\u{1}")])
    let rules = IgnoreRules(clientMsgIds: ["m-12"])
    let u1 = ClientVerdict(
        name: "u1", conns: [1, 2], sid: "abc",
        outcomes: [
            Outcome(status: .matched, expected: ackMsg, actual: ackMsg),
            Outcome(
                status: .changed, expected: chatE, actual: chatA, differences: rules.compare(chatE, chatA).differences),
            Outcome(status: .missing, expected: lost, actual: nil),
        ])
    let conn3 = ClientVerdict(
        name: ClientVerdict.displayName(userId: nil, conns: [3]), conns: [3],
        outcomes: [Outcome(status: .unexpected, expected: nil, actual: odd)])
    return Verdict(clients: [u1, conn3], ignore: IgnorePattern.defaults, duration: 1.5)
}

final class ReportTests: XCTestCase {
    func testCountsAndExitCode() {
        var v = sampleVerdict()
        XCTAssertEqual(v.counts, OutcomeCounts(matched: 1, changed: 1, missing: 1, unexpected: 1))
        XCTAssertEqual(v.clients[0].counts.differences, 2)
        XCTAssertEqual(v.counts.expected, 3)
        XCTAssertEqual(v.exitCode, 1)
        v.clients[1].error = "connection reset"
        XCTAssertEqual(v.exitCode, 2)
        v.clients = [ClientVerdict(name: "u1", conns: [1], outcomes: [v.clients[0].outcomes[0]])]
        XCTAssertEqual(v.exitCode, 0)
        v.error = "server unreachable"
        XCTAssertEqual(v.exitCode, 2)
        XCTAssertEqual(ClientVerdict.displayName(userId: "u7", conns: [3]), "u7")
        XCTAssertEqual(ClientVerdict.displayName(userId: "", conns: [3, 4]), "conn 3")
    }

    func testText() {
        print(VerdictText.summary(sampleVerdict()))
    }

    func testJUnit() {
        print(JUnitReport.render(sampleVerdict()))
        var v = sampleVerdict()
        v.clients[1].error = "reset\u{7} by <peer>\r\n\"x\""
        v.clients[0].outcomes.removeLast()
        v.error = "server stopped answering"
        print(JUnitReport.render(v))
        print(VerdictText.summary(v))
        print(VerdictJSON.render(v))
    }

    func testJSON() {
        print(VerdictJSON.render(sampleVerdict()))
    }
}
