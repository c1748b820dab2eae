import Capture
import Foundation
import ImscopeCore
import Pipeline
import Records
import Testing

/// Engine.IO 4 long polling of session `sid`.
enum Polling {
    static func get(sid: String?) -> [UInt8] {
        Array(
            "GET /socket.io/?EIO=4&transport=polling\(sid.map { "&sid=\($0)" } ?? "") HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
    }
    static func post(sid: String, _ body: String) -> [UInt8] {
        Array(
            ("POST /socket.io/?EIO=4&transport=polling&sid=\(sid) HTTP/1.1\r\nHost: x\r\n"
                + "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)").utf8)
    }
    static func ok(_ body: String) -> [UInt8] {
        Array(
            ("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
                + body).utf8)
    }
    static func handshake(_ sid: String) -> String {
        #"0{"sid":"\#(sid)","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
    }
}

/// Records the pipeline hands on, with the frame of the packet being read when each went out.
final class WhenSink: RecordSink {
    var reading: UInt64 = 0
    var seen: [(what: String, frame: UInt64?, reading: UInt64)] = []

    func emit(_ record: Record) {
        let what: String
        switch record.body {
        case .diagnostic(let d): what = d.kind.code
        case .sio(let s): what = "sio \(s.message.packet.type.name)"
        case .conn(let c): what = "conn \(c.event.name) \(record.conn ?? 0)"
        default: what = record.kind
        }
        seen.append((what, record.frame, reading))
    }
    func finish() {}
}

/// An ACK captured before the request it answers (Docs/user-guide.md, "Acknowledgements"): in long polling the
/// response carrying it on one connection can be captured before the POST carrying the request on another. It is
/// held for the reorder window, paired once the request comes, and placed at its own packet: the timeline stays in
/// frame order, on one thread and with `--jobs`.
@Suite struct AckReorderTests {
    static let sid = "S1"
    static let ms: Int64 = 1_000_000
    static let s: Int64 = 1_000_000_000

    /// One session over two polling connections: the handshake, then a long poll (connection 1) answered with an
    /// ACK for id 1 at `ackAt`, then the POST (connection 2) carrying request 1 at `requestAt`, each answered.
    static func swapped(ackAt: Int64, requestAt: Int64) -> [UInt8] {
        var b = PcapBuilder()
        let c1 = b.open(client: 1, port: 40001, at: 1 * s)
        b.send(c1, .c2s, Polling.get(sid: nil), at: 1 * s + 10 * ms)
        b.send(c1, .s2c, Polling.ok(Polling.handshake(sid)), at: 1 * s + 11 * ms)
        b.send(c1, .c2s, Polling.get(sid: sid), at: 1 * s + 12 * ms)
        let c2 = b.open(client: 1, port: 40002, at: 1 * s + 13 * ms)
        b.send(c1, .s2c, Polling.ok(#"431["ok"]"#), at: ackAt)
        b.send(c2, .c2s, Polling.post(sid: sid, #"421["send","hi"]"#), at: requestAt)
        b.send(c2, .s2c, Polling.ok("ok"), at: requestAt + 1 * ms)
        return b.pcap()
    }

    static func records(_ pcap: [UInt8], _ options: PipelineOptions = PipelineOptions()) throws -> [[String: Any]] {
        try lines(render(PacketSource(capture: pcap, name: "swapped.pcap"), options: options))
    }

    static func lines(_ output: String) throws -> [[String: Any]] {
        try output.split(separator: "\n").map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    static func sio(_ records: [[String: Any]]) -> [[String: Any]] { records.filter { $0["kind"] as? String == "sio" } }

    static func codes(_ records: [[String: Any]]) -> [String] {
        records.compactMap { $0["kind"] as? String == "diagnostic" ? $0["code"] as? String : nil }
    }

    /// Every record with a frame comes at or after the one before it.
    static func inFrameOrder(_ records: [[String: Any]]) -> Bool {
        let frames = records.compactMap { $0["frame"] as? Int }
        return zip(frames, frames.dropFirst()).allSatisfy { $0 <= $1 }
    }

    static func sameWithJobs(_ pcap: [UInt8], _ options: PipelineOptions = PipelineOptions()) throws {
        let one = try render(PacketSource(capture: pcap, name: "swapped.pcap"), options: options)
        for jobs in [2, 3] {
            let sharded = try renderSharded(
                PacketSource(capture: pcap, name: "swapped.pcap"), jobs: jobs, options: options)
            #expect(sharded == one, "--jobs \(jobs)")
        }
    }

    @Test func ackBeforeItsRequestIsPairedInFrameOrder() throws {
        let pcap = Self.swapped(ackAt: 1 * Self.s + 20 * Self.ms, requestAt: 1 * Self.s + 22 * Self.ms)
        let records = try Self.records(pcap)
        let sio = Self.sio(records)
        try #require(sio.count == 2)
        let ack = sio[0]
        let request = sio[1]
        #expect((ack["sio"] as? [String: Any])?["type"] as? String == "ACK")
        #expect((request["sio"] as? [String: Any])?["type"] as? String == "EVENT")
        // The ACK keeps its own packet, connection and direction; it answers the request that came after it.
        let ackFrame = try #require(ack["frame"] as? Int)
        let requestFrame = try #require(request["frame"] as? Int)
        #expect(ackFrame < requestFrame)
        #expect(ack["conn"] as? Int == 1 && ack["dir"] as? String == "s2c")
        #expect(request["conn"] as? Int == 2 && request["dir"] as? String == "c2s")
        #expect(ack["transport"] as? String == "polling" && ack["sid"] as? String == Self.sid)
        let answer = try #require(ack["ack"] as? [String: Any])
        #expect(answer["frame"] as? Int == requestFrame)
        #expect(answer["latencyMs"] as? Double == -2.0)
        #expect(!Self.codes(records).contains("sio.ack_unmatched"))
        #expect(!Self.codes(records).contains("sio.ack_missing"))
        #expect(Self.inFrameOrder(records))
        try Self.sameWithJobs(pcap)
    }

    @Test func requestBeyondTheWindowLeavesBothUnpaired() throws {
        let pcap = Self.swapped(ackAt: 1 * Self.s + 20 * Self.ms, requestAt: 2 * Self.s + 20 * Self.ms)
        let records = try Self.records(pcap)
        let sio = Self.sio(records)
        try #require(sio.count == 2)
        #expect(sio[0]["ack"] == nil)
        let at = try #require(records.firstIndex { $0["code"] as? String == "sio.ack_unmatched" })
        // Reported at the ACK's packet and connection, just before its record.
        #expect(records[at]["frame"] as? Int == sio[0]["frame"] as? Int)
        #expect(records[at]["conn"] as? Int == 1)
        #expect(at + 1 < records.count && records[at + 1]["kind"] as? String == "sio")
        #expect(records[at + 1]["frame"] as? Int == sio[0]["frame"] as? Int)
        #expect(Self.codes(records).contains("sio.ack_missing"))
        #expect(Self.inFrameOrder(records))
        try Self.sameWithJobs(pcap)
    }

    @Test func theWindowIsALimit() throws {
        // Within 1 s unpaired by default; paired with a window of 2 s.
        let pcap = Self.swapped(ackAt: 1 * Self.s + 20 * Self.ms, requestAt: 2 * Self.s + 520 * Self.ms)
        #expect(Self.sio(try Self.records(pcap))[0]["ack"] == nil)
        var options = PipelineOptions()
        options.sioLimits.ackReorderNanoseconds = 2 * Self.s
        let records = try Self.records(pcap, options)
        let answer = try #require(Self.sio(records)[0]["ack"] as? [String: Any])
        #expect(answer["latencyMs"] as? Double == -1500.0)
        #expect(Self.inFrameOrder(records))
        try Self.sameWithJobs(pcap, options)
        // 0: never held, as before the window.
        options.sioLimits.ackReorderNanoseconds = 0
        let unheld = try Self.records(
            Self.swapped(ackAt: 1 * Self.s + 20 * Self.ms, requestAt: 1 * Self.s + 22 * Self.ms), options)
        #expect(Self.sio(unheld)[0]["ack"] == nil)
        #expect(Self.codes(unheld).contains("sio.ack_unmatched"))
    }

    /// A session that holds an ACK and then says nothing more does not hold the timeline until the end: while
    /// another client's packets come, the ACK goes (unmatched) within a second of capture time after its window,
    /// and the records after it with it.
    @Test func aQuietSessionLetsGoByCaptureTime() throws {
        var b = PcapBuilder()
        let c1 = b.open(client: 1, port: 40001, at: 1 * Self.s)
        b.send(c1, .c2s, Polling.get(sid: nil), at: 1 * Self.s + 10 * Self.ms)
        b.send(c1, .s2c, Polling.ok(Polling.handshake(Self.sid)), at: 1 * Self.s + 11 * Self.ms)
        b.send(c1, .c2s, Polling.get(sid: Self.sid), at: 1 * Self.s + 12 * Self.ms)
        let ackAt = 1 * Self.s + 20 * Self.ms
        b.send(c1, .s2c, Polling.ok(#"437["late"]"#), at: ackAt)
        // Another client: a connection that opens after the ACK and goes on for seconds.
        let c2 = b.open(client: 3, port: 40003, at: 1 * Self.s + 50 * Self.ms)
        for k in 1...60 {
            b.ack(c2, k % 2 == 0 ? .c2s : .s2c, at: 1 * Self.s + 50 * Self.ms + Int64(k) * 100 * Self.ms)
        }
        let pcap = b.pcap()
        let times = b.packets.map(\.ts)

        let sink = WhenSink()
        let pipeline = try Pipeline(options: PipelineOptions(), records: sink)
        pipeline.run(try PacketSource(capture: pcap, name: "quiet.pcap")) { sink.reading = $0.frame }
        let ack = try #require(sink.seen.first { $0.what == "sio ACK" })
        let unmatched = try #require(sink.seen.first { $0.what == "sio.ack_unmatched" })
        let opened = try #require(sink.seen.first { $0.what == "conn open 2" })
        #expect(unmatched.frame == ack.frame)
        // Let go by capture time: after the window, within about a second more, long before the end.
        let goneAt = times[Int(ack.reading) - 1]
        #expect(goneAt >= ackAt + Self.s)
        #expect(goneAt <= ackAt + 2 * Self.s + 100 * Self.ms)
        #expect(opened.reading == ack.reading, "the records after the ACK waited for it, and no longer")
        let frames = sink.seen.compactMap(\.frame)
        #expect(zip(frames, frames.dropFirst()).allSatisfy { $0 <= $1 })
        try Self.sameWithJobs(pcap)
    }
}
