import Foundation
import Replay
import XCTest

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// A small verdict: u1 with a matched ack (a receiveTime ignored), a changed chat and a missing one; conn 3 with an unexpected event whose
/// text needs escaping (markup and a control character XML 1.0 cannot carry).
private func sampleVerdict() -> Verdict {
    let ackMsg = ServerMessage(
        kind: .ack, ackId: 4, args: [.object(["status": .number("0"), "receiveTime": .number("1")])], frame: 700)
    let chatE = ServerMessage(
        kind: .event, name: "chat",
        args: [.object(["messageType": .number("7"), "msgId": .string("m-12"), "status": .number("0")])], frame: 812)
    var chatA = chatE
    chatA.frame = nil
    chatA.time = 1.25
    var ackA = ackMsg
    ackA.frame = nil
    ackA.time = 0.5
    ackA.args = [.object(["status": .number("0"), "receiveTime": .number("2")])]
    chatA.args = [.object(["messageType": .number("7"), "msgId": .string("m-12"), "status": .number("3")])]
    let lost = ServerMessage(kind: .event, name: "chat", args: [.object(["messageType": .number("9")])], frame: 820)
    let odd = ServerMessage(kind: .event, namespace: "/admin", name: "note", args: [.string("a<b & \"c\"\u{1}")])
    let rules = IgnoreRules(clientMsgIds: ["m-12"])
    let u1 = ClientVerdict(
        name: "u1", conns: [1, 2], sid: "abc",
        outcomes: [
            Outcome(
                status: .matched, expected: ackMsg, actual: ackA, ignored: rules.compare(ackMsg, ackA).ignored),
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
        XCTAssertEqual(
            VerdictText.summary(sampleVerdict()),
            #"""
            u1: 1 matched, 1 changed, 1 missing
            conn 3: 1 unexpected
            u1 ignored: ack.args[0].receiveTime (**.receiveTime)
            u1 changed #2 event chat messageType=7 msgId=m-12 (frame 812)
              chat.args[0].status: expected 0, got 3
            u1 missing #3 event chat messageType=9 (frame 820)
              never came; expected args [{"messageType":9}]
            conn 3 unexpected event /admin note
              not expected; got args ["a<b & \"c\"\u0001"]
            ignored: **.sid, **.sendTime, **.receiveTime, **.id
            replay: 3 differences in 2 of 2 clients
            """# + "\n")
        XCTAssertEqual(
            VerdictText.summary(errorVerdict()),
            #"""
            u1: 1 matched, 1 changed
            conn 3: 1 unexpected
            conn 3: error: reset\u0007 by <peer>\r\n"x"
            u1 ignored: ack.args[0].receiveTime (**.receiveTime)
            u1 changed #2 event chat messageType=7 msgId=m-12 (frame 812)
              chat.args[0].status: expected 0, got 3
            conn 3 unexpected event /admin note
              not expected; got args ["a<b & \"c\"\u0001"]
            ignored: **.sid, **.sendTime, **.receiveTime, **.id
            replay: error: server stopped answering
            """# + "\n")
        let clean = Verdict(
            clients: [ClientVerdict(name: "u1", conns: [1], outcomes: [sampleVerdict().clients[0].outcomes[0]])],
            ignore: [], duration: 0)
        XCTAssertEqual(
            VerdictText.summary(clean),
            "u1: 1 matched\nu1 ignored: ack.args[0].receiveTime (**.receiveTime)\nreplay: all 1 expected server message matched\n"
        )
        XCTAssertEqual(VerdictText.oneLine("a\tb\u{0}"), "a\\tb\\u0000")
    }

    func testJUnit() throws {
        XCTAssertEqual(
            JUnitReport.render(sampleVerdict()),
            #"""
            <?xml version="1.0" encoding="UTF-8"?>
            <testsuites name="imscope replay" tests="4" failures="3" errors="0" skipped="0" time="1.500">
              <testsuite name="u1" tests="3" failures="2" errors="0" skipped="0" time="1.250">
                <testcase name="#1 ack 4 (frame 700)" classname="replay.u1">
                  <system-out>ack.args[0].receiveTime: ignored (**.receiveTime)</system-out>
                </testcase>
                <testcase name="#2 event chat messageType=7 msgId=m-12 (frame 812)" classname="replay.u1">
                  <failure message="changed: chat.args[0].status: expected 0, got 3" type="changed">chat.args[0].status: expected 0, got 3</failure>
                </testcase>
                <testcase name="#3 event chat messageType=9 (frame 820)" classname="replay.u1">
                  <failure message="missing: never came; expected args [{&quot;messageType&quot;:9}]" type="missing">never came; expected args [{"messageType":9}]</failure>
                </testcase>
              </testsuite>
              <testsuite name="conn 3" tests="1" failures="1" errors="0" skipped="0" time="0.000">
                <testcase name="unexpected #1 event /admin note" classname="replay.conn 3">
                  <failure message="unexpected: not expected; got args [&quot;a&lt;b &amp; \&quot;c\&quot;\u0001&quot;]" type="unexpected">not expected; got args ["a&lt;b &amp; \"c\"\u0001"]</failure>
                </testcase>
              </testsuite>
            </testsuites>
            """# + "\n")
        XCTAssertEqual(
            JUnitReport.render(errorVerdict()),
            #"""
            <?xml version="1.0" encoding="UTF-8"?>
            <testsuites name="imscope replay" tests="5" failures="2" errors="2" skipped="0" time="1.500">
              <testsuite name="replay" tests="1" failures="0" errors="1" skipped="0" time="0.000">
                <testcase name="replay" classname="replay">
                  <error message="server stopped answering">server stopped answering</error>
                </testcase>
              </testsuite>
              <testsuite name="u1" tests="2" failures="1" errors="0" skipped="0" time="1.250">
                <testcase name="#1 ack 4 (frame 700)" classname="replay.u1">
                  <system-out>ack.args[0].receiveTime: ignored (**.receiveTime)</system-out>
                </testcase>
                <testcase name="#2 event chat messageType=7 msgId=m-12 (frame 812)" classname="replay.u1">
                  <failure message="changed: chat.args[0].status: expected 0, got 3" type="changed">chat.args[0].status: expected 0, got 3</failure>
                </testcase>
              </testsuite>
              <testsuite name="conn 3" tests="2" failures="1" errors="1" skipped="0" time="0.000">
                <testcase name="unexpected #1 event /admin note" classname="replay.conn 3">
                  <failure message="unexpected: not expected; got args [&quot;a&lt;b &amp; \&quot;c\&quot;\u0001&quot;]" type="unexpected">not expected; got args ["a&lt;b &amp; \"c\"\u0001"]</failure>
                </testcase>
                <testcase name="client" classname="replay.conn 3">
                  <error message="reset\u0007 by &lt;peer&gt;&#13;&#10;&quot;x&quot;">reset\u0007 by &lt;peer&gt;&#13;
            "x"</error>
                </testcase>
              </testsuite>
            </testsuites>
            """# + "\n")
        XCTAssertEqual(JUnitReport.escape("a\u{0}\u{1F}\u{FFFF}\t\n\r'"), "a\\u0000\\u001f\\uffff&#9;&#10;&#13;'")
        #if canImport(FoundationXML)
            // The shape JUnit readers (Jenkins, GitLab) take: suites in testsuites, cases in suites, a case holding
            // at most failure, error, skipped or system-out, the required attributes present, counts that add up.
            for verdict in [sampleVerdict(), errorVerdict()] {
                let doc = try XMLDocument(data: Data(JUnitReport.render(verdict).utf8))
                let root = try XCTUnwrap(doc.rootElement())
                XCTAssertEqual(root.name, "testsuites")
                var total = 0
                for suite in root.elements(forName: "testsuite") {
                    XCTAssertNotNil(suite.attribute(forName: "name"))
                    let cases = suite.elements(forName: "testcase")
                    XCTAssertEqual(suite.children?.count, cases.count)
                    XCTAssertEqual(suite.attribute(forName: "tests")?.stringValue, String(cases.count))
                    let failed = cases.filter { !$0.elements(forName: "failure").isEmpty }.count
                    XCTAssertEqual(suite.attribute(forName: "failures")?.stringValue, String(failed))
                    for testcase in cases {
                        XCTAssertNotNil(testcase.attribute(forName: "name"))
                        XCTAssertNotNil(testcase.attribute(forName: "classname"))
                        for child in testcase.children ?? [] {
                            XCTAssert(["failure", "error", "skipped", "system-out"].contains(child.name ?? ""))
                        }
                        for failure in testcase.elements(forName: "failure") + testcase.elements(forName: "error") {
                            XCTAssertNotNil(failure.attribute(forName: "message"))
                        }
                    }
                    total += cases.count
                }
                XCTAssertEqual(root.attribute(forName: "tests")?.stringValue, String(total))
                XCTAssertEqual(
                    total,
                    verdict.clients.reduce(0) { $0 + $1.outcomes.count + ($1.error == nil ? 0 : 1) }
                        + (verdict.error == nil ? 0 : 1))
            }
        #endif
    }

    func testJSON() throws {
        let json = VerdictJSON.render(sampleVerdict())
        XCTAssertEqual(
            json,
            #"{"clients":[{"conns":[1,2],"error":null,"name":"u1","outcomes":[{"actual":{"ackId":4,"args":[{"r"#
                + #"eceiveTime":2,"status":0}],"attachments":[],"frame":null,"kind":"ack","name":null,"namespace":"/"#
                + #"","time":0.5},"differences":[],"expected":{"ackId":4,"args":[{"receiveTime":1,"status":0}],"atta"#
                + #"chments":[],"frame":700,"kind":"ack","name":null,"namespace":"/","time":0},"ignored":[{"path":"a"#
                + #"ck.args[0].receiveTime","reason":"**.receiveTime"}],"status":"matched"},{"actual":{"ackId":null,"#
                + #""args":[{"messageType":7,"msgId":"m-12","status":3}],"attachments":[],"frame":null,"kind":"event"#
                + #"","name":"chat","namespace":"/","time":1.25},"differences":[{"actual":3,"expected":0,"path":"cha"#
                + #"t.args[0].status"}],"expected":{"ackId":null,"args":[{"messageType":7,"msgId":"m-12","status":0}"#
                + #"],"attachments":[],"frame":812,"kind":"event","name":"chat","namespace":"/","time":0},"ignored":"#
                + #"[],"status":"changed"},{"actual":null,"differences":[],"expected":{"ackId":null,"args":[{"messag"#
                + #"eType":9}],"attachments":[],"frame":820,"kind":"event","name":"chat","namespace":"/","time":0},""#
                + #"ignored":[],"status":"missing"}],"sid":"abc","summary":{"changed":1,"matched":1,"missing":1,"une"#
                + #"xpected":0}},{"conns":[3],"error":null,"name":"conn 3","outcomes":[{"actual":{"ackId":null,"args"#
                + #"":["a<b & \"c\"\u0001"],"attachments":[],"frame":null,"kind":"event","name":"note","namespace":""#
                + #"/admin","time":0},"differences":[],"expected":null,"ignored":[],"status":"unexpected"}],"sid":nu"#
                + #"ll,"summary":{"changed":0,"matched":0,"missing":0,"unexpected":1}}],"duration":1.500,"error":nul"#
                + #"l,"exit":1,"goals":[],"ignore":["**.sid","**.sendTime","**.receiveTime","**.id"],"load":null,"#
                + #""summary":{"changed":1,"ma"#
                + #"tched":1,"missing":1,"unexpected":1}}"#)
        guard case .object(let root) = try JSONValue(parsing: json) else { return XCTFail("not an object") }
        XCTAssertEqual(root["exit"], .number("1"))
        guard case .object(let errorRoot) = try JSONValue(parsing: VerdictJSON.render(errorVerdict())) else {
            return XCTFail("not an object")
        }
        XCTAssertEqual(errorRoot["exit"], .number("2"))
        XCTAssertEqual(errorRoot["error"], .string("server stopped answering"))
        // Attachments and absent sides of a difference.
        let e = ServerMessage(kind: .event, name: "f", attachments: [[1, 2]])
        let a = ServerMessage(kind: .event, name: "f")
        let outcome = Outcome(
            status: .changed, expected: e, actual: a, differences: IgnoreRules().compare(e, a).differences)
        let v = Verdict(clients: [ClientVerdict(name: "u1", conns: [1], outcomes: [outcome])], ignore: [], duration: 0)
        guard case .object(let r) = try JSONValue(parsing: VerdictJSON.render(v)),
            case .array(let clients)? = r["clients"], case .object(let c)? = clients.first,
            case .array(let outcomes)? = c["outcomes"], case .object(let o)? = outcomes.first
        else { return XCTFail("shape") }
        XCTAssertEqual(
            o["differences"]?.json,
            #"[{"actual":{"missing":true},"expected":{"bytes":"AQI="},"path":"f.attachments[0]"}]"#)
        guard case .object(let expected)? = o["expected"] else { return XCTFail("expected") }
        XCTAssertEqual(expected["attachments"], .array([.string("AQI=")]))
    }
}

/// The sample with a client error (markup and control characters in it), the missing message gone, and a run error.
private func errorVerdict() -> Verdict {
    var v = sampleVerdict()
    v.clients[1].error = "reset\u{7} by <peer>\r\n\"x\""
    v.clients[0].outcomes.removeLast()
    v.error = "server stopped answering"
    return v
}
