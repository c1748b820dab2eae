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
        var raw = in6_addr()
        withUnsafeMutableBytes(of: &raw) { bytes in
            bytes.storeBytes(of: hi.bigEndian, toByteOffset: 0, as: UInt64.self)
            bytes.storeBytes(of: lo.bigEndian, toByteOffset: 8, as: UInt64.self)
        }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        guard inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count)) != nil else { return "?" }
        return text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
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
