import DecoderTestSupport
import ImscopeCore
import Testing

@testable import WebSocket

// MARK: - Building frames

enum Op {
    static let continuation: UInt8 = 0x0
    static let text: UInt8 = 0x1
    static let binary: UInt8 = 0x2
    static let close: UInt8 = 0x8
    static let ping: UInt8 = 0x9
    static let pong: UInt8 = 0xA
}

/// The mask keys used by client frames in the tables (RFC 6455 section 5.7 uses the first).
let key1: UInt32 = 0x37FA_213D
let key2: UInt32 = 0x0102_0304
let key3: UInt32 = 0xA5C3_5A3C

/// One frame on the wire: the shortest length encoding, masked with `mask` if given.
func frame(
    _ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv1: Bool = false, rsv2: Bool = false, rsv3: Bool = false,
    mask: UInt32? = nil
) -> [UInt8] {
    var b0 = opcode & 0x0F
    if fin { b0 |= 0x80 }
    if rsv1 { b0 |= 0x40 }
    if rsv2 { b0 |= 0x20 }
    if rsv3 { b0 |= 0x10 }
    var out = [b0]
    let m: UInt8 = mask == nil ? 0 : 0x80
    let n = payload.count
    if n < 126 {
        out.append(m | UInt8(n))
    } else if n <= 0xFFFF {
        out += [m | 126, UInt8(n >> 8), UInt8(n & 0xFF)]
    } else {
        out.append(m | 127)
        for k in (0..<8).reversed() { out.append(UInt8(truncatingIfNeeded: UInt64(n) >> (8 * UInt64(k)))) }
    }
    guard let mask else { return out + payload }
    let key = [UInt8(mask >> 24), UInt8((mask >> 16) & 0xFF), UInt8((mask >> 8) & 0xFF), UInt8(mask & 0xFF)]
    out += key
    for (i, b) in payload.enumerated() { out.append(b ^ key[i & 3]) }
    return out
}

func frame(
    _ opcode: UInt8, _ text: String, fin: Bool = true, rsv1: Bool = false, rsv2: Bool = false, rsv3: Bool = false,
    mask: UInt32? = nil
) -> [UInt8] {
    frame(opcode, Array(text.utf8), fin: fin, rsv1: rsv1, rsv2: rsv2, rsv3: rsv3, mask: mask)
}

/// A close frame's payload: the code, big-endian, then the reason.
func closePayload(_ code: UInt16, _ reason: String = "") -> [UInt8] {
    [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8)
}

// MARK: - What the decoder emits, as comparable values

/// A `WebSocketMessage` copied out of its callback (all fields but `wireLength`, which has its own tests).
struct Msg: Equatable, Sendable, CustomStringConvertible {
    var opcode: UInt8
    var payload: [UInt8]
    var compressed = false
    var fragments = 1
    var length: UInt64
    var truncated = false
    var missing: UInt64 = 0
    var inflateFailed = false
    var closeCode: UInt16? = nil
    var validUTF8 = true

    var description: String {
        var s = WebSocketOpcode(rawValue: opcode).name
        if payload.count <= 64, let text = String(validating: payload, as: UTF8.self) {
            s += " \"\(text)\""
        } else {
            s += " [\(payload.count) bytes: \(payload.prefix(8).map { String($0, radix: 16) }.joined(separator: " "))"
            s += payload.count > 8 ? " ...]" : "]"
        }
        s += " length=\(length)"
        if compressed { s += " compressed" }
        if fragments != 1 { s += " fragments=\(fragments)" }
        if truncated { s += " truncated" }
        if missing != 0 { s += " missing=\(missing)" }
        if inflateFailed { s += " inflateFailed" }
        if let closeCode { s += " code=\(closeCode)" }
        if !validUTF8 { s += " invalidUTF8" }
        return s
    }
}

/// One event: a message, or a problem by code (`ws.midstream` and `ws.resync` with the number of bytes skipped, as
/// their messages give it).
enum Ev: Equatable, Sendable, CustomStringConvertible {
    case msg(Msg)
    case problem(String)

    var description: String {
        switch self {
        case .msg(let m): return m.description
        case .problem(let p): return "! " + p
        }
    }
}

/// The number after "skipping " in a diagnostic message, 0 if there is none.
func skippedCount(_ message: String) -> Int {
    let marker = "skipping "
    var rest = Substring(message)
    while !rest.isEmpty && !rest.hasPrefix(marker) { rest = rest.dropFirst() }
    return Int(rest.dropFirst(marker.count).prefix(while: \.isNumber)) ?? 0
}

func event(_ e: WebSocketEvent) -> Ev {
    switch e {
    case .message(let m):
        return .msg(
            Msg(
                opcode: m.opcode.rawValue, payload: Array(m.payload), compressed: m.compressed, fragments: m.fragments,
                length: m.length, truncated: m.truncated, missing: m.missing, inflateFailed: m.inflateFailed,
                closeCode: m.closeCode, validUTF8: m.validUTF8))
    case .problem(let kind, let message):
        if kind == .wsMidstream || kind == .wsResynced { return .problem("\(kind.code) \(skippedCount(message))") }
        return .problem(kind.code)
    }
}

// Expected events, briefly.

func text(
    _ s: String, fragments: Int = 1, compressed: Bool = false, length: UInt64? = nil, truncated: Bool = false,
    missing: UInt64 = 0
) -> Ev {
    data(
        Op.text, Array(s.utf8), fragments: fragments, compressed: compressed, length: length, truncated: truncated,
        missing: missing)
}

func binary(
    _ b: [UInt8], fragments: Int = 1, compressed: Bool = false, length: UInt64? = nil, truncated: Bool = false,
    missing: UInt64 = 0
) -> Ev {
    data(
        Op.binary, b, fragments: fragments, compressed: compressed, length: length, truncated: truncated,
        missing: missing)
}

func data(
    _ opcode: UInt8, _ b: [UInt8], fragments: Int = 1, compressed: Bool = false, length: UInt64? = nil,
    truncated: Bool = false, missing: UInt64 = 0, validUTF8: Bool = true
) -> Ev {
    .msg(
        Msg(
            opcode: opcode, payload: b, compressed: compressed, fragments: fragments,
            length: length ?? UInt64(b.count), truncated: truncated, missing: missing, validUTF8: validUTF8))
}

/// A compressed message that could not be inflated: no payload.
func failed(_ opcode: UInt8, length: UInt64, fragments: Int = 1, missing: UInt64 = 0) -> Ev {
    .msg(
        Msg(
            opcode: opcode, payload: [], compressed: true, fragments: fragments, length: length, missing: missing,
            inflateFailed: true))
}

func control(_ opcode: UInt8, _ payload: [UInt8], missing: UInt64 = 0) -> Ev {
    .msg(Msg(opcode: opcode, payload: payload, length: UInt64(payload.count) + missing, missing: missing))
}

func control(_ opcode: UInt8, _ s: String) -> Ev { control(opcode, Array(s.utf8)) }

/// A close frame: `code` (nil for an empty payload) and the reason as the message's payload.
func close(_ code: UInt16?, _ reason: String = "", validUTF8: Bool = true) -> Ev {
    closeRaw(code, Array(reason.utf8), validUTF8: validUTF8)
}

func closeRaw(_ code: UInt16?, _ reason: [UInt8], validUTF8: Bool = true) -> Ev {
    .msg(
        Msg(
            opcode: Op.close, payload: reason, length: UInt64(reason.count + (code == nil ? 0 : 2)), closeCode: code,
            validUTF8: validUTF8))
}

func problem(_ code: String) -> Ev { .problem(code) }

// MARK: - Scripts

/// One step of a WebSocket script.
enum WSStep: Sendable {
    case bytes([UInt8])
    case gap(UInt64)
}

/// A table row: a stream's settings, a script, and the events it must produce in every feed (`close(_:)` ends
/// every script; `inSync` is checked after it when given).
struct WSCase: Sendable, CustomTestStringConvertible {
    var name: String
    var fromClient = false
    var deflate = DeflateParameters.off
    var negotiated = true
    var limits = WebSocketLimits()
    var steps: [WSStep]
    var expected: [Ev]
    var inSync: Bool? = nil
    var knownIssue: KnownIssue? = nil
    /// Without a handshake: the first byte is the direction's first (`WebSocketStream.startKnown`); and whether the
    /// chain from it must have broken by the end (checked when given).
    var startKnown = false
    var startNotFrames: Bool? = nil
    var testDescription: String { name }
}

/// Runs a script in one feed; returns the events and whether the stream ended in sync (and said its first bytes
/// were not frames).
func run(_ c: WSCase, _ feed: Feed) -> (events: [Ev], inSync: Bool, startNotFrames: Bool) {
    let stream = WebSocketStream(
        fromClient: c.fromClient, deflate: c.deflate, negotiated: c.negotiated, limits: c.limits,
        startKnown: c.startKnown)
    var out: [Ev] = []
    let emit: (WebSocketEvent) -> Void = { out.append(event($0)) }
    var bytesSteps = 0
    for step in c.steps {
        switch step {
        case .bytes(let bytes):
            let pieces = feed.pieces(bytes.count, step: bytesSteps)
            bytesSteps += 1
            // Each piece in a buffer of its own that is scribbled over afterwards: a decoder that keeps a pointer
            // into it would show garbage.
            for r in pieces {
                var piece = Array(bytes[r])
                piece.withUnsafeBytes { stream.feed($0, emit) }
                for k in piece.indices { piece[k] = 0xEE }
            }
        case .gap(let n):
            stream.gap(n, emit)
        }
    }
    stream.close(emit)
    return (out, stream.inSync, stream.startNotFrames)
}

/// Runs and verifies a case in one feed, with its known issue, if any, marked as such.
func check(_ c: WSCase, _ feed: Feed) {
    let verify = {
        let got = run(c, feed)
        #expect(got.events == c.expected, "\(c.name), fed \(feed)")
        if let inSync = c.inSync { #expect(got.inSync == inSync, "\(c.name), fed \(feed): inSync") }
        if let notFrames = c.startNotFrames {
            #expect(got.startNotFrames == notFrames, "\(c.name), fed \(feed): startNotFrames")
        }
    }
    if let known = c.knownIssue, known.feeds.contains(feed) {
        withKnownIssue(Comment(rawValue: known.bug)) { verify() }
    } else {
        verify()
    }
}

/// Bytes from a seeded generator.
func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
}
