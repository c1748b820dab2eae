import DecoderTestSupport
import Testing

@testable import WebSocket

/// Gaps (bytes lost in TCP reassembly): in step inside a payload, a provable resync when a boundary was lost.
@Suite struct WebSocketGapTableTests {
    static let ten = frame(Op.text, "abcdefghij")
    static let twenty = (0..<20).map { UInt8($0 * 13) }
    static let maskedTwenty = frame(Op.binary, twenty, mask: key1)

    static let cases: [WSCase] = [
        WSCase(
            name: "a gap inside a payload: in step, ws.gap, the message has missing set",
            steps: [.bytes(Array(ten[0..<5])), .gap(3), .bytes(Array(ten[8...]) + frame(Op.text, "ok"))],
            expected: [problem("ws.gap"), text("abcghij", length: 10, missing: 3), text("ok")], inSync: true),
        WSCase(
            name: "a gap inside a masked payload: the mask phase stays right after it", fromClient: true,
            steps: [
                .bytes(Array(maskedTwenty[0..<11])), .gap(2),
                .bytes(Array(maskedTwenty[13...]) + frame(Op.text, "ok", mask: key2)),
            ],
            expected: [
                problem("ws.gap"), binary(Array(twenty[0..<5] + twenty[7...]), length: 20, missing: 2), text("ok"),
            ]),
        WSCase(
            name: "two gaps inside one masked payload", fromClient: true,
            steps: [
                .bytes(Array(maskedTwenty[0..<7])), .gap(1), .bytes(Array(maskedTwenty[8..<15])), .gap(5),
                .bytes(Array(maskedTwenty[20...])),
            ],
            expected: [
                problem("ws.gap"), problem("ws.gap"),
                binary(Array(twenty[0..<1] + twenty[2..<9] + twenty[14...]), length: 20, missing: 6),
            ]),
        WSCase(
            name: "a gap of exactly the rest of a payload ends the frame",
            steps: [.bytes(Array(ten[0..<6])), .gap(6), .bytes(frame(Op.text, "ok"))],
            expected: [problem("ws.gap"), text("abcd", length: 10, missing: 6), text("ok")], inSync: true),
        WSCase(
            name: "a gap of a whole fragment's payload",
            steps: [
                .bytes(frame(Op.text, "ab", fin: false) + Array(frame(Op.continuation, "xyz", fin: false).prefix(2))),
                .gap(3), .bytes(frame(Op.continuation, "cd")),
            ],
            expected: [problem("ws.gap"), text("abcd", fragments: 3, length: 7, missing: 3)]),
        WSCase(
            name: "a gap inside a ping's payload",
            steps: [.bytes(Array(frame(Op.ping, "hello").prefix(4))), .gap(3), .bytes(frame(Op.text, "ok"))],
            expected: [problem("ws.gap"), control(Op.ping, Array("he".utf8), missing: 3), text("ok")]),
        WSCase(
            name: "a gap in a header: ws.lost_sync, then ws.resync before two well-formed frames",
            steps: [
                .bytes([0x81]), .gap(4),
                .bytes(Array("lo".utf8) + frame(Op.text, "one") + frame(Op.text, "two")),
            ],
            expected: [problem("ws.lost_sync"), problem("ws.resync 2"), text("one"), text("two")], inSync: true),
        WSCase(
            name: "a gap across a frame boundary, inside a fragmented message",
            steps: [
                .bytes(Array(frame(Op.text, "abcdef", fin: false).prefix(5))), .gap(10),
                .bytes(
                    Array("56789".utf8) + frame(Op.continuation, "lost") + frame(Op.text, "three")
                        + frame(Op.text, "four")),
            ],
            // The continuation after the gap cannot be told from a frame that starts nothing: it is skipped.
            expected: [
                problem("ws.lost_sync"), problem("ws.resync 5"), problem("ws.bad_continuation"), text("three"),
                text("four"),
            ]),
        WSCase(
            name: "a gap, then one frame that ends exactly where the bytes end",
            steps: [.bytes([0x81, 0x05, 0x48]), .gap(11), .bytes(frame(Op.text, "alone"))],
            expected: [problem("ws.lost_sync"), problem("ws.resync 0"), text("alone")], inSync: true),
        WSCase(
            name: "a gap, then bytes that are not yet provably frames: still searching",
            steps: [.bytes([0x81]), .gap(4), .bytes(Array("lo".utf8) + frame(Op.text, "one") + [0x81, 0x03, 0x74])],
            expected: [problem("ws.lost_sync"), problem("ws.lost_sync")], inSync: false),
        WSCase(
            name: "a gap between frames with context takeover: the compression context is lost too",
            deflate: DeflateParameters(enabled: true),
            steps: [
                .bytes(frame(Op.text, Deflated.foxTakeover[0], rsv1: true)), .gap(12),
                .bytes(
                    frame(Op.text, Deflated.foxTakeover[2], rsv1: true) + frame(Op.text, Deflated.hello, rsv1: true)),
            ],
            expected: [
                text(Deflated.fox[0], compressed: true), problem("ws.inflate_context_lost"), problem("ws.lost_sync"),
                problem("ws.resync 0"), problem("ws.inflate_failed"), failed(Op.text, length: 0),
                text("Hello", compressed: true),
            ]),
        WSCase(
            name: "a gap inside a compressed message: ws.inflate_context_lost, the message not inflated",
            deflate: DeflateParameters(enabled: true),
            steps: [
                .bytes(Array(frame(Op.text, Deflated.foxTakeover[0], rsv1: true).prefix(22))), .gap(6),
                .bytes(Array(frame(Op.text, Deflated.foxTakeover[0], rsv1: true)[28...])),
                .bytes(frame(Op.text, Deflated.foxTakeover[1], rsv1: true)),
            ],
            expected: [
                problem("ws.inflate_context_lost"), problem("ws.gap"), failed(Op.text, length: 19, missing: 6),
                problem("ws.inflate_failed"), failed(Op.text, length: 1),
            ]),
        WSCase(
            name: "a frame length with the most significant bit set: ws.lost_sync, then resync on the frames after it",
            steps: [.bytes([0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1] + frame(Op.text, "a") + frame(Op.text, "b"))],
            expected: [problem("ws.lost_sync"), problem("ws.resync 0"), text("a"), text("b")], inSync: true),
    ]

    @Test(arguments: cases, Feed.allCases)
    func gap(_ c: WSCase, _ feed: Feed) { check(c, feed) }

    /// A gap inside the two code bytes of a close frame: the code is unknown, not read from the wrong bytes.
    @Test(arguments: Feed.allCases)
    func gapInCloseCode(_ feed: Feed) {
        let c = WSCase(
            name: "gap in a close code", steps: [.bytes([0x88, 0x05, 0x03]), .gap(1), .bytes(Array("bye".utf8))],
            expected: [])
        let got = run(c, feed).events
        #expect(!got.contains(problem("ws.bad_close")), "\(got)")
        let codes = got.compactMap { e -> UInt16?? in
            if case .msg(let m) = e, m.opcode == Op.close { return .some(m.closeCode) }
            return nil
        }
        #expect(codes == [nil], "\(got)")

    }
}

/// Mid-stream starts (`negotiated: false`): frames recognised only when provable.
@Suite struct WebSocketMidstreamTableTests {
    static let frames =
        frame(Op.text, "one") + frame(Op.binary, [1, 2, 3]) + frame(Op.ping, "p") + frame(Op.close, closePayload(1000))
    static let framesEvents = [text("one"), binary([1, 2, 3]), control(Op.ping, "p"), close(1000)]
    static let maskedFrames =
        frame(Op.text, "one", mask: key1) + frame(Op.binary, [1, 2, 3], mask: key2) + frame(Op.pong, "p", mask: key3)

    static let cases: [WSCase] =
        [
            WSCase(
                name: "bytes starting inside a frame, then whole frames: ws.midstream with the bytes skipped",
                negotiated: false, steps: [.bytes(Array("lo world".utf8) + frames)],
                expected: [problem("ws.midstream 8")] + framesEvents, inSync: true),
            WSCase(
                name: "client bytes starting inside a masked frame, then whole frames", fromClient: true,
                negotiated: false, steps: [.bytes([0x7A, 0x7B, 0x7C] + maskedFrames)],
                expected: [problem("ws.midstream 3"), text("one"), binary([1, 2, 3]), control(Op.pong, "p")],
                inSync: true),
            WSCase(
                name: "bytes starting at a frame boundary: ws.midstream, nothing skipped", negotiated: false,
                steps: [.bytes(frames)], expected: [problem("ws.midstream 0")] + framesEvents, inSync: true),
            WSCase(
                name: "a single frame that is all the bytes", negotiated: false,
                steps: [.bytes(frame(Op.text, "alone"))], expected: [problem("ws.midstream 0"), text("alone")],
                inSync: true),
            WSCase(
                name: "frames of the wrong direction (masked server frames) are not recognised", negotiated: false,
                steps: [.bytes(maskedFrames)], expected: [problem("ws.lost_sync")], inSync: false),
            WSCase(
                name: "bytes that never become frames: not in sync", negotiated: false,
                steps: [.bytes(Array("xyz".utf8))], expected: [problem("ws.lost_sync")], inSync: false),
            WSCase(
                name: "a gap before recognition: the bytes skipped count what was dropped", negotiated: false,
                steps: [.bytes(Array("xyz".utf8)), .gap(10), .bytes(Array("ab".utf8) + frames)],
                expected: [problem("ws.midstream 15")] + framesEvents, inSync: true),
        ]
        + (1...6).flatMap { seed in
            [false, true].map { fromClient in
                WSCase(
                    name: "random bytes are not recognised (seed \(seed), \(fromClient ? "client" : "server"))",
                    fromClient: fromClient, negotiated: false,
                    steps: [.bytes(randomBytes(2048, seed: UInt64(seed) &+ (fromClient ? 100 : 0)))],
                    expected: [problem("ws.lost_sync")], inSync: false)
            }
        }

    @Test(arguments: cases, Feed.allCases)
    func midstream(_ c: WSCase, _ feed: Feed) { check(c, feed) }
}
