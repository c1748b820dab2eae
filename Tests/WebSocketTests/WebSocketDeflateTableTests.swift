import DecoderTestSupport
import Testing

@testable import WebSocket

/// Payloads compressed once with Python's zlib (raw DEFLATE, as RFC 7692 section 7.2.1 says), pasted here:
///
/// ```python
/// import zlib
/// def deflate(messages, fresh=False):
///     out, co = [], zlib.compressobj(wbits=-15)
///     for m in messages:
///         if fresh: co = zlib.compressobj(wbits=-15)          # no context takeover
///         d = co.compress(m) + co.flush(zlib.Z_SYNC_FLUSH)
///         assert d.endswith(b"\x00\x00\xff\xff")
///         out.append(d[:-4])                                   # RFC 7692 section 7.2.1: strip the tail
///     return out
/// ```
enum Deflated {
    static let fox = [
        "The quick brown fox jumps over the lazy dog. ",
        "The quick brown fox jumps over the lazy cat. ",
        "The quick brown fox jumps over the lazy dog. The quick brown fox!",
    ]
    /// `deflate([m.encode() for m in fox])`: the second and third refer back to the first.
    static let foxTakeover: [[UInt8]] = [
        [
            0x0a, 0xc9, 0x48, 0x55, 0x28, 0x2c, 0xcd, 0x4c, 0xce, 0x56, 0x48, 0x2a, 0xca, 0x2f, 0xcf, 0x53, 0x48, 0xcb,
            0xaf, 0x50, 0xc8, 0x2a, 0xcd, 0x2d, 0x28, 0x56, 0xc8, 0x2f, 0x4b, 0x2d, 0x52, 0x28, 0x01, 0x4a, 0xe7, 0x24,
            0x56, 0x55, 0x2a, 0xa4, 0xe4, 0xa7, 0xeb, 0x29, 0x00, 0x00,
        ],
        [0x0a, 0x21, 0x52, 0x71, 0x72, 0x62, 0x89, 0x9e, 0x02, 0x00],
        [0x22, 0x56, 0x31, 0x2e, 0x93, 0x15, 0x01, 0x00],
    ]
    /// `deflate([m.encode() for m in fox], fresh=True)`: each from an empty window.
    static let foxFresh: [[UInt8]] = [
        foxTakeover[0],
        [
            0x0a, 0xc9, 0x48, 0x55, 0x28, 0x2c, 0xcd, 0x4c, 0xce, 0x56, 0x48, 0x2a, 0xca, 0x2f, 0xcf, 0x53, 0x48, 0xcb,
            0xaf, 0x50, 0xc8, 0x2a, 0xcd, 0x2d, 0x28, 0x56, 0xc8, 0x2f, 0x4b, 0x2d, 0x52, 0x28, 0x01, 0x4a, 0xe7, 0x24,
            0x56, 0x55, 0x2a, 0x24, 0x27, 0x96, 0xe8, 0x29, 0x00, 0x00,
        ],
        [
            0x0a, 0xc9, 0x48, 0x55, 0x28, 0x2c, 0xcd, 0x4c, 0xce, 0x56, 0x48, 0x2a, 0xca, 0x2f, 0xcf, 0x53, 0x48, 0xcb,
            0xaf, 0x50, 0xc8, 0x2a, 0xcd, 0x2d, 0x28, 0x56, 0xc8, 0x2f, 0x4b, 0x2d, 0x52, 0x28, 0x01, 0x4a, 0xe7, 0x24,
            0x56, 0x55, 0x2a, 0xa4, 0xe4, 0xa7, 0xeb, 0x29, 0x84, 0x60, 0x2a, 0x56, 0x04, 0x00,
        ],
    ]
    /// `b"".join(b"line %03d of a fragmented compressed message\n" % i for i in range(8))` (352 bytes).
    static let lines = (0..<8).map { "line 00\($0) of a fragmented compressed message\n" }.joined()
    /// `deflate([lines])` (70 bytes).
    static let linesDeflated: [UInt8] = [
        0xca, 0xc9, 0xcc, 0x4b, 0x55, 0x30, 0x30, 0x30, 0x50, 0xc8, 0x4f, 0x53, 0x48, 0x54, 0x48, 0x2b, 0x4a, 0x4c,
        0xcf, 0x4d, 0xcd, 0x2b, 0x49, 0x4d, 0x51, 0x48, 0xce, 0xcf, 0x2d, 0x28, 0x4a, 0x2d, 0x2e, 0x06, 0x32, 0x73,
        0x81, 0x54, 0x62, 0x7a, 0x2a, 0x57, 0x0e, 0x44, 0xad, 0x21, 0x09, 0x6a, 0x8d, 0x48, 0x50, 0x6b, 0x4c, 0x82,
        0x5a, 0x13, 0x12, 0xd4, 0x9a, 0x92, 0xa0, 0xd6, 0x8c, 0x04, 0xb5, 0xe6, 0xc4, 0xa8, 0x05, 0x00,
    ]
    static let euro = "\u{20AC}"  // E2 82 AC
    /// `deflate(["€".encode() * 1200, "€".encode() * 300])`: 3600 bytes from 24, then 900 bytes all back-references.
    static let euros: [[UInt8]] = [
        [
            0xec, 0xc2, 0x01, 0x0d, 0x00, 0x00, 0x0c, 0x02, 0xa0, 0xee, 0xe6, 0x31, 0x95, 0x49, 0x1e, 0xe4, 0x30, 0x96,
            0x4e, 0x55, 0x55, 0xd5, 0x7f, 0x0f,
        ],
        [0x1a, 0x45, 0xa3, 0x68, 0x14, 0x0d, 0x2c, 0x02, 0x00],
    ]
    static let pattern = (0..<3200).map { UInt8($0 % 16) }
    /// `deflate([bytes(range(16)) * 200, bytes(range(16)) * 10])`: 3200 bytes from 39, then 160 from 5.
    static let patterns: [[UInt8]] = [
        [
            0xec, 0xc7, 0xc9, 0x01, 0xc0, 0x10, 0x00, 0x00, 0x30, 0xa5, 0x6e, 0x65, 0xff, 0x6d, 0x3b, 0x85, 0x5f, 0xf2,
            0x4b, 0x78, 0x62, 0x7a, 0x73, 0xa9, 0xad, 0x8f, 0xb9, 0xbe, 0x7d, 0x82, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xfb,
            0xa5, 0xff, 0x00,
        ],
        [0x1a, 0xec, 0x7c, 0x00, 0x00],
    ]
    /// RFC 7692 section 7.2.3.1: "Hello" from an empty window; 7.2.3.2: "Hello" again, referring to the first.
    static let hello: [UInt8] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
    static let helloAgain: [UInt8] = [0xf2, 0x00, 0x11, 0x00, 0x00]
    /// RFC 7692 section 7.2.3.3: "Hello" in a block with BFINAL set, then a 0x00 octet.
    static let helloFinal: [UInt8] = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]
    /// RFC 7692 section 7.2.3.4: "Hello" in a stored block.
    static let helloStored: [UInt8] = [0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00]
    /// An empty message: the single octet left of an empty stored block (`deflate([b""])`).
    static let empty: [UInt8] = [0x00]
    /// Not DEFLATE: block type 3 is invalid.
    static let corrupt: [UInt8] = [0xff, 0xff, 0xff]
}

/// permessage-deflate (RFC 7692): context takeover, no context takeover, fragments, limits, failures, mid-stream.
@Suite struct WebSocketDeflateTableTests {
    static let on = DeflateParameters(enabled: true)
    static let fresh = DeflateParameters(enabled: true, noContextTakeover: true)
    typealias D = Deflated

    static func z(_ s: String, fragments: Int = 1) -> Ev { text(s, fragments: fragments, compressed: true) }

    static let cases: [WSCase] = [
        WSCase(
            name: "RFC 7692 7.2.3.1-7.2.3.4: Hello, Hello by back-reference, BFINAL, stored", deflate: on,
            steps: [
                .bytes(
                    frame(Op.text, D.hello, rsv1: true) + frame(Op.text, D.helloAgain, rsv1: true)
                        + frame(Op.text, D.helloFinal, rsv1: true) + frame(Op.text, D.helloStored, rsv1: true))
            ],
            expected: [z("Hello"), z("Hello"), z("Hello"), z("Hello")]),
        WSCase(
            name: "an empty compressed message", deflate: on,
            steps: [.bytes(frame(Op.text, D.empty, rsv1: true) + frame(Op.binary, D.empty, rsv1: true))],
            expected: [z(""), binary([], compressed: true)]),
        WSCase(
            name: "context takeover across three messages", deflate: on,
            steps: D.foxTakeover.map { .bytes(frame(Op.text, $0, rsv1: true)) },
            expected: D.fox.map { z($0) }),
        WSCase(
            name: "context takeover across three masked messages, with uncompressed ones between", fromClient: true,
            deflate: on,
            steps: [
                .bytes(frame(Op.text, D.foxTakeover[0], rsv1: true, mask: key1)),
                .bytes(frame(Op.text, "plain", mask: key2) + frame(Op.text, D.foxTakeover[1], rsv1: true, mask: key3)),
                .bytes(frame(Op.ping, "", mask: key1) + frame(Op.text, D.foxTakeover[2], rsv1: true, mask: key2)),
            ],
            expected: [z(D.fox[0]), text("plain"), z(D.fox[1]), control(Op.ping, ""), z(D.fox[2])]),
        WSCase(
            name: "no context takeover: each message from a fresh window", deflate: fresh,
            steps: D.foxFresh.map { .bytes(frame(Op.text, $0, rsv1: true)) },
            expected: D.fox.map { z($0) }),
        WSCase(
            name: "a compressed message in three fragments (RSV1 on the first only) with a ping between", deflate: on,
            steps: [
                .bytes(
                    frame(Op.text, Array(D.linesDeflated[0..<20]), fin: false, rsv1: true)
                        + frame(Op.continuation, Array(D.linesDeflated[20..<50]), fin: false)
                        + frame(Op.ping, "between") + frame(Op.continuation, Array(D.linesDeflated[50...])))
            ],
            expected: [control(Op.ping, "between"), z(D.lines, fragments: 3)]),
        WSCase(
            name: "a masked compressed message in fragments, one of them empty", fromClient: true, deflate: on,
            steps: [
                .bytes(
                    frame(Op.text, Array(D.linesDeflated[0..<33]), fin: false, rsv1: true, mask: key1)
                        + frame(Op.continuation, [], fin: false, mask: key2)
                        + frame(Op.continuation, Array(D.linesDeflated[33...]), mask: key3))
            ],
            expected: [z(D.lines, fragments: 3)]),
        // Size limits.
        WSCase(
            name: "text inflating past maxMessageBytes: truncated at a character, and the next message still inflates",
            deflate: on, limits: limits(maxMessageBytes: 1000),
            steps: D.euros.map { .bytes(frame(Op.text, $0, rsv1: true)) },
            expected: [
                problem("ws.message_too_large"),
                text(String(repeating: D.euro, count: 333), compressed: true, length: 3600, truncated: true),
                z(String(repeating: D.euro, count: 300)),
            ]),
        WSCase(
            name: "binary inflating past maxMessageBytes: the first 1000 bytes, and the next message still inflates",
            deflate: on, limits: limits(maxMessageBytes: 1000),
            steps: D.patterns.map { .bytes(frame(Op.binary, $0, rsv1: true)) },
            expected: [
                problem("ws.message_too_large"),
                binary(Array(D.pattern.prefix(1000)), compressed: true, length: 3200, truncated: true),
                binary(Array(D.pattern.prefix(160)), compressed: true),
            ]),
        WSCase(
            // Inflating stops at the limit: the message is reported truncated there (its first 999 bytes, 333 whole
            // characters of the 1000), with ws.message_too_large; with context takeover the context is lost, so the
            // next message cannot be inflated.
            name: "inflating past maxInflateBytes stops: ws.inflate_context_lost; the next message cannot be inflated",
            deflate: on, limits: limits(maxInflateBytes: 1000),
            steps: D.euros.map { .bytes(frame(Op.text, $0, rsv1: true)) },
            expected: [
                problem("ws.inflate_context_lost"), problem("ws.message_too_large"),
                text(String(repeating: D.euro, count: 333), compressed: true, length: 1000, truncated: true),
                problem("ws.inflate_failed"), failed(Op.text, length: 0),
            ]),
        WSCase(
            name: "inflating past maxInflateBytes without context takeover: the next message is fine",
            deflate: fresh, limits: limits(maxInflateBytes: 1000),
            steps: [
                .bytes(frame(Op.text, D.euros[0], rsv1: true)), .bytes(frame(Op.text, D.hello, rsv1: true)),
            ],
            expected: [
                problem("ws.message_too_large"),
                text(String(repeating: D.euro, count: 333), compressed: true, length: 1000, truncated: true),
                z("Hello"),
            ]),
        WSCase(
            name: "a compressed text that is not UTF-8 once inflated: ws.invalid_utf8", deflate: on,
            // deflate([bytes([0x61, 0xC3, 0x28, 0x62])])
            steps: [.bytes(frame(Op.text, [0x4a, 0x3c, 0xac, 0x91, 0x04, 0x00], rsv1: true))],
            expected: [
                problem("ws.invalid_utf8"),
                data(Op.text, [0x61, 0xC3, 0x28, 0x62], compressed: true, validUTF8: false),
            ]),
        // Failures.
        WSCase(
            name: "corrupt compressed data: ws.inflate_failed, no payload; a fresh message after it inflates",
            deflate: on,
            steps: [.bytes(frame(Op.text, D.corrupt, rsv1: true)), .bytes(frame(Op.text, D.hello, rsv1: true))],
            expected: [problem("ws.inflate_failed"), failed(Op.text, length: 0), z("Hello")]),
        WSCase(
            name: "corrupt compressed data in fragments", deflate: on,
            steps: [
                .bytes(
                    frame(Op.binary, [0xff], fin: false, rsv1: true) + frame(Op.continuation, [0xff, 0xff], fin: false)
                        + frame(Op.continuation, [0x00]))
            ],
            expected: [problem("ws.inflate_failed"), failed(Op.binary, length: 0, fragments: 3)]),
        // Mid-stream: no handshake seen, RSV1 messages are tried.
        WSCase(
            name: "mid-stream: RSV1 messages that inflate without an earlier context", negotiated: false,
            steps: [
                .bytes(
                    Array("xyz".utf8) + frame(Op.text, D.hello, rsv1: true) + frame(Op.text, D.helloAgain, rsv1: true))
            ],
            expected: [problem("ws.midstream 3"), z("Hello"), z("Hello")], inSync: true),
        WSCase(
            name: "mid-stream: a message referring to an unseen window is ws.inflate_failed, never wrong text",
            negotiated: false,
            steps: [
                .bytes(
                    frame(Op.text, D.helloAgain, rsv1: true) + frame(Op.text, D.foxTakeover[1], rsv1: true)
                        + frame(Op.text, D.hello, rsv1: true) + frame(Op.text, D.helloAgain, rsv1: true))
            ],
            expected: [
                problem("ws.midstream 0"), problem("ws.inflate_failed"), failed(Op.text, length: 1),
                problem("ws.inflate_failed"), failed(Op.text, length: 1), z("Hello"), z("Hello"),
            ],
            inSync: true),
    ]

    @Test(arguments: cases, Feed.allCases)
    func deflate(_ c: WSCase, _ feed: Feed) { check(c, feed) }

    /// `wireLength` is the payload on the wire (compressed, all fragments); `length` is after inflating.
    @Test func wireLength() {
        let stream = WebSocketStream(fromClient: false, deflate: Self.on, negotiated: true)
        var seen: [(UInt64, UInt64)] = []
        let bytes =
            frame(Op.text, Array(D.linesDeflated[0..<20]), fin: false, rsv1: true)
            + frame(Op.continuation, Array(D.linesDeflated[20...])) + frame(Op.text, "plain")
        bytes.withUnsafeBytes { all in
            stream.feed(all) { if case .message(let m) = $0 { seen.append((m.wireLength, m.length)) } }
        }
        #expect(seen.map(\.0) == [70, 5])
        #expect(seen.map(\.1) == [352, 5])
    }
}
