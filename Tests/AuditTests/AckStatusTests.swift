import Testing

@testable import Audit

/// An ACK's verdict from its arguments, and a content that names a message: tables of JSON in, values out.
struct AckStatusTests {
    static func status(_ json: String) -> AckStatus {
        Array(json.utf8).withUnsafeBytes { MessageAudit.status($0) }
    }

    @Test(arguments: [
        (#"[{"status":"ok","msgId":"m1"}]"#, AckStatus.ok),
        (#"[{"status":"OK"}]"#, .ok),
        (#"[{"status":0}]"#, .ok),
        (#"[{"status":200}]"#, .ok),
        (#"[{"msgId":"m1"}]"#, .ok),
        (#"[]"#, .ok),
        (#"["fine"]"#, .ok),
        (#"not json"#, .ok),
        (#"[{"status":"error","error":"messageType 3 refused"}]"#, .failed("messageType 3 refused")),
        (#"[{"status":"error"}]"#, .failed("error")),
        (#"[{"status":3}]"#, .failed("3")),
    ])
    func ackVerdicts(_ json: String, _ expected: AckStatus) {
        #expect(Self.status(json) == expected, "\(json)")
    }

    @Test func contentNamingAMessage() {
        func string(_ json: String) -> String? { Array(json.utf8).withUnsafeBytes { MessageAudit.jsonString($0) } }
        #expect(string(#""dae3e0b3-19e4""#) == "dae3e0b3-19e4")
        #expect(string(#""a\u0062c""#) == "abc")
        #expect(string(#"{"msgId":"x"}"#) == nil)
        #expect(string("12") == nil)
        #expect(string("") == nil)
    }

    @Test func authUserId() {
        func user(_ json: String) -> String? { Array(json.utf8).withUnsafeBytes { MessageAudit.userId(inAuth: $0) } }
        #expect(user(#"{"userId":"u2"}"#) == "u2")
        #expect(user(#"{"userId":10001}"#) == "10001")
        #expect(user(#"{"token":"x"}"#) == nil)
        #expect(user(#"["u2"]"#) == nil)
    }
}
