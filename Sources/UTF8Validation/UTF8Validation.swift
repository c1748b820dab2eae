import CSimdjson

/// Strict UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), as RFC 6455
/// section 8.1 requires of text messages. With `allowTruncatedEnd`, a sequence cut off by the end of the buffer
/// is accepted (a message truncated at a size limit).
///
/// The check is simdjson's SIMD validator; only a possibly cut-off sequence at the end is looked at here.
public func isValidUTF8(_ bytes: UnsafeRawBufferPointer, allowTruncatedEnd: Bool = false) -> Bool {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return true }
    var n = bytes.count
    if allowTruncatedEnd {
        // Leave out a lead byte and its continuation bytes at the end if there are fewer than it announces, and
        // check that prefix of a sequence on its own.
        var lead = n - 1
        while lead > 0 && n - lead < 4 && bytes[lead] & 0xC0 == 0x80 { lead -= 1 }
        let b0 = bytes[lead]
        let length = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC0 ? 2 : 1
        if length > n - lead {
            guard isValidUTF8Prefix(UnsafeRawBufferPointer(rebasing: bytes[lead..<n])) else { return false }
            n = lead
        }
    }
    return imscope_validate_utf8(base.assumingMemoryBound(to: CChar.self), n) != 0
}

/// Whether `bytes` (a lead byte and fewer continuation bytes than it announces) can begin a valid sequence.
func isValidUTF8Prefix(_ bytes: UnsafeRawBufferPointer) -> Bool {
    let b0 = bytes[0]
    var lo: UInt8 = 0x80
    var hi: UInt8 = 0xBF
    switch b0 {
    case 0xC2...0xDF, 0xE1...0xEC, 0xEE...0xEF, 0xF1...0xF3: break
    case 0xE0: lo = 0xA0
    case 0xED: hi = 0x9F
    case 0xF0: lo = 0x90
    case 0xF4: hi = 0x8F
    default: return false
    }
    for k in 1..<bytes.count {
        let b = bytes[k]
        if k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF) { return false }
    }
    return true
}
