import DecoderTestSupport
import Foundation
import JSONScan
import Testing

/// The scanner's verdict on whole documents against Foundation's parser: seeded random JSON in the shapes Socket.IO
/// payloads take (objects of short keys and string, number and literal values, arrays, nesting), and copies with one
/// byte deleted, duplicated or replaced by a character that matters to the grammar. Each scanner path is reached: keys
/// and values ending within or past the first eight bytes, single digits before a delimiter, escapes, whitespace.
/// Foundation is not the oracle for lone surrogates, numbers beyond a double or very deep nesting (none are made: the
/// numbers are short, so a byte copied into one cannot make an exponent past 308), nor for a comma before a closing
/// bracket, which it accepts and RFC 8259 does not.
@Suite struct ValidityTests {
    struct Maker {
        var rng: SplitMix64

        mutating func below(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }

        mutating func string() -> String {
            let pieces = ["a", "msgId", "中文", "é", #"\""#, #"\\"#, #"\n"#, #"\u00e9"#, "x y", "0123456789", "😀"]
            return "\"" + (0..<below(5)).map { _ in pieces[below(pieces.count)] }.joined() + "\""
        }

        mutating func number() -> String {
            ["0", "7", "-3", "42", "179", "-0.5", "2.5e3", "1E-2", "10"][below(9)]
        }

        mutating func space() -> String { below(4) == 0 ? [" ", "\n", "\t ", "\r\n"][below(4)] : "" }

        mutating func value(_ depth: Int) -> String {
            switch depth > 3 ? below(4) : below(6) {
            case 0: return string()
            case 1: return number()
            case 2: return ["true", "false", "null"][below(3)]
            case 3: return below(2) == 0 ? string() : number()
            case 4:
                let members = (0..<below(5)).map { _ in space() + string() + space() + ":" + space() + value(depth + 1)
                }
                return "{" + members.joined(separator: ",") + space() + "}"
            default:
                return "[" + (0..<below(4)).map { _ in space() + value(depth + 1) }.joined(separator: ",") + space()
                    + "]"
            }
        }
    }

    static func scannerSays(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { JSONScanner($0).isValidDocument() }
    }

    static func foundationSays(_ bytes: [UInt8]) -> Bool {
        (try? JSONSerialization.jsonObject(with: Data(bytes), options: .fragmentsAllowed)) != nil
    }

    /// A comma, whitespace, then `]` or `}` outside strings: not JSON, though Foundation takes it.
    static func trailingComma(_ bytes: [UInt8]) -> Bool {
        var inString = false
        var escaped = false
        var lastToken: UInt8 = 0
        for b in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if b == 0x5C {
                    escaped = true
                } else if b == 0x22 {
                    inString = false
                }
                continue
            }
            switch b {
            case 0x20, 0x0A, 0x0D, 0x09: continue
            case UInt8(ascii: "]"), UInt8(ascii: "}"): if lastToken == UInt8(ascii: ",") { return true }
            case 0x22: inString = true
            default: break
            }
            lastToken = b
        }
        return false
    }

    @Test func againstFoundation() {
        var maker = Maker(rng: SplitMix64(seed: 8))
        let grammar = Array(#"{}[],:"\ 0-.e1tfn"#.utf8) + [0x0A, 0x01]  // and control characters
        var checked = 0
        for _ in 0..<3000 {
            let document = Array((maker.value(0)).utf8)
            #expect(Self.scannerSays(document), "\(String(decoding: document, as: UTF8.self))")
            var copies: [[UInt8]] = []
            for _ in 0..<4 where !document.isEmpty {
                let at = maker.below(document.count)
                var copy = document
                switch maker.below(3) {
                case 0: copy.remove(at: at)
                case 1: copy.insert(copy[at], at: at)
                default: copy[at] = grammar[maker.below(grammar.count)]
                }
                copies.append(copy)
            }
            for copy in copies {
                // A copy that is no longer valid UTF-8 is left out: Foundation rejects it, the scanner leaves that
                // check to the layer that reads the message.
                guard String(validating: copy, as: UTF8.self) != nil else { continue }
                checked += 1
                #expect(
                    Self.scannerSays(copy) == (Self.foundationSays(copy) && !Self.trailingComma(copy)),
                    "\(String(decoding: copy, as: UTF8.self))")
            }
        }
        #expect(checked > 10_000)
    }
}
