import Capture
import ImscopeCore
import Testing

@testable import TCPReassembly

// MARK: - Scripts: segments described by stream offsets, not raw sequence numbers

/// Which end of a tuple sends a packet.
enum Side: Sendable {
    case client
    case server
}

/// The two ends of a connection and their initial sequence numbers.
struct Tuple: Sendable {
    var client: Endpoint
    var server: Endpoint
    var isnC: UInt32
    var isnS: UInt32

    static func v4(
        client: UInt32 = 0x0A00_0001, clientPort: UInt16 = 40000, server: UInt32 = 0x0A00_0002,
        serverPort: UInt16 = 9092, isnC: UInt32 = 1000, isnS: UInt32 = 5000
    ) -> Tuple {
        Tuple(
            client: Endpoint(address: IPAddress(v4: client), port: clientPort),
            server: Endpoint(address: IPAddress(v4: server), port: serverPort), isnC: isnC, isnS: isnS)
    }
}

/// One packet of a script. `rel` is the stream offset of its first payload byte (a SYN sits at -1), `ackRel` the
/// offset it acknowledges in the other direction (nil: no ACK flag); both count from ISN + 1 of their direction.
struct Pkt: Sendable {
    var tuple: Int
    var side: Side
    var rel: Int64
    var ackRel: Int64?
    var flags: TCPFlags
    var bytes: [UInt8]
    /// The payload length on the wire when the capture cut the packet (`bytes` is what was captured).
    var wire: Int?
    /// Capture time in milliseconds; nil keeps the previous packet's time.
    var ms: Int64?
    /// A name for expectations that refer to this packet (gaps and closes "at" it).
    var label: String?
}

/// One step of a script.
enum Step: Sendable {
    case pkt(Pkt)
    /// `finishAll`, with a context labelled "end".
    case finishAll
    /// `reassembler.buffered` must equal this here.
    case buffered(Int)
    /// `reassembler.connectionsTracked` must equal this here.
    case tracked(Int)

    var isFinishAll: Bool {
        if case .finishAll = self { return true }
        return false
    }

    static func c(
        _ rel: Int64, _ text: String = "", ack: Int64? = 0, _ flags: TCPFlags = [], wire: Int? = nil, ms: Int64? = nil,
        t: Int = 0, label: String? = nil
    ) -> Step {
        .pkt(
            Pkt(
                tuple: t, side: .client, rel: rel, ackRel: ack, flags: flags, bytes: Array(text.utf8), wire: wire,
                ms: ms, label: label))
    }

    static func s(
        _ rel: Int64, _ text: String = "", ack: Int64? = 0, _ flags: TCPFlags = [], wire: Int? = nil, ms: Int64? = nil,
        t: Int = 0, label: String? = nil
    ) -> Step {
        .pkt(
            Pkt(
                tuple: t, side: .server, rel: rel, ackRel: ack, flags: flags, bytes: Array(text.utf8), wire: wire,
                ms: ms, label: label))
    }

    /// SYN, SYN-ACK, ACK on tuple `t`.
    static func handshake(t: Int = 0, ms: Int64? = nil, label: String? = nil) -> [Step] {
        [
            .c(-1, ack: nil, .syn, ms: ms, t: t, label: label),
            .s(-1, ack: 0, .syn, t: t),
            .c(0, ack: 0, t: t),
        ]
    }
}

/// Splits a data segment into 1-byte segments with the same sequence arithmetic: SYN stays whole, FIN and RST
/// ride on the last byte, a truncated tail becomes 1-byte segments with nothing captured.
func splitIntoBytes(_ p: Pkt) -> [Pkt] {
    let wire = p.wire ?? p.bytes.count
    guard wire > 1, !p.flags.contains(.syn) else { return [p] }
    return (0..<wire).map { i in
        var q = p
        q.rel = p.rel + Int64(i)
        q.bytes = i < p.bytes.count ? [p.bytes[i]] : []
        q.wire = 1
        if i != wire - 1 { q.flags.subtract([.fin, .rst]) }
        return q
    }
}

// MARK: - Recording sink

/// A connection and direction, by connection id.
struct StreamID: Hashable, Sendable, CustomStringConvertible {
    var conn: Int
    var dir: Direction
    static func c2s(_ conn: Int) -> StreamID { StreamID(conn: conn, dir: .c2s) }
    static func s2c(_ conn: Int) -> StreamID { StreamID(conn: conn, dir: .s2c) }
    var description: String { "#\(conn) \(dir.name)" }
}

/// A run of a stream: delivered bytes, or a gap of some length and cause.
enum Piece: Equatable, Sendable, CustomStringConvertible {
    case data([UInt8])
    case gap(UInt64, GapCause)

    static func text(_ s: String) -> Piece { .data(Array(s.utf8)) }
    static func gap(_ n: UInt64) -> Piece { .gap(n, .notCaptured) }

    var length: UInt64 {
        switch self {
        case .data(let bytes): return UInt64(bytes.count)
        case .gap(let n, _): return n
        }
    }

    var description: String {
        switch self {
        case .data(let bytes): return String(decoding: bytes, as: UTF8.self).debugDescription
        case .gap(let n, let cause): return "gap(\(n), \(cause))"
        }
    }
}

extension Array where Element == Piece {
    /// Appends `piece`, merged into the last one when both are data or both are gaps of one cause.
    mutating func appendMerging(_ piece: Piece) {
        switch (last, piece) {
        case (.data(let a)?, .data(let b)):
            self[count - 1] = .data(a + b)
        case (.gap(let a, let causeA)?, .gap(let b, let causeB)) where causeA == causeB:
            self[count - 1] = .gap(a + b, causeA)
        default:
            append(piece)
        }
    }

    /// The same stream with adjacent runs merged.
    var merged: [Piece] { reduce(into: []) { $0.appendMerging($1) } }
}

/// One `gap` call, with the stream offset where it happened.
struct GapEvent: Equatable, CustomStringConvertible {
    var offset: UInt64
    var length: UInt64
    var cause: GapCause
    var frame: UInt64
    var description: String { "gap(\(length), \(cause)) at offset \(offset), frame \(frame)" }
}

/// Records everything a reassembler reports, per connection and direction, and notes contract violations
/// (events for unknown or closed connections, double opens or closes) as it goes.
struct RecordingSink: TCPStreamSink {
    var connections: [Int: Connection] = [:]
    var opened: [Int: UInt64] = [:]
    var closes: [Int: (reason: CloseReason, frame: UInt64)] = [:]
    /// Delivered bytes and gaps, adjacent runs merged (data with data, gaps of one cause with each other).
    var pieces: [StreamID: [Piece]] = [:]
    /// Every `gap` call, unmerged.
    var gaps: [StreamID: [GapEvent]] = [:]
    /// Stream offset reached per direction: bytes delivered plus gap lengths.
    var position: [StreamID: UInt64] = [:]
    var diagnostics: [Diagnostic] = []
    var violations: [String] = []
    /// Everything in order, for failure messages.
    var log: [String] = []
    /// The payload of the segment being processed, and how many `data` calls pointed into it (passed through)
    /// or elsewhere (copied and held first).
    var currentPayload: UnsafeRawBufferPointer? = nil
    var deliveredInPlace = 0
    var deliveredFromCopies = 0
    /// The packet being processed (`endFrame` at `finishAll`), the hold each connection last reported, where each
    /// stream's last event was placed, and the frame of every `data` call.
    var frame: UInt64 = 0
    var holds: [Int: UInt64] = [:]
    var lastPlaced: [StreamID: UInt64] = [:]
    var dataFrames: [StreamID: [UInt64]] = [:]

    mutating func holding(_ conn: Connection, from frame: UInt64?) {
        log.append("frame \(self.frame): #\(conn.id) holds from \(frame.map(String.init) ?? "nothing")")
        if holds[conn.id] == frame { violations.append("#\(conn.id): the same hold reported twice") }
        holds[conn.id] = frame
    }

    /// The placement contract: an event is placed at the packet at hand or, within the connection's reported hold,
    /// at an earlier one; a stream's events never go back in the timeline.
    private mutating func place(_ conn: Int, _ id: StreamID?, _ ctx: PacketContext, _ what: String) {
        if ctx.frame > frame {
            violations.append("\(what) of #\(conn) placed at \(ctx.frame), after the packet at hand")
        }
        if ctx.frame < frame, (holds[conn] ?? .max) > ctx.frame {
            violations.append(
                "\(what) of #\(conn) placed at \(ctx.frame), before its hold (\(holds[conn].map(String.init) ?? "none"))"
            )
        }
        if let id {
            if ctx.frame < lastPlaced[id, default: 0] {
                violations.append("\(what) of \(id) placed at \(ctx.frame), before its previous event")
            }
            lastPlaced[id] = ctx.frame
        }
    }

    mutating func opened(_ conn: Connection, at ctx: PacketContext) {
        log.append("frame \(ctx.frame): open #\(conn.id) \(conn.client.description) -> \(conn.server.description)")
        if opened[conn.id] != nil { violations.append("#\(conn.id) opened twice") }
        opened[conn.id] = ctx.frame
        connections[conn.id] = conn
    }

    mutating func data(_ conn: Connection, _ dir: Direction, _ bytes: UnsafeRawBufferPointer, at ctx: PacketContext) {
        let id = StreamID(conn: conn.id, dir: dir)
        let copy = Array(bytes)
        log.append("frame \(ctx.frame): data \(id) \(Piece.data(copy))")
        check(id, "data")
        place(conn.id, id, ctx, "data")
        dataFrames[id, default: []].append(ctx.frame)
        if copy.isEmpty { violations.append("\(id): empty data call at frame \(ctx.frame)") }
        if let payload = currentPayload, let base = payload.baseAddress, let start = bytes.baseAddress,
            start >= base, start + bytes.count <= base + payload.count
        {
            deliveredInPlace += 1
        } else {
            deliveredFromCopies += 1
        }
        append(.data(copy), to: id)
    }

    mutating func gap(_ conn: Connection, _ dir: Direction, length: UInt64, cause: GapCause, at ctx: PacketContext) {
        let id = StreamID(conn: conn.id, dir: dir)
        log.append("frame \(ctx.frame): gap \(id) \(length) \(cause)")
        check(id, "gap")
        place(conn.id, id, ctx, "gap")
        if length == 0 { violations.append("\(id): zero-length gap at frame \(ctx.frame)") }
        gaps[id, default: []].append(
            GapEvent(offset: position[id, default: 0], length: length, cause: cause, frame: ctx.frame))
        append(.gap(length, cause), to: id)
    }

    mutating func closed(_ conn: Connection, reason: CloseReason, at ctx: PacketContext) {
        log.append("frame \(ctx.frame): close #\(conn.id) \(reason.rawValue)")
        if opened[conn.id] == nil { violations.append("#\(conn.id) closed but never opened") }
        if closes[conn.id] != nil { violations.append("#\(conn.id) closed twice") }
        place(conn.id, nil, ctx, "close")
        for dir in Direction.allCases where ctx.frame < lastPlaced[StreamID(conn: conn.id, dir: dir), default: 0] {
            violations.append("#\(conn.id) closed at \(ctx.frame), before its last event")
        }
        closes[conn.id] = (reason, ctx.frame)
    }

    mutating func diagnostic(_ diagnostic: Diagnostic) {
        log.append(
            "frame \(diagnostic.frame.map(String.init) ?? "-"): \(diagnostic.code) #\(diagnostic.conn ?? 0) "
                + "\(diagnostic.dir?.name ?? "-"): \(diagnostic.message)")
        if let conn = diagnostic.conn, opened[conn] == nil {
            violations.append("\(diagnostic.code) for unknown #\(conn)")
        }
        diagnostics.append(diagnostic)
    }

    private mutating func check(_ id: StreamID, _ what: String) {
        if opened[id.conn] == nil { violations.append("\(what) for \(id) before it opened") }
        if closes[id.conn] != nil { violations.append("\(what) for \(id) after it closed") }
    }

    private mutating func append(_ piece: Piece, to id: StreamID) {
        position[id, default: 0] += piece.length
        pieces[id, default: []].appendMerging(piece)
    }

    /// Diagnostic codes of the TCP layer and how often each was raised.
    var tcpCodes: [String: Int] {
        diagnostics.filter { $0.kind.layer == "tcp" }.reduce(into: [:]) { $0[$1.code, default: 0] += 1 }
    }
}

// MARK: - Running a script

/// How a script's data segments are fed.
enum Feed: String, Sendable, CaseIterable, CustomTestStringConvertible {
    /// Each segment as written.
    case asGiven = "as given"
    /// Each data segment as 1-byte segments.
    case byteAtATime = "1-byte segments"
    var testDescription: String { rawValue }
}

/// What a script must produce.
struct Expect: Sendable {
    /// Every stream of every connection that opens; a stream not listed must stay empty. Each gap is one `gap`
    /// call as given (adjacent runs are merged before comparing the streams).
    var streams: [StreamID: [Piece]] = [:]
    /// How each connection closes (after `finishAll`, all do). Also says which connections must open.
    var closes: [Int: CloseReason] = [:]
    /// Exact counts of `tcp.*` diagnostics (codes not listed: none).
    var diagnostics: [String: Int] = [:]
    /// The counts when fed 1 byte at a time, where they legitimately differ.
    var diagnosticsByteAtATime: [String: Int]? = nil
    /// `retransmitted` per stream, where checked.
    var retransmitted: [StreamID: UInt64] = [:]
    /// Labels of the packets at which each gap of a stream is placed (as given only; "end" is `finishAll`).
    var gapsAt: [StreamID: [String]] = [:]
    /// Labels of the packets at which each `data` call of a stream is placed (as given only).
    var dataAt: [StreamID: [String]] = [:]
    /// Label of the packet at which each connection closes (as given only).
    var closeAt: [Int: String] = [:]
    /// The client end of each connection, as text.
    var clients: [Int: String] = [:]
    /// Whether each connection saw its handshake.
    var handshake: [Int: Bool] = [:]
}

/// A bug in the reassembler that a case exposes, reported and not yet fixed: the case's failures in `modes` are
/// recorded as known issues (and a fix makes the test fail until this is removed).
struct KnownIssue: Sendable {
    var bug: String
    var modes: Set<Feed> = Set(Feed.allCases)
}

/// A table row: tuples, reassembler settings, steps and what they must produce.
struct Case: Sendable, CustomTestStringConvertible {
    var name: String
    var tuples: [Tuple] = [.v4()]
    var limits = TCPReassembler.Limits()
    var anyPort = false
    var steps: [Step]
    var expect: Expect
    var knownIssue: KnownIssue? = nil
    var testDescription: String { name }
}

/// Runs and verifies a case in one feed, with its known issue, if any, marked as such.
func check(_ c: Case, _ mode: Feed) {
    if let known = c.knownIssue, known.modes.contains(mode) {
        withKnownIssue(Comment(rawValue: known.bug)) { verify(c, mode, run(c, mode)) }
    } else {
        verify(c, mode, run(c, mode))
    }
}

/// The result of running a case.
struct Outcome {
    var sink: RecordingSink
    var reassembler: TCPReassembler
    /// Frame numbers of labelled packets (the last 1-byte segment of a split packet), "end" for `finishAll`.
    var frames: [String: UInt64]
}

let endFrame = UInt64.max

/// Builds the segment for `p` and feeds it, with a payload buffer that lives only during `process` and is
/// scribbled over afterwards, so a reassembler that keeps the pointer delivers garbage.
func feed(_ p: Pkt, tuples: [Tuple], to reassembler: TCPReassembler, frame: UInt64, sink: inout RecordingSink) {
    let tuple = tuples[p.tuple]
    let (src, dst) = p.side == .client ? (tuple.client, tuple.server) : (tuple.server, tuple.client)
    let (own, peer) = p.side == .client ? (tuple.isnC, tuple.isnS) : (tuple.isnS, tuple.isnC)
    let seq = UInt32(truncatingIfNeeded: Int64(own) &+ 1 &+ p.rel)
    let ack = p.ackRel.map { UInt32(truncatingIfNeeded: Int64(peer) &+ 1 &+ $0) } ?? 0
    var flags = p.flags
    if p.ackRel != nil { flags.insert(.ack) }
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(p.bytes.count, 1), alignment: 1)
    defer {
        buffer.initializeMemory(as: UInt8.self, repeating: 0xEE)
        buffer.deallocate()
    }
    buffer.copyBytes(from: p.bytes)
    let payload = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<p.bytes.count])
    let segment = TCPSegment(
        src: src, dst: dst, seq: seq, ack: ack, flags: flags, payload: payload, payloadLength: p.wire ?? p.bytes.count)
    let ts = Timestamp(nanoseconds: (p.ms ?? 0) * 1_000_000)
    sink.currentPayload = payload
    sink.frame = frame
    reassembler.process(segment, at: PacketContext(ts: ts, frame: frame), sink: &sink)
    reassembler.afterPacket(at: PacketContext(ts: ts, frame: frame), sink: &sink)
    sink.currentPayload = nil
}

/// Runs a case's steps, checking the inline expectations (`buffered`, `tracked`) unless `inline` is false.
func run(_ c: Case, _ mode: Feed, inline: Bool = true) -> Outcome {
    let reassembler = TCPReassembler(serverPorts: [9092], anyPort: c.anyPort, limits: c.limits)
    var sink = RecordingSink()
    var frame: UInt64 = 0
    var ms: Int64 = 0
    var frames: [String: UInt64] = [:]
    for step in c.steps {
        switch step {
        case .pkt(var p):
            ms = p.ms ?? ms
            p.ms = ms
            for piece in mode == .asGiven ? [p] : splitIntoBytes(p) {
                frame += 1
                feed(piece, tuples: c.tuples, to: reassembler, frame: frame, sink: &sink)
            }
            if let label = p.label { frames[label] = frame }
        case .finishAll:
            frames["end"] = endFrame
            sink.frame = endFrame
            reassembler.finishAll(
                at: PacketContext(ts: Timestamp(nanoseconds: ms * 1_000_000), frame: endFrame), sink: &sink)
        case .buffered(let n):
            if inline { #expect(reassembler.buffered == n, "buffered after frame \(frame)") }
        case .tracked(let n):
            if inline { #expect(reassembler.connectionsTracked == n, "connections tracked after frame \(frame)") }
        }
    }
    return Outcome(sink: sink, reassembler: reassembler, frames: frames)
}

/// Checks an outcome against the case's expectations and the invariants every run must keep.
func verify(_ c: Case, _ mode: Feed, _ outcome: Outcome) {
    let sink = outcome.sink
    let e = c.expect
    let log = sink.log.joined(separator: "\n")
    #expect(sink.violations.isEmpty, "contract violations: \(sink.violations)\n\(log)")

    // Which connections opened, and how they closed.
    #expect(Set(sink.opened.keys) == Set(e.closes.keys), "connections opened\n\(log)")
    #expect(sink.closes.mapValues { $0.reason } == e.closes, "close reasons\n\(log)")
    if mode == .asGiven {
        for (conn, label) in e.closeAt {
            #expect(sink.closes[conn]?.frame == outcome.frames[label], "#\(conn) closes at \(label)\n\(log)")
        }
    }
    for (conn, client) in e.clients { #expect(sink.connections[conn]?.client.description == client) }
    for (conn, seen) in e.handshake { #expect(sink.connections[conn]?.handshakeSeen == seen) }

    // Streams: the bytes and gaps, and the counters that must agree with them.
    for conn in sink.connections.keys.sorted() {
        for dir in Direction.allCases {
            let id = StreamID(conn: conn, dir: dir)
            let expected = (e.streams[id] ?? []).merged
            let got = sink.pieces[id] ?? []
            #expect(got == expected, "\(id) stream\n\(log)")
            let half = sink.connections[conn]!.half(dir)
            var delivered: UInt64 = 0
            var missing: UInt64 = 0
            for piece in got {
                switch piece {
                case .data(let bytes): delivered += UInt64(bytes.count)
                case .gap(let n, _): missing += n
                }
            }
            #expect(half.delivered == delivered, "\(id) delivered counter")
            #expect(half.missing == missing, "\(id) missing counter")
            // delivered + missing is exactly how far the stream advanced, and what the table says it should be.
            #expect(half.delivered + half.missing == half.offset, "\(id) delivered + missing == offset")
            #expect(half.offset == expected.reduce(0) { $0 + $1.length }, "\(id) stream length")
            if let n = e.retransmitted[id] { #expect(half.retransmitted == n, "\(id) retransmitted") }
        }
    }
    #expect(Set(sink.pieces.keys).isSubset(of: Set(sink.connections.keys.flatMap { [StreamID.c2s($0), .s2c($0)] })))

    // Gaps as given: one call per expected gap, at the right offset (and packet, where the table says).
    if mode == .asGiven {
        for (id, pieces) in e.streams {
            var offset: UInt64 = 0
            var want: [(UInt64, UInt64, GapCause)] = []
            for piece in pieces {
                if case .gap(let n, let cause) = piece { want.append((offset, n, cause)) }
                offset += piece.length
            }
            let got = sink.gaps[id] ?? []
            #expect(
                got.map { "\($0.offset)+\($0.length) \($0.cause)" } == want.map { "\($0.0)+\($0.1) \($0.2)" },
                "\(id) gap calls\n\(log)")
            if let labels = e.dataAt[id] {
                #expect(
                    sink.dataFrames[id] ?? [] == labels.map { outcome.frames[$0] ?? 0 },
                    "\(id) data placed at \(labels)\n\(log)")
            }
            if let labels = e.gapsAt[id] {
                #expect(
                    got.map(\.frame) == labels.map { outcome.frames[$0] ?? 0 },
                    "\(id) gaps declared at \(labels)\n\(log)")
            }
        }
    }

    // Each gap diagnostic stands for one gap call of the same stream at the same packet, and names its offset.
    for d in sink.diagnostics where d.code == "tcp.gap" || d.code == "tcp.buffer_limit" {
        guard let conn = d.conn, let dir = d.dir else {
            Issue.record("\(d.code) without conn or dir: \(d.message)")
            continue
        }
        let matching = (sink.gaps[StreamID(conn: conn, dir: dir)] ?? []).filter {
            $0.frame == d.frame && d.message.hasPrefix("\($0.length) bytes missing at stream offset \($0.offset)")
        }
        #expect(matching.count == 1, "\(d.code) at frame \(d.frame ?? 0): \(d.message)\n\(log)")
    }

    // Diagnostics of this layer, exactly.
    let wanted = mode == .byteAtATime ? (e.diagnosticsByteAtATime ?? e.diagnostics) : e.diagnostics
    #expect(sink.tcpCodes == wanted, "tcp diagnostics\n\(log)")

    // Nothing is left behind once the capture ended.
    if c.steps.contains(where: \.isFinishAll) {
        #expect(outcome.reassembler.buffered == 0, "buffered after finishAll")
        #expect(outcome.reassembler.connectionsTracked == 0, "tracked after finishAll")
    }
}
