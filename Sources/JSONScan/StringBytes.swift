import CByteScan

/// The first offset in `from..<end` of `base` holding a byte a JSON string cannot hold as it is: a quote, a
/// backslash or a control character (below 0x20); `end` when there is none.
///
/// The first eight bytes are tested here at once (`WordBytes`), which ends most scans of short strings (names,
/// ids); longer runs (base64 images and files) go to a SIMD loop in C, 16 or 32 bytes at a time. (Swift's `SIMD16`
/// compiled to slow code here.)
@inlinable
public func firstJSONStringSpecial(_ base: UnsafeRawPointer, from: Int, end: Int) -> Int {
    if from + 8 <= end {
        let w = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: from, as: UInt64.self))
        let flags = WordBytes.equal(w, 0x22) | WordBytes.equal(w, 0x5C) | WordBytes.below(w, 0x20)
        if flags != 0 { return from + flags.trailingZeroBitCount >> 3 }
        return from + 8 + imscope_find_json_string_special(base + from + 8, end - from - 8)
    }
    var k = from
    while k < end {
        let b = base.load(fromByteOffset: k, as: UInt8.self)
        if b == 0x22 || b == 0x5C || b < 0x20 { return k }
        k += 1
    }
    return end
}

/// Copies `bytes` to `destination` (room for them, not overlapping them) and tells whether they held a line feed
/// or a carriage return, in one pass.
@inline(__always)
public func copyReportingLineBreak(_ bytes: UnsafeRawBufferPointer, to destination: UnsafeMutableRawPointer) -> Bool {
    guard let base = bytes.baseAddress else { return false }
    return imscope_copy_line_break(destination, base, bytes.count) != 0
}

/// Tests on the eight bytes of a little-endian word at once, giving the high bit of each byte that passes. A bit
/// can be set wrongly only above a byte that really passes (a borrow carries upwards), so whether any is set, and
/// which is the lowest, are exact.
public enum WordBytes {
    public static let ones: UInt64 = 0x0101_0101_0101_0101
    public static let highs: UInt64 = 0x8080_8080_8080_8080

    /// The bytes equal to `byte` (the "has a zero byte" test on the word XORed with it).
    @inlinable
    public static func equal(_ w: UInt64, _ byte: UInt8) -> UInt64 {
        let x = w ^ (ones &* UInt64(byte))
        return (x &- ones) & ~x & highs
    }

    /// The bytes below `bound` (at most 0x80).
    @inlinable
    public static func below(_ w: UInt64, _ bound: UInt8) -> UInt64 {
        (w &- ones &* UInt64(bound)) & ~w & highs
    }
}
