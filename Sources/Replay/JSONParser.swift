import UTF8Validation

/// The parser behind ``JSONValue/init(parsing:)-(Collection<UInt8>)``: one pass over the bytes, strictly RFC 8259
/// (no trailing commas, no comments, no lone surrogates, no control characters in strings), nesting at most
/// ``maxDepth`` deep so hostile input cannot exhaust the stack.
enum JSONParser {
    static let maxDepth = 512

    struct Failure: Error, CustomStringConvertible {
        var offset: Int
        var reason: String
        var description: String { "not valid JSON at byte \(offset): \(reason)" }
    }

    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> JSONValue {
        var p = Cursor(bytes: bytes)
        let value = try p.value(depth: 0)
        p.skipSpace()
        guard p.at == bytes.count else { throw p.fail("text after the value") }
        return value
    }

    struct Cursor {
        let bytes: UnsafeRawBufferPointer
        var at = 0

        func fail(_ reason: String) -> Failure { Failure(offset: at, reason: reason) }

        mutating func skipSpace() {
            while at < bytes.count {
                switch bytes[at] {
                case 0x20, 0x09, 0x0A, 0x0D: at += 1
                default: return
                }
            }
        }

        mutating func expect(_ literal: StaticString, _ value: JSONValue) throws -> JSONValue {
            let n = literal.utf8CodeUnitCount
            guard at + n <= bytes.count, (0..<n).allSatisfy({ bytes[at + $0] == literal.utf8Start[$0] }) else {
                throw fail("expected \(literal)")
            }
            at += n
            return value
        }

        mutating func value(depth: Int) throws -> JSONValue {
            guard depth < JSONParser.maxDepth else { throw fail("nested deeper than \(JSONParser.maxDepth)") }
            skipSpace()
            guard at < bytes.count else { throw fail("unexpected end") }
            switch bytes[at] {
            case UInt8(ascii: "{"):
                at += 1
                var members: [String: JSONValue] = [:]
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "}") {
                    at += 1
                    return .object(members)
                }
                while true {
                    skipSpace()
                    guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                    let key = try string()
                    skipSpace()
                    guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    at += 1
                    members[key] = try value(depth: depth + 1)
                    skipSpace()
                    guard at < bytes.count else { throw fail("unexpected end in an object") }
                    if bytes[at] == UInt8(ascii: ",") {
                        at += 1
                    } else if bytes[at] == UInt8(ascii: "}") {
                        at += 1
                        return .object(members)
                    } else {
                        throw fail("expected ',' or '}'")
                    }
                }
            case UInt8(ascii: "["):
                at += 1
                var items: [JSONValue] = []
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "]") {
                    at += 1
                    return .array(items)
                }
                while true {
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard at < bytes.count else { throw fail("unexpected end in an array") }
                    if bytes[at] == UInt8(ascii: ",") {
                        at += 1
                    } else if bytes[at] == UInt8(ascii: "]") {
                        at += 1
                        return .array(items)
                    } else {
                        throw fail("expected ',' or ']'")
                    }
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try expect("true", .bool(true))
            case UInt8(ascii: "f"): return try expect("false", .bool(false))
            case UInt8(ascii: "n"): return try expect("null", .null)
            default: return try number()
            }
        }

        /// A string at `at` (its opening quote), unescaped.
        mutating func string() throws -> String {
            at += 1
            let start = at
            // The common case: no escape, one copy.
            while at < bytes.count {
                let b = bytes[at]
                if b == UInt8(ascii: "\"") {
                    defer { at += 1 }
                    return try utf8(start..<at)
                }
                if b == UInt8(ascii: "\\") { break }
                guard b >= 0x20 else { throw fail("a control character in a string") }
                at += 1
            }
            var out = Array(bytes[start..<at])
            while at < bytes.count {
                let b = bytes[at]
                switch b {
                case UInt8(ascii: "\""):
                    at += 1
                    guard out.withUnsafeBytes({ isValidUTF8($0) }) else { throw fail("a string not UTF-8") }
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    at += 1
                    guard at < bytes.count else { throw fail("unexpected end in an escape") }
                    let e = bytes[at]
                    at += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800..<0xDC00).contains(scalar) {
                            guard at + 1 < bytes.count, bytes[at] == UInt8(ascii: "\\"),
                                bytes[at + 1] == UInt8(ascii: "u")
                            else { throw fail("a lone surrogate") }
                            at += 2
                            let low = try hex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw fail("a lone surrogate") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00..<0xE000).contains(scalar) {
                            throw fail("a lone surrogate")
                        }
                        out += String(Unicode.Scalar(scalar)!).utf8
                    default: throw fail("a bad escape")
                    }
                default:
                    guard b >= 0x20 else { throw fail("a control character in a string") }
                    out.append(b)
                    at += 1
                }
            }
            throw fail("unexpected end in a string")
        }

        mutating func hex4() throws -> UInt32 {
            guard at + 4 <= bytes.count else { throw fail("a short \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let b = bytes[at]
                let d: UInt8
                switch b {
                case 0x30...0x39: d = b - 0x30
                case 0x41...0x46: d = b - 0x41 + 10
                case 0x61...0x66: d = b - 0x61 + 10
                default: throw fail("a bad \\u escape")
                }
                v = v << 4 | UInt32(d)
                at += 1
            }
            return v
        }

        func utf8(_ range: Range<Int>) throws -> String {
            let raw = UnsafeRawBufferPointer(rebasing: bytes[range])
            guard isValidUTF8(raw) else { throw fail("a string not UTF-8") }
            return String(decoding: raw, as: UTF8.self)
        }

        /// A number by RFC 8259's grammar: integers that fit 64 bits keep their digits, others go through `Double`.
        mutating func number() throws -> JSONValue {
            let start = at
            func digits() -> Int {
                let from = at
                while at < bytes.count, bytes[at] >= 0x30, bytes[at] <= 0x39 { at += 1 }
                return at - from
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: "-") { at += 1 }
            let intStart = at
            let n = digits()
            guard n > 0 else { throw fail("expected a value") }
            guard n == 1 || bytes[intStart] != 0x30 else { throw fail("a number with a leading zero") }
            var integral = true
            if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
                at += 1
                integral = false
                guard digits() > 0 else { throw fail("a number without digits after '.'") }
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
                at += 1
                integral = false
                if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
                guard digits() > 0 else { throw fail("a number without exponent digits") }
            }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
            if integral {
                if let i = Int64(text) { return .number(String(i)) }
                if let u = UInt64(text) { return .number(String(u)) }
            }
            guard let d = Double(text), d.isFinite else { throw fail("a number out of range") }
            // An integral value that fits 64 bits is written as one (as Foundation's decoder did: `1.0` is `1`).
            if d == d.rounded(), let i = Int64(exactly: d) { return .number(String(i)) }
            if d == d.rounded(), let u = UInt64(exactly: d) { return .number(String(u)) }
            return .number(JSONValue.numberText(d))
        }
    }
}
