import Capture
import IMProtocol
import ImscopeCore
import Pipeline
import Records
import Rendering
import Testing

// MARK: - Records to filter: the bundled captures, decoded to the `im` layer and kept

/// Keeps every record it is given, and what it was told of the run.
final class OwnedRecordCollector: OwnedRecordSink {
    var origin: Timestamp? = nil
    var records: [OwnedRecord] = []
    var finished = false

    func begin(origin: Timestamp) { self.origin = origin }
    func emit(_ record: OwnedRecord) { records.append(record) }
    func finish() { finished = true }
}

/// Decodes a bundled capture to the `im` layer with the shipped tables (as the golden tests do); with `filter`, the
/// records go through a ``FilteringSink`` first.
func decodeCapture(_ capture: String, filter: RecordFilter? = nil) throws -> OwnedRecordCollector {
    var options = PipelineOptions()
    options.layer = .im
    options.im = IMDecoder(table: try MessageTypeTable.builtin("v2"), others: [try MessageTypeTable.builtin("v1")])
    let collector = OwnedRecordCollector()
    var sink: RecordSink = OwningSink(collector)
    if let filter { sink = FilteringSink(filter: filter, next: sink) }
    let pipeline = try Pipeline(options: options, records: sink)
    pipeline.run(try PacketSource(files: [repoRoot.appendingPathComponent("Captures/\(capture)").path], filter: nil))
    return collector
}

/// What the filter keys look at in a record, read from the owned record (not through the filter), for the tables'
/// rules: the documented meaning of each key, restated.
struct RecordFacts {
    var kind: String
    var frame: UInt64?
    var conn: Int?
    var dir: String?
    var sid: String?
    var event: String?
    var messageType: Int?
    var fromId: String?
    var destId: String?
    /// Nanoseconds since the capture's first packet.
    var sinceOrigin: Int64?
    var epochNanoseconds: Int64?

    init(_ r: OwnedRecord, origin: Timestamp) {
        kind = r.kind
        frame = r.frame
        conn = r.conn
        dir = r.dir?.name
        switch r.body {
        case .eio(let e, _): sid = e.sid
        case .sio(let s, _): sid = s.sid
        default: sid = nil
        }
        event = r.eventName
        messageType = r.im?.messageType
        fromId = r.imText(\.fromId)
        destId = r.imText(\.destId)
        sinceOrigin = r.ts.map { $0.nanoseconds - origin.nanoseconds }
        epochNanoseconds = r.ts?.nanoseconds
    }

    /// `user`: either side of the ImMessage.
    func user(_ ids: Set<String>) -> Bool { fromId.map(ids.contains) == true || destId.map(ids.contains) == true }
}

/// The capture most cases filter: two websocket sessions, 80 records (its golden JSONL has 80 lines). Frames and
/// times below are read from Tests/PipelineTests/Golden/eio4-websocket-lo.pcap.im.jsonl.
let websocketCapture = "eio4-websocket-lo.pcap"
let sid1 = "l-O6-VvSSFTDQ-SpAAAA"
let sid2 = "bEpfaF8b8ttglDytAAAD"

/// A table row: `--filter` specs, the capture, how many records pass (counted independently from the capture's
/// golden JSONL), optionally exactly which frames, and the rule a record passes by (the documented meaning,
/// restated over ``RecordFacts``), checked record by record.
struct FilterCase: Sendable, CustomTestStringConvertible {
    var specs: [String]
    var capture = websocketCapture
    var count: Int
    var frames: [UInt64]? = nil
    var rule: @Sendable (RecordFacts) -> Bool
    var testDescription: String { specs.map { "--filter \($0)" }.joined(separator: " ") + " on \(capture)" }
}

// MARK: - The keys of the user guide, alone and combined

@Suite struct RecordFilterTests {
    static let ms: Int64 = 1_000_000

    static let cases: [FilterCase] = [
        // conn
        FilterCase(specs: ["conn=1"], count: 42, rule: { $0.conn == 1 }),
        FilterCase(specs: ["conn=#2"], count: 38, rule: { $0.conn == 2 }),
        FilterCase(specs: ["conn=1,2"], count: 80, rule: { $0.conn != nil }),
        FilterCase(specs: ["conn=3"], count: 0, rule: { _ in false }),
        FilterCase(specs: ["conn=1,2", "conn=2"], count: 38, rule: { $0.conn == 2 }),
        FilterCase(specs: ["conn=2", "conn=1,2"], count: 38, rule: { $0.conn == 2 }),
        FilterCase(specs: ["conn=1", "conn=2"], count: 0, rule: { _ in false }),
        // dir: conn records have no direction
        FilterCase(specs: ["dir=c2s"], count: 34, rule: { $0.dir == "c2s" }),
        FilterCase(specs: ["dir=s2c"], count: 40, rule: { $0.dir == "s2c" }),
        FilterCase(specs: ["dir=c2s,s2c"], count: 74, rule: { $0.dir != nil }),
        FilterCase(
            specs: ["kind=diagnostic", "dir=c2s"], capture: "eio4-midstream-lo.pcap", count: 3, frames: [1, 77, 169],
            rule: { $0.kind == "diagnostic" && $0.dir == "c2s" }),
        // user: fromId or destId of an ImMessage
        FilterCase(specs: ["user=u1"], count: 27, rule: { $0.user(["u1"]) }),
        FilterCase(specs: ["user=u9"], count: 2, frames: [63, 156], rule: { $0.user(["u9"]) }),
        FilterCase(specs: ["user=room-42"], count: 4, frames: [62, 63, 155, 156], rule: { $0.user(["room-42"]) }),
        FilterCase(specs: ["user=u1,u9"], count: 29, rule: { $0.user(["u1", "u9"]) }),
        FilterCase(specs: ["user=system"], count: 4, frames: [79, 81, 173, 174], rule: { $0.user(["system"]) }),
        // type: numbers or typeNames of the table (v2 here)
        FilterCase(specs: ["type=2"], count: 12, rule: { $0.messageType == 2 }),
        FilterCase(specs: ["type=text"], count: 12, rule: { $0.messageType == 2 }),
        FilterCase(specs: ["type=text,4"], count: 16, rule: { $0.messageType == 2 || $0.messageType == 4 }),
        FilterCase(
            specs: ["type=offline-voice,102"], count: 6, rule: { $0.messageType == 16 || $0.messageType == 102 }),
        FilterCase(
            specs: ["type=system-notice"], count: 4, frames: [79, 81, 173, 174], rule: { $0.messageType == 68 }),
        FilterCase(specs: ["type=999"], count: 0, rule: { _ in false }),
        // event: Socket.IO event names
        FilterCase(specs: ["event=chat"], count: 28, rule: { $0.event == "chat" }),
        FilterCase(
            specs: ["event=attachment"], count: 4, frames: [68, 73, 161, 166], rule: { $0.event == "attachment" }),
        FilterCase(specs: ["event=chat,chatroom"], count: 32, rule: { $0.event == "chat" || $0.event == "chatroom" }),
        FilterCase(specs: ["event=nosuch"], count: 0, rule: { _ in false }),
        // sid: eio and sio records of the session (http, ws, conn records carry none)
        FilterCase(specs: ["sid=\(sid1)"], count: 33, rule: { $0.sid == sid1 }),
        FilterCase(specs: ["sid=\(sid1),\(sid2)"], count: 63, rule: { $0.sid != nil }),
        FilterCase(
            specs: ["sid=lKi82MRZD56mkmDbAAAD"], capture: "eio4-midstream-lo.pcap", count: 33,
            rule: { $0.sid == "lKi82MRZD56mkmDbAAAD" }),
        // A polling session spans connections.
        FilterCase(
            specs: ["sid=kA-AYUnGXcUIwEl5AAAA"], capture: "eio4-polling-upgrade-any.pcapng", count: 33,
            rule: { $0.sid == "kA-AYUnGXcUIwEl5AAAA" }),
        FilterCase(
            specs: ["sid=kA-AYUnGXcUIwEl5AAAA", "conn=2"], capture: "eio4-polling-upgrade-any.pcapng", count: 10,
            rule: { $0.sid == "kA-AYUnGXcUIwEl5AAAA" && $0.conn == 2 }),
        // kind
        FilterCase(specs: ["kind=sio"], count: 60, rule: { $0.kind == "sio" }),
        FilterCase(specs: ["kind=conn,http"], count: 10, rule: { $0.kind == "conn" || $0.kind == "http" }),
        FilterCase(specs: ["kind=ws"], count: 6, frames: [84, 89, 90, 177, 178, 180], rule: { $0.kind == "ws" }),
        // The client's Socket.IO disconnect after its WebSocket close (ws.frame_after_close).
        FilterCase(specs: ["kind=diagnostic"], count: 1, frames: [85], rule: { $0.kind == "diagnostic" }),
        FilterCase(
            specs: ["kind=sio,diagnostic"], capture: "eio4-midstream-lo.pcap", count: 64,
            rule: { $0.kind == "sio" || $0.kind == "diagnostic" }),
        FilterCase(specs: ["kind=bogus"], count: 0, rule: { _ in false }),
        // time: seconds since the first packet, both ends included; over 10^9 epoch seconds
        FilterCase(specs: ["time=0.1.."], count: 46, rule: { $0.sinceOrigin! >= 100 * ms }),
        FilterCase(specs: ["time=..0.1"], count: 34, rule: { $0.sinceOrigin! <= 100 * ms }),
        FilterCase(specs: ["time=0.1..0.5"], count: 8, rule: { (100 * ms...500 * ms).contains($0.sinceOrigin!) }),
        FilterCase(specs: ["time=.."], count: 80, rule: { _ in true }),
        // Frame 6 (an HTTP response and the upgrade it makes) is 1.228 ms after the first packet, exactly.
        FilterCase(
            specs: ["time=0.001228..0.001228"], count: 2, frames: [6, 6], rule: { $0.sinceOrigin == 1_228_000 }),
        FilterCase(
            specs: ["time=1795298725.95..1795298725.96"], count: 7, frames: [68, 73, 74, 78, 79, 81, 82],
            rule: { (1_795_298_725_950 * ms...1_795_298_725_960 * ms).contains($0.epochNanoseconds!) }),
        // One end relative, the other epoch.
        FilterCase(
            specs: ["time=0.2..1795298726.47"], count: 17,
            rule: { $0.sinceOrigin! >= 200 * ms && $0.epochNanoseconds! <= 1_795_298_726_470 * ms }),
        // Different keys: ANDed.
        FilterCase(
            specs: ["conn=1", "dir=c2s", "kind=sio"], count: 14,
            rule: { $0.conn == 1 && $0.dir == "c2s" && $0.kind == "sio" }),
        FilterCase(specs: ["user=u1", "type=text"], count: 12, rule: { $0.user(["u1"]) && $0.messageType == 2 }),
        FilterCase(
            specs: ["user=u1", "type=text", "event=chat", "dir=s2c", "conn=2"], count: 3, frames: [108, 150, 154],
            rule: {
                $0.user(["u1"]) && $0.messageType == 2 && $0.event == "chat" && $0.dir == "s2c" && $0.conn == 2
            }),
        // The same key given again: ANDed, as the user guide says ("give it several times to AND them"). (Until
        // these cases were written only conn did so; for every other key the last one replaced the earlier ones.)
        FilterCase(
            specs: ["dir=c2s", "dir=s2c"], count: 0, rule: { _ in false }),
        FilterCase(
            specs: ["user=u1", "user=u2"], count: 24, rule: { $0.user(["u1"]) && $0.user(["u2"]) }),
        FilterCase(
            specs: ["type=text,4", "type=4,16"], count: 4, frames: [20, 21, 113, 114], rule: { $0.messageType == 4 }),
        FilterCase(
            specs: ["event=chat,chatroom", "event=chatroom,attachment"], count: 4, rule: { $0.event == "chatroom" }),
        FilterCase(
            specs: ["sid=\(sid1)", "sid=\(sid2)"], count: 0, rule: { _ in false }),
        FilterCase(
            specs: ["kind=sio,eio", "kind=eio,ws"], count: 3, frames: [8, 87, 99], rule: { $0.kind == "eio" }),
        FilterCase(
            specs: ["time=0.1..", "time=..0.5"], count: 8, rule: { (100 * ms...500 * ms).contains($0.sinceOrigin!) }),
    ]

    /// Each case over the records decoded and kept, through `accepts(_:origin:)`: the count, the frames when given,
    /// and record by record the rule.
    @Test(arguments: cases)
    func filter(_ c: FilterCase) throws {
        let decoded = try decodeCapture(c.capture)
        let origin = try #require(decoded.origin)
        let filter = try RecordFilter.parse(c.specs, table: try MessageTypeTable.builtin("v2"))
        #expect(!filter.isEmpty)
        var passed: [UInt64] = []
        var wrong: [String] = []
        for record in decoded.records {
            let accepted = record.withRecord { filter.accepts($0, origin: origin) }
            if accepted { passed.append(record.frame ?? 0) }
            if accepted != c.rule(RecordFacts(record, origin: origin)) {
                wrong.append("\(record.kind) at frame \(record.frame ?? 0) \(accepted ? "passed" : "failed")")
            }
        }
        #expect(passed.count == c.count)
        if let frames = c.frames { #expect(passed == frames) }
        #expect(wrong.isEmpty, "records that do not follow the key's meaning")
    }

    /// The captures' record counts (the lines of their golden JSONL): the tables' counts are out of these.
    @Test(arguments: [(websocketCapture, 80), ("eio4-midstream-lo.pcap", 80), ("eio4-polling-upgrade-any.pcapng", 134)])
    func recordsDecoded(capture: String, count: Int) throws {
        let decoded = try decodeCapture(capture)
        #expect(decoded.records.count == count)
        #expect(RecordFilter().isEmpty)
        #expect(decoded.records.allSatisfy { r in r.withRecord { RecordFilter().accepts($0, origin: decoded.origin) } })
    }

    /// In the pipeline: a ``FilteringSink`` passes on what `accepts` accepts, in order, with the origin it was told
    /// (the `time` bounds are relative to it), and passes `begin` and `finish` on.
    @Test(arguments: [
        ["time=0.1..0.5"], ["user=u9"], ["kind=sio", "dir=s2c", "time=0.5.."], ["conn=2", "type=68"],
    ])
    func filteringSink(specs: [String]) throws {
        let filter = try RecordFilter.parse(specs, table: try MessageTypeTable.builtin("v2"))
        let all = try decodeCapture(websocketCapture)
        let origin = try #require(all.origin)
        let expected = all.records.filter { r in r.withRecord { filter.accepts($0, origin: origin) } }
        let filtered = try decodeCapture(websocketCapture, filter: filter)
        #expect(filtered.origin == origin)
        #expect(filtered.finished)
        #expect(!filtered.records.isEmpty)
        #expect(filtered.records.map(\.frame) == expected.map(\.frame))
        #expect(filtered.records.map(\.kind) == expected.map(\.kind))
    }

    /// Through a renderer, as `imscope read --filter` runs: only the matching lines are written.
    @Test func renderedThroughTheFilter() throws {
        let filter = try RecordFilter.parse(["user=u9"], table: try MessageTypeTable.builtin("v2"))
        let options = try {
            var o = PipelineOptions()
            o.layer = .im
            o.im = IMDecoder(table: try MessageTypeTable.builtin("v2"), others: [try MessageTypeTable.builtin("v1")])
            return o
        }()
        let output = try render(
            [repoRoot.appendingPathComponent("Captures/\(websocketCapture)").path], options: options,
            recordFilter: filter)
        let lines = output.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.allSatisfy { $0.contains(#""fromId":"u9""#) && $0.contains(#""event":"chatroom""#) })
    }

    /// A record without the field a filter looks at never passes it (a diagnostic raised with no place).
    @Test func recordWithoutTheField() throws {
        let kind = DiagnosticKind("test.nowhere", .info, "A diagnostic with no time, connection or direction.")
        let record = Record(Diagnostic(kind, "nowhere"))
        let table = try MessageTypeTable.builtin("v2")
        let specs = ["conn=1", "dir=c2s", "dir=s2c", "time=..", "sid=x", "user=u1", "type=2", "event=chat", "kind=sio"]
        for spec in specs {
            let filter = try RecordFilter.parse([spec], table: table)
            #expect(!filter.accepts(record, origin: Timestamp(nanoseconds: 0)), "\(spec)")
        }
        #expect(try RecordFilter.parse(["kind=diagnostic"], table: table).accepts(record, origin: nil))
        #expect(RecordFilter().accepts(record, origin: nil))
    }

    /// With no origin, `time` bounds are compared with epoch seconds, whatever their size: the records of a
    /// capture are all more than 10⁹ s after 1970.
    @Test func timeWithoutOrigin() throws {
        let decoded = try decodeCapture(websocketCapture)
        func count(_ spec: String) throws -> Int {
            let filter = try RecordFilter.parse([spec], table: nil)
            return decoded.records.filter { r in r.withRecord { filter.accepts($0, origin: nil) } }.count
        }
        #expect(try count("time=..0.1") == 0)
        #expect(try count("time=0.1..") == 80)
        #expect(try count("time=1795298725.95..1795298725.96") == 7)
    }
}

// MARK: - Parsing

@Suite struct RecordFilterParseTests {
    static let keys = "conn, dir, user, type, event, sid, kind, time"

    /// Bad specs and the error each gets, word for word; the table is v2 unless `withTable` is false.
    @Test(arguments: [
        (["conn"], true, "filter \"conn\" is not KEY=VALUE with KEY one of \(keys)"),
        (["nosuch=1"], true, "filter \"nosuch=1\" is not KEY=VALUE with KEY one of \(keys)"),
        (["CONN=1"], true, "filter \"CONN=1\" is not KEY=VALUE with KEY one of \(keys)"),
        ([" conn=1"], true, "filter \" conn=1\" is not KEY=VALUE with KEY one of \(keys)"),
        // An empty value, or an empty key, leaves one part after the split on "=": the same message as no "=".
        (["conn="], true, "filter \"conn=\" is not KEY=VALUE with KEY one of \(keys)"),
        (["=1"], true, "filter \"=1\" is not KEY=VALUE with KEY one of \(keys)"),
        (["user="], true, "filter \"user=\" is not KEY=VALUE with KEY one of \(keys)"),
        (["conn=,"], true, "filter \"conn=,\" has no value"),
        (["time=,,"], true, "filter \"time=,,\" has no value"),
        (["conn=x"], true, "conn=x: not a connection number"),
        (["conn=1,x"], true, "conn=x: not a connection number"),
        (["conn=1=2"], true, "conn=1=2: not a connection number"),
        (["conn=##1"], true, "conn=##1: not a connection number"),
        (["dir=up"], true, "dir=up: use c2s or s2c"),
        (["dir=c2s,S2C"], true, "dir=S2C: use c2s or s2c"),
        (["type=nosuch"], true, "type=nosuch: not a messageType number or a typeName of the table"),
        (["type=text"], false, "type=text: not a messageType number or a typeName of the table"),
        (["type=2,nosuch"], true, "type=nosuch: not a messageType number or a typeName of the table"),
        (["time=5"], true, "time=5: use FROM..TO"),
        (["time=1..2..3"], true, "time=1..2..3: use FROM..TO"),
        (["time=a..b"], true, "time=a..b: FROM and TO are seconds"),
        (["time=1..x"], true, "time=1..x: FROM and TO are seconds"),
        (["time=1,2..3"], true, "time=1,2..3: FROM and TO are seconds"),
        // The first bad spec is reported, after good ones.
        (["conn=1", "dir=c2s", "dir=sideways", "conn=y"], true, "dir=sideways: use c2s or s2c"),
    ])
    func badSpec(specs: [String], withTable: Bool, message: String) throws {
        let table = withTable ? try MessageTypeTable.builtin("v2") : nil
        do {
            let filter = try RecordFilter.parse(specs, table: table)
            Issue.record("accepted \(specs): \(filter)")
        } catch {
            #expect(error.description == message)
        }
    }

    /// Specs that parse (what they keep is tested on records above).
    @Test(arguments: [
        [] as [String], ["conn=#3"], ["conn=3,"], ["event=a,,b"], ["dir=c2s,c2s"], ["type=-1"], ["type=2"],
        ["kind=anything"], ["time=.."], ["time=-1..1e3"], ["time=1.5..0.5"], ["user=a=b"], ["sid=x", "sid=y"],
    ])
    func goodSpec(specs: [String]) throws {
        let filter = try RecordFilter.parse(specs, table: nil)
        #expect(filter.isEmpty == specs.isEmpty)
    }
}
