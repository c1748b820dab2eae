import ImscopeCore
import Testing
import UTF8Validation

/// `isValidUTF8` (RFC 3629 as RFC 6455 section 8.1 requires; in ImscopeCore, used by the WebSocket layer).
@Suite struct UTF8ValidationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        /// Valid as a whole.
        var valid: Bool
        /// Valid when a sequence cut off by the end is allowed.
        var validTruncated: Bool
        var testDescription: String { name }
    }

    static func ok(_ name: String, _ bytes: [UInt8]) -> Case {
        Case(name: name, bytes: bytes, valid: true, validTruncated: true)
    }
    static func bad(_ name: String, _ bytes: [UInt8]) -> Case {
        Case(name: name, bytes: bytes, valid: false, validTruncated: false)
    }
    /// Invalid whole, valid when the end may be cut.
    static func cut(_ name: String, _ bytes: [UInt8]) -> Case {
        Case(name: name, bytes: bytes, valid: false, validTruncated: true)
    }

    static let cases: [Case] = [
        ok("empty", []),
        ok("ASCII", Array("Hello, world".utf8)),
        ok("NUL and DEL", [0x00, 0x7F]),
        ok("2-byte U+0080", [0xC2, 0x80]),
        ok("2-byte U+07FF", [0xDF, 0xBF]),
        ok("3-byte U+0800", [0xE0, 0xA0, 0x80]),
        ok("3-byte U+20AC", [0xE2, 0x82, 0xAC]),
        ok("3-byte U+D7FF (below the surrogates)", [0xED, 0x9F, 0xBF]),
        ok("3-byte U+E000 (above the surrogates)", [0xEE, 0x80, 0x80]),
        ok("3-byte U+FFFF", [0xEF, 0xBF, 0xBF]),
        ok("4-byte U+10000", [0xF0, 0x90, 0x80, 0x80]),
        ok("4-byte U+1F600", [0xF0, 0x9F, 0x98, 0x80]),
        ok("4-byte U+10FFFF", [0xF4, 0x8F, 0xBF, 0xBF]),
        ok("mixed", Array("a\u{E9}\u{20AC}\u{1F600}z".utf8)),
        bad("overlong C0 80", [0xC0, 0x80]),
        bad("overlong C1 BF", [0xC1, 0xBF]),
        bad("overlong E0 80 80", [0xE0, 0x80, 0x80]),
        bad("overlong E0 9F BF", [0xE0, 0x9F, 0xBF]),
        bad("overlong F0 80 80 80", [0xF0, 0x80, 0x80, 0x80]),
        bad("overlong F0 8F BF BF", [0xF0, 0x8F, 0xBF, 0xBF]),
        bad("surrogate ED A0 80", [0xED, 0xA0, 0x80]),
        bad("surrogate ED BF BF", [0xED, 0xBF, 0xBF]),
        bad("above U+10FFFF: F4 90 80 80", [0xF4, 0x90, 0x80, 0x80]),
        bad("F5", [0xF5, 0x80, 0x80, 0x80]),
        bad("FF", [0xFF]),
        bad("FE", [0xFE]),
        bad("a lone continuation byte", [0x80]),
        bad("a continuation byte after ASCII", [0x61, 0xBF]),
        bad("2-byte sequence with an ASCII second byte", [0xC3, 0x28]),
        bad("3-byte sequence with a bad third byte", [0xE2, 0x82, 0x28]),
        bad("4-byte sequence with a bad fourth byte", [0xF0, 0x9F, 0x98, 0x28]),
        bad("a truncated sequence followed by more", [0xE2, 0x82, 0x61]),
        cut("truncated 2-byte", [0x61, 0xC3]),
        cut("truncated 3-byte after 1", [0x61, 0xE2]),
        cut("truncated 3-byte after 2", [0x61, 0xE2, 0x82]),
        cut("truncated 4-byte after 1", [0xF0]),
        cut("truncated 4-byte after 2", [0xF0, 0x9F]),
        cut("truncated 4-byte after 3", [0xF0, 0x9F, 0x98]),
        bad("truncated overlong stays bad", [0x61, 0xE0, 0x80]),
        bad("truncated surrogate stays bad", [0xED, 0xA0]),
        bad("truncated above U+10FFFF stays bad", [0xF4, 0x90]),
        bad("truncated overlong 4-byte stays bad", [0xF0, 0x80]),
        bad("an invalid lead byte at the end", [0x61, 0xC0]),
        bad("an invalid lead byte F5 at the end", [0x61, 0xF5]),
    ]

    @Test(arguments: cases)
    func table(_ c: Case) {
        c.bytes.withUnsafeBytes { b in
            #expect(isValidUTF8(b) == c.valid)
            #expect(isValidUTF8(b, allowTruncatedEnd: true) == c.validTruncated)
        }
    }

    /// The same cases after a long ASCII run, so each sits behind the 8-byte fast path at every alignment.
    @Test(arguments: cases, 0..<8)
    func afterASCII(_ c: Case, _ prefix: Int) {
        let bytes = [UInt8](repeating: 0x41, count: 16 + prefix) + c.bytes
        bytes.withUnsafeBytes { b in
            #expect(isValidUTF8(b) == c.valid)
            #expect(isValidUTF8(b, allowTruncatedEnd: true) == c.validTruncated)
        }
    }

    /// One bad (or multi-byte) byte at each position of a 40-byte ASCII run: the 8-byte fast path must not skip it.
    @Test(arguments: 0..<40)
    func oneByteInASCII(_ position: Int) {
        var bytes = [UInt8](repeating: 0x61, count: 40)
        bytes[position] = 0xFF
        bytes.withUnsafeBytes { #expect(!isValidUTF8($0)) }
        bytes[position] = 0x80
        bytes.withUnsafeBytes { #expect(!isValidUTF8($0)) }
        if position + 1 < bytes.count {
            bytes[position] = 0xC3
            bytes[position + 1] = 0xA9
            bytes.withUnsafeBytes { #expect(isValidUTF8($0)) }
            bytes[position + 1] = 0x61
            bytes.withUnsafeBytes { #expect(!isValidUTF8($0)) }
            bytes.withUnsafeBytes { #expect(!isValidUTF8($0, allowTruncatedEnd: true)) }
        }
    }

    /// Every single byte: ASCII is valid, anything else alone is not (lead bytes are fine when the end may be cut).
    @Test func everySingleByte() {
        for b in 0...255 {
            let byte = [UInt8(b)]
            let isLead = (0xC2...0xF4).contains(b)
            byte.withUnsafeBytes {
                #expect(isValidUTF8($0) == (b < 0x80), "byte \(b)")
                #expect(isValidUTF8($0, allowTruncatedEnd: true) == (b < 0x80 || isLead), "byte \(b), truncated")
            }
        }
    }

    /// Agrees with Swift's own validation on every 2-byte sequence and on 3-byte sequences with lead E0, ED, EF.
    @Test func agreesWithSwift() {
        for b0 in 0...255 {
            for b1 in 0...255 {
                let bytes = [UInt8(b0), UInt8(b1)]
                let swift = String(validating: bytes, as: UTF8.self) != nil
                bytes.withUnsafeBytes { #expect(isValidUTF8($0) == swift, "\(bytes)") }
            }
        }
        for b0 in [0xE0, 0xED, 0xEF, 0xF0, 0xF4] as [UInt8] {
            for b1 in 0...255 {
                for b2 in [0x80, 0xBF, 0x41] as [UInt8] {
                    let bytes = [b0, UInt8(b1), b2] + (b0 >= 0xF0 ? [0x80] : [])
                    let swift = String(validating: bytes, as: UTF8.self) != nil
                    bytes.withUnsafeBytes { #expect(isValidUTF8($0) == swift, "\(bytes)") }
                }
            }
        }
    }
}
