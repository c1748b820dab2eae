#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A member of a JSON object: its key's range (with the quotes) and its value's range.
public struct JSONMember: Equatable, Sendable {
    public var key: Range<Int>
    public var value: Range<Int>

    public init(key: Range<Int>, value: Range<Int>) {
        self.key = key
        self.value = value
    }
}

/// A validating JSON scanner (RFC 8259) that works on bytes in place: it finds where values begin and end,
/// lists the members of objects and elements of arrays as ranges, and decodes strings and numbers on request.
///
/// Decoders use it to read the few fields they need and to copy JSON through to the output unchanged, without
/// building trees they would throw away. ``JSONValue`` builds a tree for the rare cases that need one.
public struct JSONScanner {
    public let bytes: UnsafeRawBufferPointer
    /// Nesting depth allowed (a limit against hostile input).
    public var maxDepth = 128

    /// Whether the bytes were validated already (by an earlier scanner): strings are then skipped to their closing
    /// quote without checking their contents again.
    public let trusted: Bool

    public init(_ bytes: UnsafeRawBufferPointer, trusted: Bool = false) {
        self.bytes = bytes
        self.trusted = trusted
    }

    /// Where the value starting at or after `start` (whitespace skipped) ends; nil when it is not valid JSON.
    public func valueEnd(from start: Int) -> Int? { value(skipSpace(start), depth: 0) }

    /// Whether the whole buffer is exactly one JSON value (surrounding whitespace allowed).
    public func isValidDocument() -> Bool {
        guard let end = valueEnd(from: 0) else { return false }
        return skipSpace(end) == bytes.count
    }

    /// The first non-whitespace position at or after `i`.
    public func skipSpace(_ i: Int) -> Int {
        var i = i
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return i
            }
        }
        return i
    }

    /// The kind of value that starts at `i` (after whitespace).
    public enum Kind: Equatable, Sendable { case object, array, string, number, bool, null, invalid }

    public func kind(at i: Int) -> Kind { valueKind(at: skipSpace(i)) }

    /// The kind of value whose first byte is at `i` (no whitespace before it: where the ranges this scanner gives
    /// start).
    @inlinable @inline(__always)
    public func valueKind(at i: Int) -> Kind {
        guard i < bytes.count else { return .invalid }
        switch bytes[i] {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        default: return .invalid
        }
    }

    /// The elements of the array at `range` as ranges (without surrounding whitespace); nil if not a valid array.
    public func arrayElements(_ range: Range<Int>) -> [Range<Int>]? {
        guard let (elements, end) = array(at: range.lowerBound), end <= range.upperBound else { return nil }
        return elements
    }

    /// Validates the array that starts at `start` (after whitespace): its elements' ranges and the position just past
    /// its `]`; nil if it is not a valid array.
    public func array(at start: Int) -> (elements: [Range<Int>], end: Int)? {
        var unused: [JSONMember] = []
        return array(at: start, membersOf: -1, into: &unused)
    }

    /// `array(at:)`, also listing the members of element `index` when it is an object (in the same validating
    /// pass, so a reader of that object need not walk it again), with ranges counted from that element's start
    /// (where a reader of the element alone has them).
    public func array(at start: Int, membersOf index: Int, into members: inout [JSONMember]) -> (
        elements: [Range<Int>], end: Int
    )? {
        var out: [Range<Int>] = []
        guard let end = array(at: start, elements: &out, membersOf: index, into: &members) else { return nil }
        return (out, end)
    }

    /// The same, appending the elements to `out` (so a caller can reuse its arrays' memory); the position just
    /// past the `]`, or nil.
    public func array(
        at start: Int, elements out: inout [Range<Int>], membersOf index: Int, into members: inout [JSONMember]
    ) -> Int? {
        var i = skipSpace(start)
        guard i < bytes.count, bytes[i] == UInt8(ascii: "[") else { return nil }
        i = skipSpace(i + 1)
        if i < bytes.count && bytes[i] == UInt8(ascii: "]") { return i + 1 }
        out.reserveCapacity(4)  // an event's name and arguments, mostly: no growing one by one
        if index >= 0 { members.reserveCapacity(16) }
        let first = out.count
        while true {
            let end: Int?
            if out.count - first == index && i < bytes.count && bytes[i] == UInt8(ascii: "{") {
                let origin = i
                end = objectEnd(i, depth: 1) { key, value in
                    members.append(
                        JSONMember(
                            key: (key.lowerBound - origin)..<(key.upperBound - origin),
                            value: (value.lowerBound - origin)..<(value.upperBound - origin)))
                }
            } else {
                end = value(i, depth: 1)
            }
            guard let end else { return nil }
            out.append(i..<end)
            i = skipSpace(end)
            guard i < bytes.count else { return nil }
            if bytes[i] == UInt8(ascii: "]") { return i + 1 }
            guard bytes[i] == UInt8(ascii: ",") else { return nil }
            i = skipSpace(i + 1)
        }
    }

    /// The members of the object at `range` as (key range including quotes, value range); nil if not valid.
    public func objectMembers(_ range: Range<Int>) -> [(key: Range<Int>, value: Range<Int>)]? {
        var out: [(key: Range<Int>, value: Range<Int>)] = []
        return forEachMember(range) { out.append((key: $0, value: $1)) } ? out : nil
    }

    /// Calls `body` with each member of the object at `range` (key range including quotes, value range), without
    /// collecting them; false if the object is not valid (`body` may have seen some members by then).
    @inlinable
    public func forEachMember(_ range: Range<Int>, _ body: (Range<Int>, Range<Int>) -> Void) -> Bool {
        var i = skipSpace(range.lowerBound)
        guard i < range.upperBound, bytes[i] == UInt8(ascii: "{") else { return false }
        i = skipSpace(i + 1)
        if i < range.upperBound && bytes[i] == UInt8(ascii: "}") { return true }
        while true {
            guard i < range.upperBound, bytes[i] == UInt8(ascii: "\""), let keyEnd = string(i) else { return false }
            let key = i..<keyEnd
            i = skipSpace(keyEnd)
            guard i < range.upperBound, bytes[i] == UInt8(ascii: ":") else { return false }
            i = skipSpace(i + 1)
            guard let end = value(i, depth: 1), end <= range.upperBound else { return false }
            body(key, i..<end)
            i = skipSpace(end)
            guard i < range.upperBound else { return false }
            if bytes[i] == UInt8(ascii: "}") { return true }
            guard bytes[i] == UInt8(ascii: ",") else { return false }
            i = skipSpace(i + 1)
        }
    }

    /// The value of member `name` in the object at `range`, if present.
    public func member(_ name: StaticString, in range: Range<Int>) -> Range<Int>? {
        guard let members = objectMembers(range) else { return nil }
        for m in members where keyEquals(m.key, name) { return m.value }
        return nil
    }

    /// Whether the string at `key` (with quotes, no escapes) equals `name`.
    public func keyEquals(_ key: Range<Int>, _ name: StaticString) -> Bool {
        guard key.count == name.utf8CodeUnitCount + 2 else { return false }
        return name.withUTF8Buffer { n in
            for k in 0..<n.count where bytes[key.lowerBound + 1 + k] != n[k] { return false }
            return true
        }
    }

    /// Decodes the string value at `range` (with its quotes); nil if it is not a valid string.
    public func decodeString(_ range: Range<Int>) -> String? {
        guard let inner = stringContents(range) else { return nil }
        guard let base = inner.baseAddress, let first = memchr(base, 0x5C, inner.count) else {
            return String(decoding: inner, as: UTF8.self)
        }
        return String(unsafeUninitializedCapacity: inner.count) {
            unescape(inner, firstEscape: base.distance(to: UnsafeRawPointer(first)), into: $0.baseAddress!)
        }
    }

    /// The same, as its UTF-8 bytes (no String made on the way).
    public func decodeStringBytes(_ range: Range<Int>) -> [UInt8]? {
        guard let inner = stringContents(range) else { return nil }
        guard let base = inner.baseAddress, !inner.isEmpty else { return [] }
        let first = memchr(base, 0x5C, inner.count).map { base.distance(to: UnsafeRawPointer($0)) } ?? inner.count
        return [UInt8](unsafeUninitializedCapacity: inner.count) { out, count in
            count = unescape(inner, firstEscape: first, into: out.baseAddress!)
        }
    }

    /// The characters between the quotes of the string at `range`; nil if it is not a valid string.
    func stringContents(_ range: Range<Int>) -> UnsafeRawBufferPointer? {
        let i = skipSpace(range.lowerBound)
        guard i < bytes.count, bytes[i] == UInt8(ascii: "\""), let end = string(i) else { return nil }
        return UnsafeRawBufferPointer(rebasing: bytes[(i + 1)..<(end - 1)])
    }

    /// Writes the characters of a valid JSON string (`inner`, between its quotes) with their escapes undone to
    /// `out` (room for `inner.count` bytes); the number of bytes written. `firstEscape` is where the first
    /// backslash is (`inner.count` when there is none).
    ///
    /// Runs without a backslash are copied eight bytes at a time (contents that are JSON text sent as a string have
    /// an escaped quote every few bytes: a search and a copy per run cost more). The result is never longer than the
    /// escaped text: an escape of 2 bytes gives 1, `\uXXXX` (6) at most 3, a surrogate pair (12) 4; so a word
    /// written where the output is behind the input stays within `inner.count`.
    func unescape(_ inner: UnsafeRawBufferPointer, firstEscape: Int, into out: UnsafeMutablePointer<UInt8>) -> Int {
        guard let base = inner.baseAddress else { return 0 }
        let n = inner.count
        UnsafeMutableRawPointer(out).copyMemory(from: base, byteCount: firstEscape)
        var w = firstEscape
        var k = firstEscape
        func put(_ b: UInt8) {
            out[w] = b
            w += 1
        }
        while k < n {
            if inner[k] != UInt8(ascii: "\\") {
                if k + 8 <= n {
                    let word = base.loadUnaligned(fromByteOffset: k, as: UInt64.self)
                    UnsafeMutableRawPointer(out + w).storeBytes(of: word, as: UInt64.self)
                    let hits = WordBytes.equal(UInt64(littleEndian: word), 0x5C)
                    let run = hits == 0 ? 8 : hits.trailingZeroBitCount >> 3
                    w += run
                    k += run
                } else {
                    put(inner[k])
                    k += 1
                }
                continue
            }
            let e = inner[k + 1]
            k += 2
            switch e {
            case UInt8(ascii: "n"): put(0x0A)
            case UInt8(ascii: "t"): put(0x09)
            case UInt8(ascii: "r"): put(0x0D)
            case UInt8(ascii: "b"): put(0x08)
            case UInt8(ascii: "f"): put(0x0C)
            case UInt8(ascii: "u"):
                var scalar = hex4(inner, k)
                k += 4
                if scalar >= 0xD800 && scalar < 0xDC00 && k + 6 <= n && inner[k] == UInt8(ascii: "\\")
                    && inner[k + 1] == UInt8(ascii: "u")
                {
                    let low = hex4(inner, k + 2)
                    if low >= 0xDC00 && low < 0xE000 {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        k += 6
                    }
                }
                if scalar >= 0xD800 && scalar < 0xE000 { scalar = 0xFFFD }  // a lone surrogate
                switch scalar {
                case ..<0x80:
                    put(UInt8(scalar))
                case ..<0x800:
                    put(0xC0 | UInt8(scalar >> 6))
                    put(0x80 | UInt8(scalar & 0x3F))
                case ..<0x10000:
                    put(0xE0 | UInt8(scalar >> 12))
                    put(0x80 | UInt8(scalar >> 6 & 0x3F))
                    put(0x80 | UInt8(scalar & 0x3F))
                default:
                    put(0xF0 | UInt8(scalar >> 18))
                    put(0x80 | UInt8(scalar >> 12 & 0x3F))
                    put(0x80 | UInt8(scalar >> 6 & 0x3F))
                    put(0x80 | UInt8(scalar & 0x3F))
                }
            default: put(e)
            }
        }
        return w
    }

    /// The number at `range` as a Double, if it is a number.
    public func decodeNumber(_ range: Range<Int>) -> Double? {
        guard kind(at: range.lowerBound) == .number else { return nil }
        return Double(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self))
    }

    /// The number at `range` as an integer, if it is a number without fraction or exponent that fits.
    public func decodeInteger(_ range: Range<Int>) -> Int64? {
        guard valueKind(at: range.lowerBound) == .number else { return nil }
        // The digits read in place: going through a String is costly (Docs/performance.md).
        var i = range.lowerBound
        let negative = bytes[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        guard i < range.upperBound else { return nil }
        var magnitude: UInt64 = 0
        if range.upperBound - i <= 18 {
            // Up to 18 digits cannot overflow: no checks (most numbers: types, times, sizes).
            while i < range.upperBound {
                let digit = bytes[i] &- UInt8(ascii: "0")
                guard digit < 10 else { return nil }  // a fraction or an exponent
                magnitude = magnitude &* 10 &+ UInt64(digit)
                i += 1
            }
            return negative ? -Int64(magnitude) : Int64(magnitude)
        }
        while i < range.upperBound {
            let digit = bytes[i] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }  // a fraction or an exponent
            let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(digit))
            if o1 || o2 { return nil }
            magnitude = sum
            i += 1
        }
        if negative {
            return magnitude <= UInt64(Int64.max) ? -Int64(magnitude) : magnitude == 1 << 63 ? .min : nil
        }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }

    // MARK: - Grammar

    func hex4(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        var v: UInt32 = 0
        for k in at..<min(at + 4, b.count) {
            let c = b[k]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: d = 0
            }
            v = v << 4 | d
        }
        return v
    }

    @usableFromInline func value(_ i: Int, depth: Int) -> Int? {
        guard i < bytes.count, depth <= maxDepth else { return nil }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            return objectEnd(i, depth: depth) { _, _ in }
        case UInt8(ascii: "["):
            var k = skipSpace(i + 1)
            guard k < bytes.count else { return nil }
            if bytes[k] == UInt8(ascii: "]") { return k + 1 }
            while true {
                guard let end = value(k, depth: depth + 1) else { return nil }
                k = skipSpace(end)
                guard k < bytes.count else { return nil }
                if bytes[k] == UInt8(ascii: "]") { return k + 1 }
                guard bytes[k] == UInt8(ascii: ",") else { return nil }
                k = skipSpace(k + 1)
            }
        case UInt8(ascii: "\""):
            return string(i)
        case UInt8(ascii: "t"): return literal(i, "true")
        case UInt8(ascii: "f"): return literal(i, "false")
        case UInt8(ascii: "n"): return literal(i, "null")
        default:
            return number(i)
        }
    }

    /// The end of the object at `i` (its `{`) at `depth`, calling `member` with each key (with its quotes) and value
    /// range; nil if it is not valid.
    @inline(__always)
    func objectEnd(_ i: Int, depth: Int, _ member: (Range<Int>, Range<Int>) -> Void) -> Int? {
        guard depth <= maxDepth else { return nil }
        var k = skipSpace(i + 1)
        guard k < bytes.count else { return nil }
        if bytes[k] == UInt8(ascii: "}") { return k + 1 }
        while true {
            guard k < bytes.count, bytes[k] == UInt8(ascii: "\""), let keyEnd = string(k) else { return nil }
            let key = k..<keyEnd
            k = skipSpace(keyEnd)
            guard k < bytes.count, bytes[k] == UInt8(ascii: ":") else { return nil }
            let start = skipSpace(k + 1)
            // Strings and numbers, the most common values, without the call through `value` (which also holds
            // scalars to the depth limit).
            let end: Int?
            switch start < bytes.count && depth < maxDepth ? bytes[start] : 0 {
            case UInt8(ascii: "\""): end = string(start)
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"): end = number(start)
            default: end = value(start, depth: depth + 1)
            }
            guard let end else { return nil }
            member(key, start..<end)
            k = skipSpace(end)
            guard k < bytes.count else { return nil }
            if bytes[k] == UInt8(ascii: "}") { return k + 1 }
            guard bytes[k] == UInt8(ascii: ",") else { return nil }
            k = skipSpace(k + 1)
        }
    }

    func literal(_ i: Int, _ word: StaticString) -> Int? {
        let n = word.utf8CodeUnitCount
        guard i + n <= bytes.count else { return nil }
        return word.withUTF8Buffer { w in
            for k in 0..<n where bytes[i + k] != w[k] { return nil }
            return i + n
        }
    }

    /// A string starting at the quote at `i`: control characters and bad escapes are invalid; the bytes inside
    /// are checked for UTF-8 by the layer that reads the message.
    ///
    /// Keys and short values end within the eight bytes after the quote: that case is tested in a word where the
    /// string starts (inlined: a call cost more than the test), the rest goes on in ``longString(_:from:)``.
    @inline(__always) @usableFromInline func string(_ i: Int) -> Int? {
        let k = i + 1
        guard k + 8 <= bytes.count, let base = bytes.baseAddress else { return longString(i, from: k) }
        let w = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: k, as: UInt64.self))
        let flags = WordBytes.equal(w, 0x22) | WordBytes.equal(w, 0x5C) | WordBytes.below(w, 0x20)
        if flags == 0 { return longString(i, from: k + 8) }
        let at = k + flags.trailingZeroBitCount >> 3
        return bytes[at] == UInt8(ascii: "\"") ? at + 1 : longString(i, from: k)
    }

    /// The same, from `from` (the bytes between the quote at `i` and `from` hold no quote, backslash or control
    /// character).
    @usableFromInline func longString(_ i: Int, from: Int) -> Int? {
        var k = from
        let n = bytes.count
        guard let base = bytes.baseAddress else { return nil }
        if trusted {
            // The closing quote is the first one not escaped (preceded by an even number of backslashes).
            while k < n {
                guard let q = memchr(base + k, 0x22, n - k) else { return nil }
                let at = base.distance(to: UnsafeRawPointer(q))
                var backslashes = 0
                while at - backslashes - 1 > i && bytes[at - backslashes - 1] == UInt8(ascii: "\\") { backslashes += 1 }
                if backslashes % 2 == 0 { return at + 1 }
                k = at + 1
            }
            return nil
        }
        while k < n {
            k = firstJSONStringSpecial(base, from: k, end: n)
            guard k < n else { return nil }
            let b = bytes[k]
            if b == UInt8(ascii: "\"") { return k + 1 }
            if b < 0x20 { return nil }
            if b == UInt8(ascii: "\\") {
                guard k + 1 < n else { return nil }
                switch bytes[k + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    k += 2
                case UInt8(ascii: "u"):
                    guard k + 6 <= n else { return nil }
                    for h in (k + 2)..<(k + 6) {
                        switch bytes[h] {
                        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
                            UInt8(ascii: "A")...UInt8(ascii: "F"):
                            break
                        default: return nil
                        }
                    }
                    k += 6
                default: return nil
                }
                continue
            }
            k += 1
        }
        return nil
    }

    func number(_ i: Int) -> Int? {
        var k = i
        let n = bytes.count
        // One digit and then a comma or a closing bracket (types, flags: most numbers of a message), settled at once.
        if k + 1 < n && bytes[k] &- UInt8(ascii: "0") < 10 {
            switch bytes[k + 1] {
            case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"): return k + 1
            default: break
            }
        }
        func digits() -> Int {
            let s = k
            while k < n, bytes[k] >= UInt8(ascii: "0"), bytes[k] <= UInt8(ascii: "9") { k += 1 }
            return k - s
        }
        if k < n && bytes[k] == UInt8(ascii: "-") { k += 1 }
        guard k < n else { return nil }
        if bytes[k] == UInt8(ascii: "0") {
            k += 1
        } else if digits() == 0 {
            return nil
        }
        if k < n && bytes[k] == UInt8(ascii: ".") {
            k += 1
            if digits() == 0 { return nil }
        }
        if k < n && (bytes[k] == UInt8(ascii: "e") || bytes[k] == UInt8(ascii: "E")) {
            k += 1
            if k < n && (bytes[k] == UInt8(ascii: "+") || bytes[k] == UInt8(ascii: "-")) { k += 1 }
            if digits() == 0 { return nil }
        }
        return k
    }
}
