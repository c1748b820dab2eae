import Capture
import Foundation
import ImscopeCore
import Jobs
import Pipeline
import Records
import Rendering
import Testing

/// The repository's root, found from this file's path (tests read Captures/, Docs/ and Golden/ in place).
let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The renderer for `format` (text, jsonl or json) writing into `out`.
func makeRenderer(_ format: String, _ out: OutputBuffer, fold: Bool = false, array: Bool? = nil) -> RecordSink {
    format == "text"
        ? TextRenderer(out: out, color: false, fold: fold)
        : JSONLRenderer(out: out, array: array ?? (format == "json"))
}

/// Runs the pipeline over `source` and returns the rendered output (through `recordFilter` when given).
func render(
    _ source: PacketSource, format: String = "jsonl", options: PipelineOptions = PipelineOptions(), fold: Bool = false,
    recordFilter: RecordFilter? = nil
) throws -> String {
    let out = OutputBuffer(fd: -1)
    var renderer = makeRenderer(format, out, fold: fold)
    if let recordFilter { renderer = FilteringSink(filter: recordFilter, next: renderer) }
    let pipeline = try Pipeline(options: options, records: renderer)
    pipeline.run(source)
    return String(decoding: out.bytes, as: UTF8.self)
}

/// Runs the pipeline over `files` and returns the rendered output (through `recordFilter` when given).
func render(
    _ files: [String], format: String = "jsonl", options: PipelineOptions = PipelineOptions(), filter: String? = nil,
    fold: Bool = false, recordFilter: RecordFilter? = nil
) throws -> String {
    try render(
        PacketSource(files: files, filter: filter), format: format, options: options, fold: fold,
        recordFilter: recordFilter)
}

/// The same with `jobs` threads (``runSharded(source:options:jobs:framing:out:makeRenderer:)``).
func renderSharded(
    _ source: PacketSource, jobs: Int, format: String = "jsonl", options: PipelineOptions, fold: Bool = false,
    recordFilter: RecordFilter? = nil
) throws -> String {
    let out = OutputBuffer(fd: -1)
    _ = try runSharded(
        source: source, options: options, jobs: jobs, framing: RecordFraming(array: format == "json"), out: out,
        makeRenderer: { buffer in
            let renderer = makeRenderer(format, buffer, fold: fold, array: false)
            return recordFilter.map { FilteringSink(filter: $0, next: renderer) } ?? renderer
        })
    return String(decoding: out.bytes, as: UTF8.self)
}

/// Keeps every record it is given.
final class RecordCollector: OwnedRecordSink {
    var origin: Timestamp? = nil
    var records: [OwnedRecord] = []
    var finished = 0

    func begin(origin: Timestamp) { self.origin = origin }
    func emit(_ record: OwnedRecord) { records.append(record) }
    func finish() { finished += 1 }

    /// The records rendered by one renderer, as the pipeline would have rendered them.
    func rendered(_ format: String = "jsonl", fold: Bool = false) -> String {
        let out = OutputBuffer(fd: -1)
        let renderer = makeRenderer(format, out, fold: fold)
        if let origin { renderer.begin(origin: origin) }
        for record in records { record.withRecord { renderer.emit($0) } }
        renderer.finish()
        return String(decoding: out.bytes, as: UTF8.self)
    }
}

/// Where `actual` first differs from the golden file `name` (nil when it matches), or writes the file when
/// IMSCOPE_RECORD=1.
func goldenDifference(_ actual: String, _ name: String) throws -> String? {
    let url = repoRoot.appendingPathComponent("Tests/PipelineTests/Golden/\(name)")
    if ProcessInfo.processInfo.environment["IMSCOPE_RECORD"] == "1" {
        try actual.write(to: url, atomically: true, encoding: .utf8)
        return nil
    }
    guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
        return "Golden/\(name) is missing (record it with IMSCOPE_RECORD=1)"
    }
    return firstDifference(expected: expected, actual: actual, name: "Golden/\(name)")
}

/// The first line where `actual` differs from `expected`, both shown; nil when they are equal.
func firstDifference(expected: String, actual: String, name: String) -> String? {
    if expected == actual { return nil }
    let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
    let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
    let line = (0..<min(e.count, a.count)).first { e[$0] != a[$0] } ?? min(e.count, a.count)
    func shown(_ lines: [Substring]) -> String { line < lines.count ? String(lines[line]) : "(no line: output ends)" }
    return "\(name) differs at line \(line + 1) (\(e.count) lines expected, \(a.count) got)\n"
        + "  expected: \(shown(e))\n  actual:   \(shown(a))"
}

/// Records an issue for a difference `firstDifference` or `goldenDifference` found.
func expectSame(_ difference: String?, sourceLocation: SourceLocation = #_sourceLocation) {
    if let difference { Issue.record(Comment(rawValue: difference), sourceLocation: sourceLocation) }
}

/// The bundled captures.
func bundledCaptures() -> [String] {
    let dir = repoRoot.appendingPathComponent("Captures")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
    return names.filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.sorted()
}

/// The public captures of other projects in shared/outside (see its README), when they are there.
func outsideCapture(_ name: String) -> String? {
    let path = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/outside/\(name)").path
    return FileManager.default.fileExists(atPath: path) ? path : nil
}

/// TCP connections written as one classic pcap (raw IPv4, LINKTYPE_RAW, microseconds), packet by packet at the
/// times given: enough to lay out Engine.IO long polling across connections in any capture order, or one
/// conversation with segments lost (``TCPScript``).
struct PcapBuilder {
    struct Conn {
        var client: [UInt8]
        var port: UInt16
        var serverPort: UInt16 = 9092
        var seq: [Direction: UInt32] = [.c2s: 1000, .s2c: 5000]
    }
    var conns: [Conn] = []
    var packets: [(ts: Int64, bytes: [UInt8])] = []

    /// A new connection from `client` (its last byte) and `port` to 10.0.0.2:9092, its handshake at `ts`
    /// (nanoseconds; the next two packets 1 µs apart).
    mutating func open(client: UInt8, port: UInt16, serverPort: UInt16 = 9092, at ts: Int64) -> Int {
        let c = add(client: client, port: port, serverPort: serverPort)
        packet(c, .c2s, flags: 0x02, at: ts)
        conns[c].seq[.c2s]! &+= 1
        packet(c, .s2c, flags: 0x12, at: ts + 1000)
        conns[c].seq[.s2c]! &+= 1
        packet(c, .c2s, flags: 0x10, at: ts + 2000)
        return c
    }

    /// A connection from `client` (its last byte) and `port` to 10.0.0.2:`serverPort`, no packet of it yet (its
    /// handshake, if any, is the caller's).
    mutating func add(client: UInt8, port: UInt16, serverPort: UInt16 = 9092) -> Int {
        conns.append(Conn(client: [10, 0, 0, client], port: port, serverPort: serverPort))
        return conns.count - 1
    }

    /// `bytes` from one side of connection `c`, in one segment at `ts`.
    mutating func send(_ c: Int, _ dir: Direction, _ bytes: [UInt8], at ts: Int64) {
        packet(c, dir, flags: 0x18, bytes, at: ts)
        conns[c].seq[dir]! &+= UInt32(bytes.count)
    }

    /// A segment without payload (the peer acknowledging) at `ts`.
    mutating func ack(_ c: Int, _ dir: Direction, at ts: Int64) { packet(c, dir, flags: 0x10, at: ts) }

    mutating func packet(_ c: Int, _ dir: Direction, flags: UInt8, _ payload: [UInt8] = [], at ts: Int64) {
        let conn = conns[c]
        let server: [UInt8] = [10, 0, 0, 2]
        let (src, dst) = dir == .c2s ? (conn.client, server) : (server, conn.client)
        let (sport, dport) = dir == .c2s ? (conn.port, conn.serverPort) : (conn.serverPort, conn.port)
        let total = 40 + payload.count
        var p: [UInt8] = [0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), 0, 0, 0x40, 0, 64, 6, 0, 0] + src + dst
        func be16(_ v: UInt16) { p += [UInt8(v >> 8), UInt8(v & 0xFF)] }
        func be32(_ v: UInt32) { for k in (0..<4).reversed() { p.append(UInt8(truncatingIfNeeded: v >> (8 * k))) } }
        be16(sport)
        be16(dport)
        be32(conn.seq[dir]!)
        be32(flags & 0x10 != 0 ? conn.seq[dir == .c2s ? .s2c : .c2s]! : 0)
        p += [0x50, flags, 0xFF, 0xFF, 0, 0, 0, 0]
        packets.append((ts, p + payload))
    }

    func pcap() -> [UInt8] {
        var out: [UInt8] = []
        func le32(_ v: UInt32) { for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(k)))) } }
        le32(0xA1B2_C3D4)
        out += [2, 0, 4, 0]
        le32(0)
        le32(0)
        le32(65535)
        le32(101)
        for (ts, p) in packets {
            le32(UInt32(ts / 1_000_000_000))
            le32(UInt32(ts % 1_000_000_000 / 1000))
            le32(UInt32(p.count))
            le32(UInt32(p.count))
            out += p
        }
        return out
    }
}
