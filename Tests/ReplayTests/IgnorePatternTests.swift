import Replay
import XCTest

final class IgnorePatternTests: XCTestCase {
    func testPathPrinting() {
        let table: [(ValuePath, String)] = [
            (ValuePath(head: "chat", [.key("args"), .index(0), .key("receiveTime")]), "chat.args[0].receiveTime"),
            (ValuePath(head: "ack", [.key("args"), .index(1), .key("a-b")]), "ack.args[1][\"a-b\"]"),
            (ValuePath(head: "user online", [.key("args")]), "[\"user online\"].args"),
            (ValuePath(head: "chat", [.key("attachments"), .index(2)]), "chat.attachments[2]"),
            (
                ValuePath(head: "x", [.key("q\"\\\n"), .key("$ok_1"), .key("1a"), .key("")]),
                "x[\"q\\\"\\\\\\n\"].$ok_1[\"1a\"][\"\"]"
            ),
        ]
        for (path, text) in table {
            XCTAssertEqual(path.description, text)
            // A printed path, read back as a pattern, matches exactly that path.
            let pattern = try? IgnorePattern(parsing: text)
            XCTAssertNotNil(pattern, text)
            XCTAssertEqual(pattern?.matches(path), true, text)
            XCTAssertEqual(pattern?.matches(path.appending(.key("more"))), false, text)
        }
        XCTAssertEqual(
            ValuePath(of: ServerMessage(kind: .event, name: "chat")).appending(.key("args")).description, "chat.args")
        XCTAssertEqual(ValuePath(of: ServerMessage(kind: .connectError)).description, "connect_error")
    }

    func testParsedSteps() throws {
        let table: [(String, [IgnorePattern.Step])] = [
            ("chat", [.name("chat")]),
            ("**.sid", [.anyDepth, .name("sid")]),
            ("*.args[*].x", [.anyName, .name("args"), .anyIndex, .name("x")]),
            ("chat.**", [.name("chat"), .anyDepth]),
            ("[\"a b\"].args[12][\"k\\u0041\"]", [.name("a b"), .name("args"), .index(12), .name("kA")]),
            ("a.*.**.b", [.name("a"), .anyName, .anyDepth, .name("b")]),
        ]
        for (text, steps) in table {
            let p = try IgnorePattern(parsing: text)
            XCTAssertEqual(p.steps, steps, text)
            XCTAssertEqual(p.description, text)
        }
    }

    func testMatching() throws {
        let path = ValuePath(head: "chat", [.key("args"), .index(0), .key("meta"), .key("receiveTime")])
        let table: [(String, Bool)] = [
            ("chat.args[0].meta.receiveTime", true),
            ("**.receiveTime", true),
            ("**", true),
            ("chat.**", true),
            ("**.meta.**", true),
            ("*.args[*].*.receiveTime", true),
            ("chat.args[*].**.receiveTime", true),
            ("chat.**.args[0].meta.receiveTime", true),
            ("**.chat.args[0].meta.receiveTime", true),
            ("ack.**", false),
            ("chat.args[1].**", false),
            ("chat.args.*.meta.receiveTime", false),
            ("**.sendTime", false),
            ("chat.args[0].meta", false),
            ("*.receiveTime", false),
            ("chat.args[0].meta.receiveTime.x", false),
            ("**.receiveTime.**.x", false),
        ]
        for (text, expected) in table {
            XCTAssertEqual(try IgnorePattern(parsing: text).matches(path), expected, text)
        }
        XCTAssertEqual(IgnorePattern.defaults.map(\.description), ["**.sid", "**.sendTime", "**.receiveTime", "**.id"])
    }

    func testBadPatterns() {
        let table: [(String, Int, String)] = [
            ("", 1, "empty pattern"),
            (".a", 1, "expected a key after start, found '.' (quote other keys as [\"key\"])"),
            ("chat.", 6, "expected a key after '.', found the end"),
            ("chat..x", 6, "expected a key after '.', found '.' (quote other keys as [\"key\"])"),
            ("chat.args[", 11, "expected an index, '*' or a quoted key after '['"),
            ("chat.args[x]", 11, "expected an index, '*' or a quoted key after '['"),
            ("chat.args[0", 12, "expected ']' to close the '[' at column 10"),
            ("chat.args[\"a]", 11, "unterminated string"),
            ("chat[\"\\q\"]", 6, "invalid JSON string \"\\q\""),
            ("chat.***", 8, "'***' is not a wildcard; use '*' or '**'"),
            ("chat args", 5, "expected '.' or '[', found ' '"),
            ("[0]", 2, "expected a quoted key after '['"),
            ("chat.1a", 6, "expected a key after '.', found '1' (quote other keys as [\"key\"])"),
            ("chat.args[99999999999999999999]", 11, "index too large"),
        ]
        for (text, column, message) in table {
            XCTAssertThrowsError(try IgnorePattern(parsing: text), text) { error in
                XCTAssertEqual(error as? PathPatternError, PathPatternError(column: column, message: message), text)
            }
        }
        XCTAssertEqual(PathPatternError(column: 3, message: "m").description, "column 3: m")
    }
}
