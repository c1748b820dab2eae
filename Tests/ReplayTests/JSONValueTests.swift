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
        let bad = [
            "", "{", "{\"a\" 1}", "tru", "'x'", "[1,]", "{\"a\":1,}", "01", "1.", "-", "1e", ".5", "+1", "[1 2]",
            "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\x\"", "\"a\u{1}b\"", "\"open", "1 2", "nul",
            "1e999",
            String(repeating: "[", count: 600) + String(repeating: "]", count: 600),
        ]
        for text in bad {
            XCTAssertThrowsError(try JSONValue(parsing: text), text)
        }
        // Bytes that are not UTF-8 inside a string.
        XCTAssertThrowsError(try JSONValue(parsing: [0x22, 0xFF, 0x22]))
        XCTAssertThrowsError(try JSONValue(parsing: [0x22, 0x5C, 0x6E, 0xC3, 0x22]))
    }

    func testParserDetails() throws {
        let table: [(input: String, value: JSONValue)] = [
            (" \t\r\n 7 ", .number("7")),
            ("-0", .number("0")),
            ("1.0", .number("1")),
            ("1E2", .number("100")),
            ("2.5e-3", .number("0.0025")),
            ("1e19", .number("10000000000000000000")),
            ("1e20", .number("1e+20")),
            ("-9223372036854775808", .number("-9223372036854775808")),
            ("\"\\ud83d\\ude00 \\/ \\b\\f\\t\\u00e9\"", .string("\u{1F600} / \u{8}\u{C}\té")),
            ("{\"a\":1,\"a\":2}", .object(["a": .number("2")])),
            ("[[],{},\"\"]", .array([.array([]), .object([:]), .string("")])),
            (String(repeating: "[", count: 500) + String(repeating: "]", count: 500), .array([])),
        ]
        for (input, value) in table.dropLast() {
            XCTAssertEqual(try JSONValue(parsing: input), value, input)
        }
        XCTAssertNoThrow(try JSONValue(parsing: table.last!.input), "500 deep is within the limit")
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
