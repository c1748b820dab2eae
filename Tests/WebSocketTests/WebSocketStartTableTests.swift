import DecoderTestSupport
import Testing

@testable import WebSocket

/// A stream without a handshake whose first byte is known to be the direction's first (the connection's start was
/// captured, no HTTP came): only a chain of frames from that byte is WebSocket; when it breaks the stream says so
/// (`startNotFrames`, for the caller to give the connection up) and, fed on, searches as a mid-stream one.
@Suite struct WebSocketStartTableTests {
    static let frames =
        frame(Op.text, "one") + frame(Op.binary, [1, 2, 3]) + frame(Op.ping, "p") + frame(Op.close, closePayload(1000))
    static let framesEvents = [text("one"), binary([1, 2, 3]), control(Op.ping, "p"), close(1000)]
    static let maskedFrames =
        frame(Op.text, "one", mask: key1) + frame(Op.binary, [1, 2, 3], mask: key2) + frame(Op.pong, "p", mask: key3)

    static let cases: [WSCase] = [
        WSCase(
            name: "frames from the first byte: recognised there", negotiated: false, steps: [.bytes(frames)],
            expected: [problem("ws.midstream 0")] + framesEvents, inSync: true, startKnown: true,
            startNotFrames: false),
        WSCase(
            name: "masked client frames from the first byte", fromClient: true, negotiated: false,
            steps: [.bytes(maskedFrames)],
            expected: [problem("ws.midstream 0"), text("one"), binary([1, 2, 3]), control(Op.pong, "p")],
            inSync: true, startKnown: true, startNotFrames: false),
        WSCase(
            name: "frames from the first byte, a header cut by the end: recognised, then ws.incomplete",
            negotiated: false, steps: [.bytes(frames + [0x81])],
            expected: [problem("ws.midstream 0")] + framesEvents + [problem("ws.incomplete")], inSync: true,
            startKnown: true, startNotFrames: false),
        WSCase(
            name: "an SSH banner: not frames from the start", negotiated: false,
            steps: [.bytes(Array("SSH-2.0-OpenSSH_8.9p1\r\n".utf8))], expected: [problem("ws.lost_sync")],
            inSync: false, startKnown: true, startNotFrames: true),
        WSCase(
            name: "a whole plausible frame, then bytes no frame allows: not frames from the start", negotiated: false,
            steps: [.bytes([0x82, 0x03, 1, 2, 3, 0x7F, 0x7F, 0x7F, 0x7F])], expected: [problem("ws.lost_sync")],
            inSync: false, startKnown: true, startNotFrames: true),
        WSCase(
            name: "unmasked client frames from the start: not frames", fromClient: true, negotiated: false,
            steps: [.bytes(frame(Op.text, "hi") + frame(Op.text, "ho"))], expected: [problem("ws.lost_sync")],
            inSync: false, startKnown: true, startNotFrames: true),
        // Fed on after saying so, it searches as a stream picked up mid-way would (the caller usually gives up).
        WSCase(
            name: "bytes before the frames: not frames from the start; fed on, found further on", negotiated: false,
            steps: [.bytes(Array("lo world".utf8) + frames)], expected: [problem("ws.midstream 8")] + framesEvents,
            inSync: true, startKnown: true, startNotFrames: true),
        // A gap before anything is proved: the bytes that follow are not the start.
        WSCase(
            name: "a gap before the first bytes: searched for anywhere", negotiated: false,
            steps: [.gap(5), .bytes(Array("lo".utf8) + frames)], expected: [problem("ws.midstream 7")] + framesEvents,
            inSync: true, startKnown: true, startNotFrames: false),
        WSCase(
            name: "a gap after a plausible beginning: searched for anywhere after it", negotiated: false,
            steps: [.bytes([0x82, 0x7E]), .gap(3), .bytes(Array("xy".utf8) + frames)],
            expected: [problem("ws.midstream 7")] + framesEvents, inSync: true, startKnown: true,
            startNotFrames: false),
        // Without the start known (the default), the same bytes are searched as before.
        WSCase(
            name: "bytes before the frames, the start not known: found after skipping", negotiated: false,
            steps: [.bytes(Array("lo world".utf8) + frames)], expected: [problem("ws.midstream 8")] + framesEvents,
            inSync: true, startNotFrames: false),
    ]

    @Test(arguments: cases, Feed.allCases)
    func start(_ c: WSCase, _ feed: Feed) { check(c, feed) }
}
