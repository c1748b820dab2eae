/// Strict UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), as RFC 6455
/// section 8.1 requires of text messages. With `allowTruncatedEnd`, a sequence cut off by the end of the buffer
/// is accepted (a message truncated at a size limit).
public func isValidUTF8(_ bytes: UnsafeRawBufferPointer, allowTruncatedEnd: Bool = false) -> Bool {
    let n = bytes.count
    guard let base = bytes.baseAddress else { return true }
    var i = 0
    while i < n {
        // Eight ASCII bytes at a time.
        if i + 8 <= n && base.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
            i += 8
            continue
        }
        let b0 = bytes[i]
        if b0 < 0x80 {
            i += 1
            continue
        }
        let need: Int
        var lo: UInt8 = 0x80
        var hi: UInt8 = 0xBF
        switch b0 {
        case 0xC2...0xDF: need = 1
        case 0xE0:
            need = 2
            lo = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: need = 2
        case 0xED:
            need = 2
            hi = 0x9F
        case 0xF0:
            need = 3
            lo = 0x90
        case 0xF1...0xF3: need = 3
        case 0xF4:
            need = 3
            hi = 0x8F
        default: return false
        }
        for k in 1...need {
            if i + k >= n { return allowTruncatedEnd }
            let b = bytes[i + k]
            if k == 1 {
                if b < lo || b > hi { return false }
            } else if b < 0x80 || b > 0xBF {
                return false
            }
        }
        i += need + 1
    }
    return true
}
