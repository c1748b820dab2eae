import DecoderTestSupport
import Testing

@testable import WebSocket

/// Well-formed traffic: RFC 6455 section 5.7 examples and more, fragmentation with interleaved control frames, empty
/// messages, close frames and codes, the message size limit.
@Suite struct WebSocketMessageTableTests {
    static let hello = Array("Hello".utf8)
    static let euro = "\u{20AC}"  // three bytes in UTF-8: E2 82 AC

    static let cases: [WSCase] =
        [
            // RFC 6455 section 5.7.
            WSCase(
                name: "5.7: a single-frame unmasked text message", steps: [.bytes([0x81, 0x05] + hello)],
                expected: [text("Hello")]),
            WSCase(
                name: "5.7: a single-frame masked text message", fromClient: true,
                steps: [.bytes([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])],
                expected: [text("Hello")]),
            WSCase(
                name: "5.7: a fragmented unmasked text message",
                steps: [.bytes([0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f])],
                expected: [text("Hello", fragments: 2)]),
            WSCase(
                name: "5.7: unmasked ping",
                steps: [.bytes([0x89, 0x05] + hello)], expected: [control(Op.ping, "Hello")]),
            WSCase(
                name: "5.7: masked pong", fromClient: true,
                steps: [.bytes([0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])],
                expected: [control(Op.pong, "Hello")]),
            WSCase(
                name: "5.7: 256 bytes binary in a single unmasked frame",
                steps: [.bytes([0x82, 0x7E, 0x01, 0x00] + (0..<256).map { UInt8($0) })],
                expected: [binary((0..<256).map { UInt8($0) })]),
            WSCase(
                name: "5.7: 64 KiB binary in a single unmasked frame",
                steps: [
                    .bytes(
                        [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0] + (0..<65536).map { UInt8(truncatingIfNeeded: $0 * 7) })
                ],
                expected: [binary((0..<65536).map { UInt8(truncatingIfNeeded: $0 * 7) })]),
            WSCase(
                name: "64 KiB binary, masked", fromClient: true,
                steps: [.bytes(frame(Op.binary, (0..<65536).map { UInt8(truncatingIfNeeded: $0 * 7) }, mask: key3))],
                expected: [binary((0..<65536).map { UInt8(truncatingIfNeeded: $0 * 7) })]),
            // Fragmentation (RFC 6455 section 5.4).
            WSCase(
                name: "fragmented text with a ping between fragments",
                steps: [
                    .bytes(
                        frame(Op.text, "Hel", fin: false) + frame(Op.ping, "hi")
                            + frame(Op.continuation, "l", fin: false)
                            + frame(Op.continuation, "o"))
                ],
                expected: [control(Op.ping, "hi"), text("Hello", fragments: 3)]),
            WSCase(
                name: "fragmented masked text with a pong and a ping between fragments, a mask per frame",
                fromClient: true,
                steps: [
                    .bytes(
                        frame(Op.text, "Hel", fin: false, mask: key1) + frame(Op.pong, "p", mask: key2)
                            + frame(Op.continuation, "lo, w", fin: false, mask: key3) + frame(Op.ping, "", mask: key1)
                            + frame(Op.continuation, "orld", mask: key2))
                ],
                expected: [control(Op.pong, "p"), control(Op.ping, ""), text("Hello, world", fragments: 3)]),
            WSCase(
                name: "a binary message in three fragments",
                steps: [
                    .bytes(
                        frame(Op.binary, [1, 2, 3], fin: false) + frame(Op.continuation, [4, 5], fin: false)
                            + frame(Op.continuation, [6]))
                ],
                expected: [binary([1, 2, 3, 4, 5, 6], fragments: 3)]),
            WSCase(
                name: "a UTF-8 character split between fragments",
                steps: [.bytes(frame(Op.text, [0x61, 0xC3], fin: false) + frame(Op.continuation, [0xA9, 0x62]))],
                expected: [text("a\u{E9}b", fragments: 2)]),
            WSCase(
                name: "empty text, empty binary, empty fragmented text, empty ping",
                steps: [
                    .bytes(
                        frame(Op.text, []) + frame(Op.binary, []) + frame(Op.text, [], fin: false)
                            + frame(Op.continuation, []) + frame(Op.ping, []))
                ],
                expected: [text(""), binary([]), text("", fragments: 2), control(Op.ping, [])]),
            WSCase(
                name: "empty masked messages", fromClient: true,
                steps: [.bytes(frame(Op.text, [], mask: key1) + frame(Op.binary, [], mask: key2))],
                expected: [text(""), binary([])]),
            WSCase(
                name: "16-bit and 64-bit lengths in a stream of frames",
                steps: [
                    .bytes(
                        frame(Op.binary, [UInt8](repeating: 1, count: 126)) + frame(Op.text, "x")
                            + frame(Op.binary, [UInt8](repeating: 2, count: 70000)))
                ],
                expected: [
                    binary([UInt8](repeating: 1, count: 126)), text("x"), binary([UInt8](repeating: 2, count: 70000)),
                ]),
            // Close frames (RFC 6455 sections 5.5.1 and 7.4).
            WSCase(
                name: "close with a code and a reason",
                steps: [.bytes(frame(Op.close, closePayload(1000, "bye")))], expected: [close(1000, "bye")]),
            WSCase(
                name: "close with a code and a UTF-8 reason, masked", fromClient: true,
                steps: [.bytes(frame(Op.close, closePayload(1001, "going \u{2192} away"), mask: key2))],
                expected: [close(1001, "going \u{2192} away")]),
            WSCase(name: "close without a payload", steps: [.bytes(frame(Op.close, []))], expected: [close(nil)]),
            WSCase(
                name: "close with a 1-byte payload: ws.bad_close",
                steps: [.bytes(frame(Op.close, [0x03]) + frame(Op.text, "after"))],
                // A frame after the close breaks section 5.5.1 too; decoding goes on.
                expected: [
                    problem("ws.bad_close"), closeRaw(nil, [0x03]), problem("ws.frame_after_close"), text("after"),
                ]),
            WSCase(
                name: "close with a reason that is not UTF-8: ws.invalid_utf8",
                steps: [.bytes(frame(Op.close, closePayload(1000) + [0x62, 0xFF]))],
                expected: [problem("ws.invalid_utf8"), closeRaw(1000, [0x62, 0xFF], validUTF8: false)]),
            // The message size limit, at its edge (maxMessageBytes 1000).
            WSCase(
                name: "a binary message of exactly maxMessageBytes is kept whole",
                limits: limits(maxMessageBytes: 1000),
                steps: [.bytes(frame(Op.binary, [UInt8](repeating: 9, count: 1000)))],
                expected: [binary([UInt8](repeating: 9, count: 1000))]),
            WSCase(
                name: "a binary message one byte over maxMessageBytes: ws.message_too_large",
                limits: limits(maxMessageBytes: 1000),
                steps: [.bytes(frame(Op.binary, [UInt8](repeating: 9, count: 1001)) + frame(Op.text, "next"))],
                expected: [
                    problem("ws.message_too_large"),
                    binary([UInt8](repeating: 9, count: 1000), length: 1001, truncated: true),
                    text("next"),
                ]),
            WSCase(
                name: "a text message over maxMessageBytes is cut back to a whole character",
                limits: limits(maxMessageBytes: 1000),
                steps: [.bytes(frame(Op.text, String(repeating: euro, count: 400)))],
                expected: [
                    problem("ws.message_too_large"),
                    text(String(repeating: euro, count: 333), length: 1200, truncated: true),
                ]),
            WSCase(
                name: "a fragmented masked text message over maxMessageBytes", fromClient: true,
                limits: limits(maxMessageBytes: 1000),
                steps: [
                    .bytes(
                        frame(Op.text, String(repeating: euro, count: 200), fin: false, mask: key1)
                            + frame(Op.continuation, String(repeating: euro, count: 200), mask: key2))
                ],
                expected: [
                    problem("ws.message_too_large"),
                    text(String(repeating: euro, count: 333), fragments: 2, length: 1200, truncated: true),
                ]),
            WSCase(
                name: "two-byte characters over maxMessageBytes, the limit on a character boundary",
                limits: limits(maxMessageBytes: 1000),
                steps: [.bytes(frame(Op.text, String(repeating: "\u{E9}", count: 600)))],
                expected: [
                    problem("ws.message_too_large"),
                    text(String(repeating: "\u{E9}", count: 500), length: 1200, truncated: true),
                ]),
            WSCase(
                name: "four-byte characters over maxMessageBytes, the limit just after a lead byte",
                limits: limits(maxMessageBytes: 1001),
                steps: [.bytes(frame(Op.text, String(repeating: "\u{1F600}", count: 300)))],
                expected: [
                    problem("ws.message_too_large"),
                    text(String(repeating: "\u{1F600}", count: 250), length: 1200, truncated: true),
                ]),
            WSCase(
                name: "four-byte characters over maxMessageBytes, the limit inside the last character",
                limits: limits(maxMessageBytes: 1003),
                steps: [.bytes(frame(Op.text, String(repeating: "\u{1F600}", count: 300)))],
                expected: [
                    problem("ws.message_too_large"),
                    text(String(repeating: "\u{1F600}", count: 250), length: 1200, truncated: true),
                ]),
        ]
        + closeCodeCases

    /// RFC 6455 section 7.4: codes 1000-1003, 1007-1014 (IANA) and 3000-4999 may be sent; 0-999, 1004-1006,
    /// 1015-2999 and 5000+ may not.
    static let closeCodeCases: [WSCase] =
        [1000, 1001, 1002, 1003, 1007, 1008, 1011, 3000, 4000, 4999].map { code in
            WSCase(
                name: "close code \(code) is fine", steps: [.bytes(frame(Op.close, closePayload(code, "x")))],
                expected: [close(code, "x")])
        }
        + [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535].map { code in
            WSCase(
                name: "close code \(code): ws.bad_close",
                steps: [.bytes(frame(Op.close, closePayload(code, "x")) + frame(Op.text, "after"))],
                expected: [problem("ws.bad_close"), close(code, "x"), problem("ws.frame_after_close"), text("after")])
        }

    @Test(arguments: cases, Feed.allCases)
    func message(_ c: WSCase, _ feed: Feed) { check(c, feed) }
}

func limits(maxMessageBytes: Int? = nil, maxInflateBytes: UInt64? = nil) -> WebSocketLimits {
    var l = WebSocketLimits()
    if let maxMessageBytes { l.maxMessageBytes = maxMessageBytes }
    if let maxInflateBytes { l.maxInflateBytes = maxInflateBytes }
    return l
}
