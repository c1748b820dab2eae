import Capture
import Testing

/// An IPv6 address from its eight 16-bit groups, written out in full (no `::`), so the table shows what the
/// expected text compresses.
func v6(_ groups: UInt16...) -> IPAddress {
    precondition(groups.count == 8)
    let hi = groups[0..<4].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
    let lo = groups[4..<8].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
    return IPAddress(hi: hi, lo: lo)
}

func endpoint(v4: UInt32, _ port: UInt16) -> Endpoint { Endpoint(address: IPAddress(v4: v4), port: port) }

@Suite("IPAddress, Endpoint, FlowKey")
struct AddressTests {
    @Test(arguments: [
        (IPAddress(v4: 0xC0A8_010A), "192.168.1.10"),
        (IPAddress(v4: 0x7F00_0001), "127.0.0.1"),
        (IPAddress(v4: 0), "0.0.0.0"),
        (IPAddress(v4: 0xFFFF_FFFF), "255.255.255.255"),
        (IPAddress(v4: 0x0A00_0001), "10.0.0.1"),
    ])
    func ipv4Description(_ address: IPAddress, _ text: String) {
        #expect(address.isV4)
        #expect(address.description == text)
    }

    /// RFC 5952 section 4: lower case, no leading zeros, `::` for the longest run of two or more zero groups
    /// (the first when tied), never for a single zero group.
    @Test(arguments: [
        (v6(0, 0, 0, 0, 0, 0, 0, 1), "::1"),
        (v6(0, 0, 0, 0, 0, 0, 0, 0), "::"),
        (v6(0xfe80, 0, 0, 0, 0, 0, 0, 1), "fe80::1"),
        (v6(0x2001, 0x0db8, 0, 0, 0, 0, 0, 0x10), "2001:db8::10"),
        (v6(0x2001, 0x0db8, 0, 0, 1, 0, 0, 1), "2001:db8::1:0:0:1"),
        (v6(0x2001, 0x0db8, 0, 1, 1, 1, 1, 1), "2001:db8:0:1:1:1:1:1"),
        (v6(0x2001, 0x0db8, 0xABCD, 0x0012, 0, 0, 0, 0), "2001:db8:abcd:12::"),
        (v6(1, 0, 0, 0, 0, 0, 0, 0), "1::"),
        (v6(0xff02, 0, 0, 0, 0, 1, 0xff00, 0x0001), "ff02::1:ff00:1"),
        (v6(0, 0, 0, 0, 0, 0, 2, 3), "::2:3"),
    ])
    func ipv6Description(_ address: IPAddress, _ text: String) {
        #expect(!address.isV4)
        // "::2:3", not inet_ntop's IPv4-compatible "::0.2.0.3": RFC 5952 section 5 keeps mixed notation for
        // IPv4-mapped and translated addresses only.
        #expect(address.description == text)
    }

    @Test(arguments: [
        (Endpoint(address: IPAddress(v4: 0xC0A8_010A), port: 9092), "192.168.1.10:9092"),
        (Endpoint(address: IPAddress(v4: 0x7F00_0001), port: 0), "127.0.0.1:0"),
        (Endpoint(address: v6(0, 0, 0, 0, 0, 0, 0, 1), port: 9092), "[::1]:9092"),
        (Endpoint(address: v6(0xfe80, 0, 0, 0, 0, 0, 0, 1), port: 65535), "[fe80::1]:65535"),
        (Endpoint(address: v6(0x2001, 0x0db8, 0, 0, 0, 0, 0, 0x10), port: 51000), "[2001:db8::10]:51000"),
    ])
    func endpointDescription(_ endpoint: Endpoint, _ text: String) {
        #expect(endpoint.description == text)
    }

    /// Both directions of a connection find the same key; `srcIsA` says which end the source became.
    @Test(arguments: [
        (endpoint(v4: 0x0A00_0001, 40000), endpoint(v4: 0x0A00_0002, 9092)),
        (endpoint(v4: 0x0A00_0001, 40000), endpoint(v4: 0x0A00_0001, 9092)),
        (
            Endpoint(address: v6(0, 0, 0, 0, 0, 0, 0, 1), port: 1),
            Endpoint(address: v6(0, 0, 0, 0, 0, 0, 0, 1), port: 2)
        ),
    ])
    func flowKeyIsSymmetric(_ x: Endpoint, _ y: Endpoint) {
        var xIsA = false
        var yIsA = false
        let forward = FlowKey(src: x, dst: y, srcIsA: &xIsA)
        let backward = FlowKey(src: y, dst: x, srcIsA: &yIsA)
        #expect(forward == backward)
        #expect(xIsA != yIsA)
        #expect((xIsA ? forward.a : forward.b) == x)
    }
}
