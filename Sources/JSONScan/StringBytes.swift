/// The first offset in `from..<end` of `base` holding a byte a JSON string cannot hold as it is: a quote, a
/// backslash or a control character (below 0x20); `end` when there is none.
///
/// Eight bytes at a time with the "has a zero byte" test on the word XORed with each special byte (and "has a byte
/// below 0x20" for controls). A flag can be wrong only above a byte that really is special, so the lowest flag,
/// found by counting trailing zero bits, is the first special byte. (Swift's `SIMD16` compiled to slow code here.)
@inlinable
public func firstJSONStringSpecial(_ base: UnsafeRawPointer, from: Int, end: Int) -> Int {
    var k = from
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    while k + 8 <= end {
        let w = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: k, as: UInt64.self))
        let quote = w ^ (ones &* 0x22)
        let backslash = w ^ (ones &* 0x5C)
        let flags =
            ((quote &- ones) & ~quote | (backslash &- ones) & ~backslash | (w &- (ones &* 0x20)) & ~w) & highs
        if flags != 0 { return k + flags.trailingZeroBitCount >> 3 }
        k += 8
    }
    while k < end {
        let b = base.load(fromByteOffset: k, as: UInt8.self)
        if b == 0x22 || b == 0x5C || b < 0x20 { return k }
        k += 1
    }
    return end
}
