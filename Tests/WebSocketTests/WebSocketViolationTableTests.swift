import DecoderTestSupport
import Testing

@testable import WebSocket

/// RFC 6455 section 5 violations: each is a diagnostic, and decoding goes on with the frames that follow.
@Suite struct WebSocketViolationTableTests {
    static let deflate = DeflateParameters(enabled: true)

    static let cases: [WSCase] = [
        // Masking (section 5.1), reported once per direction.
        WSCase(
            name: "unmasked client frames: ws.mask_violation once", fromClient: true,
            steps: [.bytes(frame(Op.text, "a") + frame(Op.text, "b", mask: key1) + frame(Op.binary, [1]))],
            expected: [problem("ws.mask_violation"), text("a"), text("b"), binary([1])]),
        WSCase(
            name: "masked server frames: ws.mask_violation once", fromClient: false,
            steps: [
                .bytes(frame(Op.text, "a", mask: key1) + frame(Op.ping, "p", mask: key2)),
                .bytes(frame(Op.text, "b")),
            ],
            expected: [problem("ws.mask_violation"), text("a"), control(Op.ping, "p"), text("b")]),
        // Reserved bits (section 5.2).
        WSCase(
            name: "RSV2: ws.reserved_bits",
            steps: [.bytes(frame(Op.text, "hi", rsv2: true) + frame(Op.text, "ok"))],
            expected: [problem("ws.reserved_bits"), text("hi"), text("ok")]),
        WSCase(
            name: "RSV3: ws.reserved_bits",
            steps: [.bytes(frame(Op.binary, [7], rsv3: true) + frame(Op.text, "ok"))],
            expected: [problem("ws.reserved_bits"), binary([7]), text("ok")]),
        WSCase(
            name: "RSV1 without permessage-deflate negotiated: ws.reserved_bits, not inflated",
            steps: [.bytes(frame(Op.text, "hi", rsv1: true) + frame(Op.text, "ok"))],
            expected: [problem("ws.reserved_bits"), text("hi"), text("ok")]),
        WSCase(
            name: "RSV1 on a continuation frame: ws.reserved_bits", deflate: deflate,
            steps: [.bytes(frame(Op.text, "a", fin: false) + frame(Op.continuation, "b", rsv1: true))],
            expected: [problem("ws.reserved_bits"), text("ab", fragments: 2)]),
        WSCase(
            name: "RSV1 on a control frame: ws.reserved_bits", deflate: deflate,
            steps: [.bytes(frame(Op.ping, "p", rsv1: true) + frame(Op.text, "ok"))],
            expected: [problem("ws.reserved_bits"), control(Op.ping, "p"), text("ok")]),
        // Reserved opcodes (section 5.2): the payload is skipped.
        WSCase(
            name: "reserved opcode 3: payload skipped, the next frame fine",
            steps: [.bytes(frame(3, [1, 2, 3]) + frame(Op.text, "ok"))],
            expected: [problem("ws.reserved_opcode"), text("ok")]),
        WSCase(
            name: "reserved opcode 11: payload skipped, the next frame fine",
            steps: [.bytes(frame(11, [1, 2]) + frame(Op.text, "ok"))],
            expected: [problem("ws.reserved_opcode"), text("ok")]),
        WSCase(
            name: "reserved opcode 7, masked, between fragments", fromClient: true,
            steps: [
                .bytes(
                    frame(Op.text, "a", fin: false, mask: key1) + frame(7, "zzz", mask: key2)
                        + frame(Op.continuation, "b", mask: key3))
            ],
            expected: [problem("ws.reserved_opcode"), text("ab", fragments: 2)]),
        // Control frames (section 5.5).
        WSCase(
            name: "a fragmented ping: ws.bad_control_frame",
            steps: [.bytes(frame(Op.ping, "hi", fin: false) + frame(Op.text, "ok"))],
            expected: [problem("ws.bad_control_frame"), control(Op.ping, "hi"), text("ok")]),
        WSCase(
            name: "a 126-byte ping: ws.bad_control_frame, decoded anyway",
            steps: [.bytes(frame(Op.ping, [UInt8](repeating: 0x70, count: 126)) + frame(Op.text, "ok"))],
            expected: [
                problem("ws.bad_control_frame"), control(Op.ping, [UInt8](repeating: 0x70, count: 126)), text("ok"),
            ]),
        WSCase(
            name: "a 126-byte ping between fragments, decoded anyway",
            steps: [
                .bytes(
                    frame(Op.text, "a", fin: false) + frame(Op.ping, [UInt8](repeating: 0x70, count: 126))
                        + frame(Op.continuation, "b"))
            ],
            expected: [
                problem("ws.bad_control_frame"), control(Op.ping, [UInt8](repeating: 0x70, count: 126)),
                text("ab", fragments: 2),
            ]),
        // As zeek-oversized-close-frame.pcapng (Zeek's test trace, made with scapy) has it: a server close of 258
        // bytes, its length in the 64-bit form. tshark shows code 1000 and the reason; so does imscope.
        WSCase(
            name: "a 258-byte close (64-bit length): ws.bad_control_frame, code and reason decoded",
            steps: [
                .bytes(
                    [0x88, 0x7F, 0, 0, 0, 0, 0, 0, 0x01, 0x02] + closePayload(1000, String(repeating: "C", count: 256))
                        + frame(Op.text, "after"))
            ],
            expected: [
                problem("ws.bad_control_frame"), close(1000, String(repeating: "C", count: 256)),
                problem("ws.frame_after_close"), text("after"),
            ]),
        WSCase(
            name: "a masked 300-byte client close: decoded, unmasked", fromClient: true,
            steps: [.bytes(frame(Op.close, closePayload(1001, String(repeating: "é", count: 149)), mask: key1))],
            expected: [problem("ws.bad_control_frame"), close(1001, String(repeating: "é", count: 149))]),
        WSCase(
            name: "an oversized close past the message limit: kept up to it, cut at a character, truncated",
            limits: {
                var l = WebSocketLimits()
                l.maxMessageBytes = 201
                return l
            }(),
            steps: [.bytes(frame(Op.close, closePayload(1000, String(repeating: "é", count: 150))))],
            expected: [
                problem("ws.bad_control_frame"), problem("ws.message_too_large"),
                .msg(
                    Msg(
                        opcode: Op.close, payload: Array(String(repeating: "é", count: 99).utf8), length: 302,
                        truncated: true, closeCode: 1000)),
            ]),
        WSCase(
            name: "a gap inside an oversized close: no code, the bytes counted missing",
            steps: [
                .bytes(Array(frame(Op.close, closePayload(1000, String(repeating: "x", count: 198))).prefix(54))),
                .gap(100),
                .bytes(Array(frame(Op.close, closePayload(1000, String(repeating: "x", count: 198))).suffix(50))),
            ],
            expected: [
                problem("ws.bad_control_frame"), problem("ws.gap"),
                .msg(Msg(opcode: Op.close, payload: [], length: 200, missing: 100)),
            ]),
        // Nothing after a close (section 5.5.1): reported once per direction, the frames decoded anyway.
        WSCase(
            name: "two texts after the close: ws.frame_after_close once, both decoded",
            steps: [.bytes(frame(Op.close, closePayload(1000)) + frame(Op.text, "late") + frame(Op.text, "later"))],
            expected: [close(1000), problem("ws.frame_after_close"), text("late"), text("later")]),
        WSCase(
            name: "masked client frames after its close, in later segments", fromClient: true,
            steps: [
                .bytes(frame(Op.close, closePayload(1001, "bye"), mask: key1)),
                .bytes(frame(Op.binary, [1, 2], mask: key2) + frame(Op.text, "x", fin: false, mask: key3)),
                .bytes(frame(Op.continuation, "y", mask: key1)),
            ],
            expected: [
                close(1001, "bye"), problem("ws.frame_after_close"), binary([1, 2]), text("xy", fragments: 2),
            ]),
        WSCase(
            name: "control frames after the close (a second close, as python-socketio 4 sends): not flagged",
            steps: [
                .bytes(frame(Op.close, closePayload(1000)) + frame(Op.close, closePayload(1000)) + frame(Op.pong, "p"))
            ],
            expected: [close(1000), close(1000), control(Op.pong, "p")]),
        WSCase(
            name: "a pong, then a text after the close: the text flagged",
            steps: [.bytes(frame(Op.close, []) + frame(Op.pong, "p") + frame(Op.text, "late"))],
            expected: [close(nil), control(Op.pong, "p"), problem("ws.frame_after_close"), text("late")]),
        WSCase(
            name: "a close between fragments, then the last fragment: ws.frame_after_close",
            steps: [
                .bytes(
                    frame(Op.text, "a", fin: false) + frame(Op.close, closePayload(1000)) + frame(Op.continuation, "b"))
            ],
            expected: [close(1000), problem("ws.frame_after_close"), text("ab", fragments: 2)]),
        WSCase(
            name: "frames before the close, the close last: nothing to report",
            steps: [.bytes(frame(Op.text, "a") + frame(Op.ping, "p") + frame(Op.close, closePayload(1000)))],
            expected: [text("a"), control(Op.ping, "p"), close(1000)]),
        // Fragmentation (section 5.4).
        WSCase(
            name: "a continuation without a message: ws.bad_continuation, skipped",
            steps: [.bytes(frame(Op.continuation, "xx") + frame(Op.text, "ok"))],
            expected: [problem("ws.bad_continuation"), text("ok")]),
        WSCase(
            name: "a new text inside a fragmented message: ws.bad_continuation, the new one decoded",
            steps: [.bytes(frame(Op.text, "ab", fin: false) + frame(Op.text, "cd"))],
            expected: [problem("ws.bad_continuation"), text("cd")]),
        WSCase(
            name: "a new fragmented binary inside a fragmented text",
            steps: [
                .bytes(
                    frame(Op.text, "ab", fin: false) + frame(Op.binary, [1], fin: false) + frame(Op.continuation, [2]))
            ],
            expected: [problem("ws.bad_continuation"), binary([1, 2], fragments: 2)]),
        // UTF-8 of text (section 8.1).
        WSCase(
            name: "invalid UTF-8 text: ws.invalid_utf8",
            steps: [.bytes(frame(Op.text, [0xC3, 0x28]) + frame(Op.text, "ok"))],
            expected: [problem("ws.invalid_utf8"), data(Op.text, [0xC3, 0x28], validUTF8: false), text("ok")]),
        WSCase(
            name: "invalid UTF-8 text, masked and fragmented (a surrogate)", fromClient: true,
            steps: [
                .bytes(
                    frame(Op.text, "ab", fin: false, mask: key1)
                        + frame(Op.continuation, [0xED, 0xA0, 0x80], mask: key2))
            ],
            expected: [
                problem("ws.invalid_utf8"),
                data(Op.text, [0x61, 0x62, 0xED, 0xA0, 0x80], fragments: 2, validUTF8: false),
            ]),
        WSCase(
            name: "text ending inside a UTF-8 sequence: ws.invalid_utf8",
            steps: [.bytes(frame(Op.text, [0x61, 0xE2, 0x82]))],
            expected: [problem("ws.invalid_utf8"), data(Op.text, [0x61, 0xE2, 0x82], validUTF8: false)]),
        WSCase(
            name: "binary is never checked for UTF-8",
            steps: [.bytes(frame(Op.binary, [0xFF, 0xC0, 0x80]))],
            expected: [binary([0xFF, 0xC0, 0x80])]),
        // The end of the connection.
        WSCase(
            name: "the connection ends inside a frame: ws.incomplete",
            steps: [.bytes(Array(frame(Op.text, "Hello").prefix(4)))],
            expected: [problem("ws.incomplete")]),
        WSCase(
            name: "the connection ends inside a header: ws.incomplete",
            steps: [.bytes([0x82, 0x7E, 0x01])],
            expected: [problem("ws.incomplete")]),
        WSCase(
            name: "the connection ends inside a fragmented message: ws.incomplete",
            steps: [.bytes(frame(Op.text, "Hel", fin: false))],
            expected: [problem("ws.incomplete")]),
    ]

    @Test(arguments: cases, Feed.allCases)
    func violation(_ c: WSCase, _ feed: Feed) { check(c, feed) }
}
