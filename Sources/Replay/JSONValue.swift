import Foundation

/// A JSON value as the replay verdict compares it. Numbers keep their text (as recorded or received), so a report
/// prints them as they were; two numbers are equal when they denote the same value.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])
}

extension JSONValue {
    /// Parses one JSON text (RFC 8259; a top-level scalar too). Integers keep their digits; other numbers go
    /// through `Double` and keep the shortest text that reads back to it (`0.1`, `1e+20`). A recursive descent of
    /// its own (``JSONParser``): Foundation's `JSONDecoder` reaches a `Decodable` enum only by trying each type in
    /// turn, which cost a load run a tenth of its CPU.
    public init(parsing bytes: some Collection<UInt8>) throws {
        let parsed = try bytes.withContiguousStorageIfAvailable { try JSONParser.parse(UnsafeRawBufferPointer($0)) }
        self = try parsed ?? Array(bytes).withUnsafeBytes { try JSONParser.parse($0) }
    }

    /// Parses one JSON text given as a string.
    public init(parsing text: String) throws {
        try self.init(parsing: Array(text.utf8))
    }

    /// Compact JSON (no spaces, object keys sorted), for reports: deterministic whatever the dictionary order.
    public var json: String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let text): out += text
        case .string(let s): out += JSONValue.quoted(s)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, key) in members.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                out += JSONValue.quoted(key)
                out += ":"
                members[key]!.write(to: &out)
            }
            out += "}"
        }
    }

    /// `s` as a JSON string literal: quotes, backslashes and control characters escaped, the rest as is.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{8}": out += "\\b"
            case "\u{C}": out += "\\f"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Structural equality; numbers compare by the value their text denotes (`1`, `1.0` and `1e0` are equal).
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)):
            return a == b || JSONValue.canonicalNumber(a) == JSONValue.canonicalNumber(b)
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)): return a == b
        default: return false
        }
    }

    /// A number's text reduced to `[-]digitsEexponent` with no leading or trailing zeros in the digits, so texts that
    /// denote the same value reduce to the same string; exact for any length (no `Double` rounding). Text that is no
    /// JSON number reduces to itself.
    static func canonicalNumber(_ text: String) -> String {
        var bytes = Substring(text).utf8[...]
        var negative = false
        if bytes.first == UInt8(ascii: "-") {
            negative = true
            bytes = bytes.dropFirst()
        }
        var digits: [UInt8] = []
        var exponent = 0
        var seenPoint = false
        while let b = bytes.first, b == UInt8(ascii: ".") || (b >= 0x30 && b <= 0x39) {
            bytes = bytes.dropFirst()
            if b == UInt8(ascii: ".") {
                if seenPoint { return text }
                seenPoint = true
            } else {
                digits.append(b)
                if seenPoint { exponent -= 1 }
            }
        }
        if let e = bytes.first, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            guard
                let value = Int(
                    String(decoding: bytes.dropFirst(), as: UTF8.self).replacingOccurrences(of: "+", with: ""))
            else { return text }
            exponent += value
        } else if !bytes.isEmpty {
            return text
        }
        guard !digits.isEmpty else { return text }
        while digits.first == 0x30 { digits.removeFirst() }
        if digits.isEmpty { return "0" }
        while digits.last == 0x30 {
            digits.removeLast()
            exponent += 1
        }
        return (negative ? "-" : "") + String(decoding: digits, as: UTF8.self) + "e" + String(exponent)
    }
}

extension JSONValue: Decodable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let i = try? c.decode(Int64.self) {
            self = .number(String(i))
        } else if let u = try? c.decode(UInt64.self) {
            self = .number(String(u))
        } else if let d = try? c.decode(Double.self) {
            self = .number(JSONValue.numberText(d))
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    /// A double as JSON would print it: integral values below 2^53 without a fraction, others in Swift's shortest
    /// round-trip form (which is valid JSON).
    static func numberText(_ d: Double) -> String {
        if d == d.rounded(), abs(d) < 9_007_199_254_740_992 { return String(Int64(d)) }
        return d.description
    }
}
