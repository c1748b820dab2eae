import DecoderTestSupport
import Testing

@testable import WebSocket

/// Hostile or unlucky input: lengths at the top of their range, the resync window at its edge.
@Suite struct WebSocketRobustnessTests {
    /// A 64-bit length of 2^64 - 1 (most significant bit set) in a whole feed must be reported, not trap.
    @Test func largestLengthDoesNotTrap() async {
        await #expect(processExitsWith: .success) {
            let stream = WebSocketStream(fromClient: false, deflate: .off, negotiated: true)
            let bytes: [UInt8] = [0x82, 0x7F] + [UInt8](repeating: 0xFF, count: 8) + [0x81, 0x00, 0x81, 0x00]
            bytes.withUnsafeBytes { stream.feed($0) { _ in } }
        }

    }

    /// The same, for a client frame (masked).
    @Test func largestMaskedLengthDoesNotTrap() async {
        await #expect(processExitsWith: .success) {
            let stream = WebSocketStream(fromClient: true, deflate: .off, negotiated: true)
            let bytes: [UInt8] = [0x82, 0xFF] + [UInt8](repeating: 0xFF, count: 8) + [1, 2, 3, 4]
            bytes.withUnsafeBytes { stream.feed($0) { _ in } }
        }

    }

    /// The same header one byte at a time takes the other path (startFrame's check) and is reported.
    @Test func largestLengthByteAtATime() {
        let c = WSCase(
            name: "largest length", steps: [.bytes([0x82, 0x7F] + [UInt8](repeating: 0xFF, count: 8))],
            expected: [problem("ws.lost_sync")], inSync: false)
        check(c, .byteAtATime)
    }

    static func small(_ window: Int) -> WebSocketLimits {
        var l = WebSocketLimits()
        l.resyncWindow = window
        return l
    }

    static let frame40 = frame(Op.binary, [UInt8](repeating: 0x78, count: 40))

    static let cases: [WSCase] = [
        WSCase(
            name: "resyncWindow 64: garbage longer than the window, then frames", negotiated: false, limits: small(64),
            steps: [.bytes([UInt8](repeating: 0x78, count: 100) + frame(Op.text, "a") + frame(Op.text, "b"))],
            expected: [problem("ws.midstream 100"), text("a"), text("b")], inSync: true),
        WSCase(
            // Binary frames show no content, so four of them are the proof (168 bytes, over twice the window).
            name: "resyncWindow 64: the proof (four 42-byte frames) is longer than the window", negotiated: false,
            limits: small(64), steps: [.bytes(frame40 + frame40 + frame40 + frame40)],
            expected: [problem("ws.midstream 0")] + [binary([UInt8](repeating: 0x78, count: 40))] * 4, inSync: true),
        WSCase(
            // Text frames in valid UTF-8 show content: two of them are the proof.
            name: "resyncWindow 64: two 42-byte text frames are a proof longer than the window", negotiated: false,
            limits: small(64),
            steps: [
                .bytes(
                    frame(Op.text, String(repeating: "x", count: 40))
                        + frame(Op.text, String(repeating: "y", count: 40)))
            ],
            expected: [
                problem("ws.midstream 0"), text(String(repeating: "x", count: 40)),
                text(String(repeating: "y", count: 40)),
            ], inSync: true),
    ]

    @Test(arguments: cases, Feed.allCases)
    func window(_ c: WSCase, _ feed: Feed) { check(c, feed) }
}

func * (lhs: [Ev], rhs: Int) -> [Ev] { (0..<rhs).flatMap { _ in lhs } }
