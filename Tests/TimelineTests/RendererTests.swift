import Capture
import ImscopeCore
import Testing
import Timeline

@Suite struct RendererTests {
    @Test(arguments: [
        ("plain", "\"plain\""),
        ("quote \" and \\ backslash", "\"quote \\\" and \\\\ backslash\""),
        ("line\nfeed\ttab\r", "\"line\\nfeed\\ttab\\r\""),
        ("\u{01}\u{1f}", "\"\\u0001\\u001f\""),
        ("中文 ✓", "\"中文 ✓\""),
    ])
    func jsonStrings(input: String, expected: String) {
        let out = OutputBuffer(fd: -1)
        out.appendJSONString(input)
        #expect(String(decoding: out.bytes, as: UTF8.self) == expected)
    }

    @Test(arguments: [
        (Timestamp(nanoseconds: 1_700_000_000_123_456_000, precision: 6), "1700000000.123456"),
        (Timestamp(nanoseconds: 1_700_000_000_000_000_001, precision: 9), "1700000000.000000001"),
        (Timestamp(nanoseconds: 5_000, precision: 6), "0.000005"),
    ])
    func timestamps(ts: Timestamp, expected: String) {
        let out = OutputBuffer(fd: -1)
        out.appendTimestamp(ts)
        #expect(String(decoding: out.bytes, as: UTF8.self) == expected)
    }

    @Test(arguments: [(UInt64(0), 1, "0"), (42, 5, "00042"), (UInt64.max, 1, "18446744073709551615")])
    func digits(value: UInt64, width: Int, expected: String) {
        let out = OutputBuffer(fd: -1)
        out.appendDigits(value, minWidth: width)
        #expect(String(decoding: out.bytes, as: UTF8.self) == expected)
    }

    @Test func jsonArrayFormat() {
        let out = OutputBuffer(fd: -1)
        let renderer = JSONLRenderer(out: out, array: true)
        renderer.emit(Record(Diagnostic(.tcpMalformed, "x")))
        renderer.emit(Record(Diagnostic(.tcpMalformed, "y")))
        renderer.finish()
        let text = String(decoding: out.bytes, as: UTF8.self)
        #expect(text.hasPrefix("[\n{"))
        #expect(text.hasSuffix("}\n]\n"))
        #expect(text.components(separatedBy: "},\n{").count == 2)
    }
}
