/// Standard base64 (RFC 4648 section 4, with padding), written in place without building Strings.
public enum Base64 {
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// How many bytes `encode` writes for `n` input bytes (padded).
    @inlinable
    public static func encodedCount(_ n: Int) -> Int { (n + 2) / 3 * 4 }

    /// Writes the padded encoding of `input` at `out`, which has room for `encodedCount(input.count)` bytes.
    public static func encode(_ input: UnsafeRawBufferPointer, to out: UnsafeMutablePointer<UInt8>) {
        let n = input.count
        var i = 0
        var o = 0
        alphabet.withUnsafeBufferPointer { alphabet in
            while i + 3 <= n {
                let v = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2])
                out[o] = alphabet[Int(v >> 18)]
                out[o + 1] = alphabet[Int((v >> 12) & 63)]
                out[o + 2] = alphabet[Int((v >> 6) & 63)]
                out[o + 3] = alphabet[Int(v & 63)]
                i += 3
                o += 4
            }
            let rest = n - i
            if rest > 0 {
                let v = UInt32(input[i]) << 16 | (rest == 2 ? UInt32(input[i + 1]) << 8 : 0)
                out[o] = alphabet[Int(v >> 18)]
                out[o + 1] = alphabet[Int((v >> 12) & 63)]
                out[o + 2] = rest == 2 ? alphabet[Int((v >> 6) & 63)] : UInt8(ascii: "=")
                out[o + 3] = UInt8(ascii: "=")
            }
        }
    }

    public static func encode(_ bytes: [UInt8]) -> String {
        String(unsafeUninitializedCapacity: encodedCount(bytes.count)) { out in
            bytes.withUnsafeBytes { encode($0, to: out.baseAddress!) }
            return out.count
        }
    }
}

extension Base64 {
    static let decodeTable: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
        t[Int(UInt8(ascii: "-"))] = 62  // base64url too
        t[Int(UInt8(ascii: "_"))] = 63
        return t
    }()

    /// Decodes base64 (padding optional, base64url accepted); nil on a character outside the alphabet.
    public static func decode(_ input: UnsafeRawBufferPointer) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(input.count * 3 / 4)
        var acc: UInt32 = 0
        var bits = 0
        for c in input {
            if c == UInt8(ascii: "=") { break }
            if c == 0x0A || c == 0x0D || c == 0x20 { continue }
            let v = decodeTable[Int(c)]
            if v == 0xFF { return nil }
            acc = acc << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
            }
        }
        return out
    }
}
