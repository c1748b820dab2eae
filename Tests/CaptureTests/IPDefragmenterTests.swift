import Capture
import ImscopeCore
import Testing

// The fragment fixtures of `fragmentCases`: "hello" over IPv4 (id 0x4242) and IPv6 (id 0xdeadbeef), each datagram
// in two fragments with the TCP header split between them.
let v4First = fragmentCases[0].packets[0].hex
let v4Last = fragmentCases[0].packets[1].hex
let v6First = fragmentCases[3].packets[1].hex
let v6Last = fragmentCases[3].packets[0].hex

func seconds(_ s: Double) -> Timestamp { Timestamp(nanoseconds: Int64(s * 1e9)) }

@Suite("IPDefragmenter limits")
struct IPDefragmenterTests {
    /// At `maxDatagrams`, a new datagram drops the oldest (`ip.fragment_limit`) and is itself kept.
    @Test func datagramLimit() {
        var limits = IPDefragmenter.Limits()
        limits.maxDatagrams = 1
        var decoder = PacketDecoder(limits: limits)
        let steps: [(String, Expected)] = [
            (v4First, .fragmentBuffered),
            (v6Last, .problem("ip.fragment_limit")),  // the IPv4 datagram is dropped
            (v6First, .tcp(hello6)),
            (v4Last, .fragmentBuffered),  // its first half is gone: waiting again
        ]
        for (index, (packet, expected)) in steps.enumerated() {
            #expect(decoder.decode(linkType: LinkType.ethernet, bytes: hex(packet)) == expected, "step \(index + 1)")
        }
        #expect(decoder.defragmenter.pending == 1)
    }

    /// Below the limit nothing is dropped.
    @Test func twoDatagramsInterleavedWithinTheLimit() {
        var limits = IPDefragmenter.Limits()
        limits.maxDatagrams = 2
        var decoder = PacketDecoder(limits: limits)
        #expect(decoder.decode(linkType: LinkType.ethernet, bytes: hex(v4First)) == .fragmentBuffered)
        #expect(decoder.decode(linkType: LinkType.ethernet, bytes: hex(v6Last)) == .fragmentBuffered)
        #expect(decoder.defragmenter.pending == 2)
        #expect(decoder.decode(linkType: LinkType.ethernet, bytes: hex(v4Last)) == .tcp(hello4))
        #expect(decoder.decode(linkType: LinkType.ethernet, bytes: hex(v6First)) == .tcp(hello6))
        #expect(decoder.defragmenter.pending == 0)
    }

    /// A datagram waits `timeoutSeconds` of capture time, counted from its first fragment; at the end of the
    /// capture (`now` nil) everything still waiting is dropped.
    @Test(arguments: [
        (seconds(29.999_999_999) as Timestamp?, 0),
        (seconds(30), 1),
        (nil, 1),
    ])
    func timeout(now: Timestamp?, dropped: Int) {
        var decoder = PacketDecoder()
        #expect(decoder.decode(linkType: LinkType.ethernet, bytes: hex(v4First), ts: seconds(0)) == .fragmentBuffered)
        let messages = decoder.defragmenter.expire(now: now)
        #expect(messages.count == dropped)
        #expect(decoder.defragmenter.pending == 1 - dropped)
        if let message = messages.first {
            #expect(message.contains("192.168.1.10 -> 192.168.1.20"))
            #expect(message.contains(now == nil ? "end of the capture" : "within 30 s"))
        }
    }

    /// A completed datagram leaves nothing behind, and the same fragments later make a new datagram.
    @Test func sameFragmentsTwice() {
        var decoder = PacketDecoder()
        for _ in 0..<2 {
            #expect(decoder.decode(linkType: LinkType.ethernet, bytes: hex(v4Last)) == .fragmentBuffered)
            #expect(decoder.decode(linkType: LinkType.ethernet, bytes: hex(v4First)) == .tcp(hello4))
            #expect(decoder.defragmenter.pending == 0)
        }
    }
}
