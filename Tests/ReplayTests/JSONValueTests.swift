import Replay
import XCTest

final class JSONValueTests: XCTestCase {
    func testParseAndRender() throws {
        let table: [(input: String, json: String)] = [
            ("null", "null"),
            ("true", "true"),
            ("false", "false"),
            ("12", "12"),
            ("-3", "-3"),
            ("0.5", "0.5"),
            ("18446744073709551615", "18446744073709551615"),
            ("\"a\\\"b\\\\c\\n\\u0001é\"", "\"a\\\"b\\\\c\\n\\u0001é\""),
            ("[1, \"x\", null, [true]]", "[1,\"x\",null,[true]]"),
            ("{\"b\": 1, \"a\": {\"d\": [], \"c\": {}}}", "{\"a\":{\"c\":{},\"d\":[]},\"b\":1}"),
        ]
        for (input, json) in table {
            XCTAssertEqual(try JSONValue(parsing: input).json, json, input)
            XCTAssertEqual(try JSONValue(parsing: Array(input.utf8)).json, json, input)
        }
        XCTAssertEqual(
            try JSONValue(parsing: "{\"k\":[1,{\"n\":false}]}"),
            .object(["k": .array([.number("1"), .object(["n": .bool(false)])])]))
    }

    func testParseErrors() {
        // Foundation's decoder tolerates a trailing comma ("[1,]"), so that is not in the table.
        for bad in ["", "{", "{\"a\" 1}", "tru", "'x'"] {
            XCTAssertThrowsError(try JSONValue(parsing: bad), bad)
        }
    }

    func testNumberEquality() {
        let equal: [(String, String)] = [
            ("1", "1.0"), ("1", "1e0"), ("100", "1E2"), ("0.5", "5e-1"), ("-0", "0"), ("0.0", "0"), ("-2.50", "-2.5"),
            ("12345678901234567890123", "1.2345678901234567890123e22"),
        ]
        for (a, b) in equal {
            XCTAssertEqual(JSONValue.number(a), JSONValue.number(b), "\(a) == \(b)")
        }
        let different: [(String, String)] = [
            ("1", "2"), ("1", "-1"), ("0.1", "0.01"), ("12345678901234567890123", "12345678901234567890124"),
        ]
        for (a, b) in different {
            XCTAssertNotEqual(JSONValue.number(a), JSONValue.number(b), "\(a) != \(b)")
        }
        XCTAssertNotEqual(JSONValue.number("1"), .string("1"))
        XCTAssertNotEqual(JSONValue.bool(true), .number("1"))
        XCTAssertEqual(JSONValue.array([.number("1")]), .array([.number("1.00")]))
        XCTAssertEqual(JSONValue.object(["a": .number("2e1")]), .object(["a": .number("20")]))
        XCTAssertNotEqual(JSONValue.object(["a": .null]), .object([:]))
    }
}
