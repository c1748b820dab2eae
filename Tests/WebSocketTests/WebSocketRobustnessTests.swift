import Testing

@testable import WebSocket

/// Hostile or unlucky input: lengths at the top of their range, the resync window at its edge.
@Suite struct WebSocketRobustnessTests {
    /// A 64-bit length of 2^64 - 1 (most significant bit set) in a whole feed must be reported, not trap.
    @Test func largestLengthDoesNotTrap() async {
        await withKnownIssue(Comment(rawValue: WSBug.lengthOverflow)) {
            await #expect(processExitsWith: .success) {
                let stream = WebSocketStream(fromClient: false, deflate: .off, negotiated: true)
                let bytes: [UInt8] = [0x82, 0x7F] + [UInt8](repeating: 0xFF, count: 8) + [0x81, 0x00, 0x81, 0x00]
                bytes.withUnsafeBytes { stream.feed($0) { _ in } }
            }
        }
    }

    /// The same, for a client frame (masked).
    @Test func largestMaskedLengthDoesNotTrap() async {
        await withKnownIssue(Comment(rawValue: WSBug.lengthOverflow)) {
            await #expect(processExitsWith: .success) {
                let stream = WebSocketStream(fromClient: true, deflate: .off, negotiated: true)
                let bytes: [UInt8] = [0x82, 0xFF] + [UInt8](repeating: 0xFF, count: 8) + [1, 2, 3, 4]
                bytes.withUnsafeBytes { stream.feed($0) { _ in } }
            }
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
            name: "resyncWindow 64: the proof (three 42-byte frames) is longer than the window", negotiated: false,
            limits: small(64), steps: [.bytes(frame40 + frame40 + frame40)],
            expected: [problem("ws.midstream 0")] + [binary([UInt8](repeating: 0x78, count: 40))] * 3, inSync: true,
            knownIssue: KnownIssue(bug: WSBug.windowTrim, feeds: [.split2])),
    ]

    @Test(arguments: cases, Feed.allCases)
    func window(_ c: WSCase, _ feed: Feed) { check(c, feed) }
}

func * (lhs: [Ev], rhs: Int) -> [Ev] { (0..<rhs).flatMap { _ in lhs } }
