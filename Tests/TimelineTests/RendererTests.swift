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

    /// Every byte that needs escaping, at every position of the word-wide scan (and two side by side, where the
    /// scan's borrow could flag the wrong one), against a byte-by-byte escaper.
    @Test(arguments: [UInt8(0x22), 0x5C, 0x00, 0x01, 0x0A, 0x1F])
    func jsonStringEscapesAtEveryPosition(special: UInt8) {
        func reference(_ bytes: [UInt8]) -> String {
            var s = "\""
            for b in bytes {
                switch b {
                case 0x22: s += "\\\""
                case 0x5C: s += "\\\\"
                case 0x0A: s += "\\n"
                case 0x0D: s += "\\r"
                case 0x09: s += "\\t"
                case 0..<0x20: s += "\\u00" + (b < 16 ? "0" : "") + String(b, radix: 16)
                default: s += String(UnicodeScalar(b))
                }
            }
            return s + "\""
        }
        for length in [1, 7, 8, 9, 15, 16, 17, 24] {
            for position in 0..<length {
                for neighbour: UInt8 in [0x61, 0x00, 0x22, 0x21, 0x23, 0x5B, 0x5D, 0x20, 0x7F] {
                    var bytes = [UInt8](repeating: 0x61, count: length)
                    bytes[position] = special
                    if position + 1 < length { bytes[position + 1] = neighbour }
                    let out = OutputBuffer(fd: -1, threshold: 4)
                    bytes.withUnsafeBytes { out.appendJSONString(utf8: $0) }
                    #expect(String(decoding: out.bytes, as: UTF8.self) == reference(bytes), "\(bytes)")
                }
            }
        }
    }

    @Test func base64AndGrowth() {
        let out = OutputBuffer(fd: -1, threshold: 4)
        for input in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
            Array(input.utf8).withUnsafeBytes { out.appendBase64($0) }
            out.append(byte: UInt8(ascii: " "))
        }
        #expect(String(decoding: out.bytes, as: UTF8.self) == " Zg== Zm8= Zm9v Zm9vYg== Zm9vYmE= Zm9vYmFy ")
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
