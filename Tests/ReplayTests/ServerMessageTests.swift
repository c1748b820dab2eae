import Replay
import XCTest

final class ServerMessageTests: XCTestCase {
    func testDefaults() {
        let m = ServerMessage(kind: .event, name: "chat", args: [.object(["msgId": .string("m1")])])
        XCTAssertEqual(m.namespace, "/")
        XCTAssertNil(m.ackId)
        XCTAssertEqual(m.args, [.object(["msgId": .string("m1")])])
    }
}
