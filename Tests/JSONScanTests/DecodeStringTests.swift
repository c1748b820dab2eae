import DecoderTestSupport
import Foundation
import JSONScan
import Testing

/// `JSONScanner.decodeString`: escapes undone, runs between them copied whole.
@Suite struct DecodeStringTests {
    /// The decoded string; `decodeStringBytes` must give its bytes.
    static func decoded(_ json: String, trusted: Bool) -> String? {
        Array(json.utf8).withUnsafeBytes { bytes in
            let scanner = JSONScanner(bytes, trusted: trusted)
            let string = scanner.decodeString(0..<bytes.count)
            #expect(scanner.decodeStringBytes(0..<bytes.count) == string.map { Array($0.utf8) }, "\(json)")
            return string
        }
    }

    /// Cases Foundation cannot be the oracle for (lone surrogates) and edges of the copying.
    @Test(arguments: [
        (#""""#, ""),
        (#""plain""#, "plain"),
        (#""\n""#, "\n"),
        (#""a\"b\\c\/d""#, "a\"b\\c/d"),
        (#""\b\f\n\r\t""#, "\u{8}\u{C}\n\r\t"),
        (#""\u0041\u00e9\u4e2d""#, "Aé中"),
        (#""\ud83d\ude00!""#, "😀!"),
        (#""x\ud800y""#, "x\u{FFFD}y"),
        (#""\udc00""#, "\u{FFFD}"),
        (#""\ud800\u0041""#, "\u{FFFD}A"),
        (#""\ud800\ud800\udc00""#, "\u{FFFD}\u{10000}"),
        (#""中\u6587é""#, "中文é"),
    ])
    func table(json: String, expected: String) {
        #expect(Self.decoded(json, trusted: false) == expected)
        #expect(Self.decoded(json, trusted: true) == expected)
    }

    /// Seeded random strings of plain runs, raw UTF-8 and every kind of escape, against Foundation's decoder.
    @Test func againstFoundation() throws {
        let pieces = [
            "a", "hello world ", "中", "é", "😀", #"\n"#, #"\""#, #"\\"#, #"\/"#, #"\t"#, #"\u00e9"#, #"\u4E2D"#,
            #"\ud83d\ude00"#, #"\u0000"#, #"\b"#, #"\f"#, #"\r"#, String(repeating: "x", count: 40),
        ]
        var rng = SplitMix64(seed: 6)
        for _ in 0..<2000 {
            let count = Int(rng.next() % 12)
            let body = (0..<count).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
            let json = "\"" + body + "\""
            let oracle = try JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed) as? String
            #expect(Self.decoded(json, trusted: false) == oracle, "\(json)")
            #expect(Self.decoded(json, trusted: true) == oracle, "\(json)")
        }
    }
}

/// `JSONScanner.decodeInteger`: the digits read in place, against `Int64(String)`.
@Suite struct DecodeIntegerTests {
    @Test(arguments: [
        "0", "-0", "7", "-7", "16", "1790000000240", "9223372036854775807", "-9223372036854775808",
        "9223372036854775808", "-9223372036854775809", "18446744073709551616", "99999999999999999999",
        "1.5", "1e3", "-1E+2", "0.0", "-", "123456789012345678", "-123456789012345678", "999999999999999999",
        "-999999999999999999", "1234567890123456789", "12345678901234567.8", "00012", "1-2",
    ])
    func againstInt64(text: String) {
        let decoded = Array(text.utf8).withUnsafeBytes { JSONScanner($0, trusted: true).decodeInteger(0..<$0.count) }
        #expect(decoded == Int64(text), "\(text)")
    }
}
