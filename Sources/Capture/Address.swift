#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IPv4 or IPv6 address held in two integers, so that connection keys hash and compare without allocating.
///
/// IPv4 addresses are stored as IPv4-mapped IPv6 (`::ffff:a.b.c.d`), which keeps one representation for both.
public struct IPAddress: Hashable, Sendable {
    public var hi: UInt64
    public var lo: UInt64

    public init(hi: UInt64, lo: UInt64) {
        self.hi = hi
        self.lo = lo
    }

    /// An IPv4 address from its 32-bit value in host order.

    public init(v4: UInt32) {
        self.hi = 0
        self.lo = 0x0000_FFFF_0000_0000 | UInt64(v4)
    }

    public var isV4: Bool { hi == 0 && (lo >> 32) == 0x0000_FFFF }

    /// The IPv4 address in host order, for IPv4 addresses.

    public var v4: UInt32 { UInt32(truncatingIfNeeded: lo) }

    /// Dotted quad for IPv4, RFC 5952 text for IPv6.
    public var description: String {
        if isV4 {
            let a = v4
            return "\(a >> 24).\((a >> 16) & 0xff).\((a >> 8) & 0xff).\(a & 0xff)"
        }
        // RFC 5952: lower-case hex without leading zeros, the longest run (the first of equals) of two or more
        // zero groups as "::". Written by hand because inet_ntop prints ::/96 addresses as IPv4-compatible.
        var groups = [UInt16](repeating: 0, count: 8)
        for i in 0..<4 {
            groups[i] = UInt16(truncatingIfNeeded: hi >> (48 - 16 * UInt64(i)))
            groups[i + 4] = UInt16(truncatingIfNeeded: lo >> (48 - 16 * UInt64(i)))
        }
        var bestStart = -1
        var bestLength = 1
        var i = 0
        while i < 8 {
            guard groups[i] == 0 else {
                i += 1
                continue
            }
            var j = i
            while j < 8 && groups[j] == 0 { j += 1 }
            if j - i > bestLength {
                bestStart = i
                bestLength = j - i
            }
            i = j
        }
        func hex(_ range: Range<Int>) -> String { groups[range].map { String($0, radix: 16) }.joined(separator: ":") }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
}

/// An address and port: one end of a TCP connection.
public struct Endpoint: Hashable, Sendable {
    public var address: IPAddress
    public var port: UInt16

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// `IP:PORT`, with IPv6 as `[addr]:port`.
    public var description: String {
        address.isV4 ? "\(address.description):\(port)" : "[\(address.description)]:\(port)"
    }

    static func < (a: Endpoint, b: Endpoint) -> Bool {
        if a.address.hi != b.address.hi { return a.address.hi < b.address.hi }
        if a.address.lo != b.address.lo { return a.address.lo < b.address.lo }
        return a.port < b.port
    }
}

/// The two ends of a TCP connection in a canonical order, so both directions find the same key.
public struct FlowKey: Hashable, Sendable {
    public var a: Endpoint
    public var b: Endpoint

    /// Hashes the key's fields mixed into one word: one `combine` instead of six (the flow table is looked up for
    /// every packet). Equality still compares every field.
    public func hash(into hasher: inout Hasher) {
        var h = a.address.hi &* 0x9E37_79B9_7F4A_7C15
        h = (h ^ a.address.lo) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ b.address.hi) &* 0x94D0_49BB_1331_11EB
        h = (h ^ b.address.lo) &* 0x9E37_79B9_7F4A_7C15
        h ^= UInt64(a.port) << 16 | UInt64(b.port)
        hasher.combine(h)
    }

    /// The key for a segment from `src` to `dst`; `srcIsA` says whether the source became `a`.

    public init(src: Endpoint, dst: Endpoint, srcIsA: inout Bool) {
        if src < dst {
            a = src
            b = dst
            srcIsA = true
        } else {
            a = dst
            b = src
            srcIsA = false
        }
    }
}
