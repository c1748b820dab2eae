import CZlib
import ImscopeCore
import WebSocket

/// A small deterministic random generator (SplitMix64), so the same options give the same capture.
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ p: Double) -> Bool { Double(next() % 1_000_000) / 1_000_000 < p }
}

/// Raw DEFLATE with context takeover, as a permessage-deflate sender does (RFC 7692 section 7.2.1).
final class Deflater {
    var stream = z_stream()
    var out = [UInt8](repeating: 0, count: 1 << 16)
    init() { _ = imscope_deflate_init_raw(&stream) }
    deinit { deflateEnd(&stream) }

    func compress(_ input: [UInt8]) -> [UInt8] {
        var result: [UInt8] = []
        var input = input
        input.withUnsafeMutableBytes { inBuf in
            stream.next_in = inBuf.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.avail_in = uInt(inBuf.count)
            repeat {
                out.withUnsafeMutableBytes { o in
                    stream.next_out = o.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = uInt(o.count)
                    _ = deflate(&stream, Z_SYNC_FLUSH)
                    result.append(contentsOf: o[0..<(o.count - Int(stream.avail_out))])
                }
            } while stream.avail_out == 0
        }
        if result.count >= 4 && result.suffix(4).elementsEqual([0, 0, 0xff, 0xff]) { result.removeLast(4) }
        return result
    }
}

/// What the generator wrote, to check the decoder against.
struct GeneratedCounts: Codable {
    var packets: UInt64 = 0
    var bytes: UInt64 = 0
    var connections = 0
    /// Engine.IO packets that are not messages (open, ping, pong, close...).
    var eioPackets = 0
    /// Socket.IO packets (Engine.IO messages).
    var sioPackets = 0
    /// chat events carrying an ImMessage.
    var chatMessages = 0
}

/// Generates protocol-valid Socket.IO traffic: N concurrent WebSocket connections (Engine.IO 4, optionally
/// permessage-deflate), each a real handshake, the Engine.IO/Socket.IO openings, then exchanges with a realistic
/// ImMessage mix — text mostly, images, files, voice, heartbeats, acks, some messages long enough to span many
/// segments — until the capture reaches the size asked for; then every connection closes.
final class Generator {
    let writer: CaptureWriter
    var rng: SplitMix
    var counts = GeneratedCounts()
    let deflateShare: Double
    static let mss = 1448
    static let words = [
        "hello", "你好", "世界", "meeting", "at", "three", "ok", "thanks", "see", "you", "tomorrow", "lunch", "消息",
        "file", "photo", "great", "where", "are", "now", "准备", "好了", "😀", "on", "my", "way",
    ]

    final class Conn {
        let client: CaptureWriter.Endpoint
        let server: CaptureWriter.Endpoint
        var cseq: UInt32
        var sseq: UInt32
        let deflate: Bool
        let cDeflater: Deflater?
        let sDeflater: Deflater?
        var ackId = 0
        let user: Int
        init(index: Int, deflate: Bool, rng: inout SplitMix) {
            client = .init(
                ip: 0x0A00_0000 | UInt32(index / 250) << 8 | UInt32(index % 250 + 1),
                port: UInt16(40_000 + index % 20_000))
            server = .init(ip: 0xC000_0201, port: 9092)
            cseq = UInt32(truncatingIfNeeded: rng.next())
            sseq = UInt32(truncatingIfNeeded: rng.next())
            self.deflate = deflate
            cDeflater = deflate ? Deflater() : nil
            sDeflater = deflate ? Deflater() : nil
            user = index
        }
    }

    init(writer: CaptureWriter, seed: UInt64, deflateShare: Double) {
        self.writer = writer
        self.rng = SplitMix(state: seed)
        self.deflateShare = deflateShare
    }

    func run(connections: Int, targetBytes: UInt64) {
        var conns: [Conn] = []
        for i in 0..<connections {
            let c = Conn(index: i, deflate: rng.chance(deflateShare), rng: &rng)
            open(c)
            conns.append(c)
        }
        counts.connections = connections
        while writer.bytesWritten < targetBytes {
            exchange(conns[rng.below(conns.count)])
        }
        for c in conns { close(c) }
        writer.close()
        counts.packets = writer.packets
        counts.bytes = writer.bytesWritten + 24
    }

    // MARK: - TCP

    func send(_ c: Conn, fromClient: Bool, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + Self.mss)
            if fromClient {
                writer.segment(c.client, c.server, seq: c.cseq, ack: c.sseq, flags: 0x18, payload: bytes[offset..<end])
                c.cseq &+= UInt32(end - offset)
            } else {
                writer.segment(c.server, c.client, seq: c.sseq, ack: c.cseq, flags: 0x18, payload: bytes[offset..<end])
                c.sseq &+= UInt32(end - offset)
            }
            offset = end
        }
        // The peer acknowledges.
        if fromClient {
            writer.segment(c.server, c.client, seq: c.sseq, ack: c.cseq, flags: 0x10, payload: [])
        } else {
            writer.segment(c.client, c.server, seq: c.cseq, ack: c.sseq, flags: 0x10, payload: [])
        }
    }

    func open(_ c: Conn) {
        writer.segment(c.client, c.server, seq: c.cseq, ack: 0, flags: 0x02, payload: [])
        c.cseq &+= 1
        writer.segment(c.server, c.client, seq: c.sseq, ack: c.cseq, flags: 0x12, payload: [])
        c.sseq &+= 1
        writer.segment(c.client, c.server, seq: c.cseq, ack: c.sseq, flags: 0x10, payload: [])
        var keyBytes = [UInt8](repeating: 0, count: 16)
        for k in 0..<16 { keyBytes[k] = UInt8(truncatingIfNeeded: rng.next()) }
        let key = Base64.encode(keyBytes)
        let ext = c.deflate ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" : ""
        send(
            c, fromClient: true,
            Array(
                ("GET /socket.io/?EIO=4&transport=websocket&userId=u\(c.user) HTTP/1.1\r\nHost: im.example.com:9092\r\n"
                    + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: \(key)\r\n"
                    + "Sec-WebSocket-Version: 13\r\n\(ext)\r\n").utf8))
        let accept = WebSocketHandshake.accept(forKey: key)
        let extOK = c.deflate ? "Sec-WebSocket-Extensions: permessage-deflate\r\n" : ""
        send(
            c, fromClient: false,
            Array(
                ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Accept: \(accept)\r\n\(extOK)\r\n").utf8))
        let sid = Base64.encode((0..<15).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        frame(
            c, fromClient: false,
            "0{\"sid\":\"\(sid)\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}")
        counts.eioPackets += 1
        frame(c, fromClient: true, "40")
        frame(
            c, fromClient: false,
            "40{\"sid\":\"\(Base64.encode((0..<15).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))\"}")
        counts.sioPackets += 2
    }

    func close(_ c: Conn) {
        frame(c, fromClient: true, "41")
        counts.sioPackets += 1
        frame(c, fromClient: true, "1")
        counts.eioPackets += 1
        writer.segment(c.client, c.server, seq: c.cseq, ack: c.sseq, flags: 0x11, payload: [])
        c.cseq &+= 1
        writer.segment(c.server, c.client, seq: c.sseq, ack: c.cseq, flags: 0x11, payload: [])
        c.sseq &+= 1
        writer.segment(c.client, c.server, seq: c.cseq, ack: c.sseq, flags: 0x10, payload: [])
    }

    /// One WebSocket text message (one write of the sender).
    func frame(_ c: Conn, fromClient: Bool, _ text: String) {
        var payload = Array(text.utf8)
        var first: UInt8 = 0x81
        if let deflater = fromClient ? c.cDeflater : c.sDeflater {
            payload = deflater.compress(payload)
            first |= 0x40
        }
        var out: [UInt8] = [first]
        let mask: UInt8 = fromClient ? 0x80 : 0
        if payload.count < 126 {
            out.append(mask | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            out.append(contentsOf: [mask | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)])
        } else {
            out.append(mask | 127)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((payload.count >> shift) & 0xff)) }
        }
        if fromClient {
            let key = UInt32(truncatingIfNeeded: rng.next())
            let k = [UInt8(key >> 24), UInt8((key >> 16) & 0xff), UInt8((key >> 8) & 0xff), UInt8(key & 0xff)]
            out.append(contentsOf: k)
            for i in 0..<payload.count { payload[i] ^= k[i & 3] }
        }
        out.append(contentsOf: payload)
        send(c, fromClient: fromClient, out)
    }

    // MARK: - The message mix

    func sentence(_ n: Int) -> String {
        var s = ""
        for i in 0..<n {
            if i > 0 { s += " " }
            s += Self.words[rng.below(Self.words.count)]
        }
        return s
    }

    func uuid() -> String {
        let a = rng.next()
        let b = rng.next()
        func hex(_ v: UInt64, _ digits: Int) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: max(0, digits - s.count)) + s.suffix(digits)
        }
        return
            "\(hex(a >> 32, 8))-\(hex((a >> 16) & 0xffff, 4))-4\(hex(a & 0xfff, 3))-a\(hex(b >> 52, 3))-\(hex(b & 0xffff_ffff_ffff, 12))"
    }

    func imMessage(from: Int, to: Int, type: Int, content: String) -> String {
        "{\"msgId\":\"\(uuid())\",\"fromId\":\"u\(from)\",\"fromType\":1,\"destId\":\"u\(to)\",\"fromName\":\"User \(from)\","
            + "\"imageIconUrl\":\"http://img.example.com/avatar/u\(from).png\",\"content\":\(content),"
            + "\"messageType\":\(type),\"devType\":\(1 + rng.below(3)),\"sendTime\":\(writer.clock / 1000)}"
    }

    func jsonString(_ s: String) -> String {
        var out = "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out + "\""
    }

    /// One exchange on a connection: a message up with its ack and its delivery down, or a heartbeat.
    func exchange(_ c: Conn) {
        let roll = rng.below(100)
        if roll < 10 {
            // Engine.IO heartbeat: the server pings (version 4), the client pongs.
            frame(c, fromClient: false, "2")
            frame(c, fromClient: true, "3")
            counts.eioPackets += 2
            return
        }
        let peer = rng.below(100_000)
        let type: Int
        let content: String
        switch roll {
        case 10..<70:
            type = 2
            content = jsonString(sentence(3 + rng.below(30)))
        case 70..<80:
            type = 3
            content = jsonString("http://img.example.com/p/\(uuid()).jpg")
        case 80..<85:
            type = 4
            content = jsonString(
                "{\"fileName\":\"report-\(rng.below(1000)).pdf\",\"fileSize\":\"\(rng.below(10_000_000))\","
                    + "\"fileUrl\":\"http://files.example.com/f/\(uuid()).pdf\",\"fileType\":\"pdf\",\"filished\":false}"
            )
        case 85..<90:
            type = 16
            content = jsonString("{\"url\":\"http://files.example.com/v/\(uuid()).amr\",\"time\":\(1 + rng.below(60))}")
        case 90..<95:
            type = 31
            content = "\"\""
        default:
            // A long text: spans several segments.
            type = 2
            content = jsonString(sentence(800 + rng.below(3000)))
        }
        c.ackId += 1
        let message = imMessage(from: c.user, to: peer, type: type, content: content)
        frame(c, fromClient: true, "42\(c.ackId)[\"chat\",\(message)]")
        frame(c, fromClient: false, "43\(c.ackId)[{\"status\":\"ok\"}]")
        frame(c, fromClient: false, "42[\"chat\",\(message)]")
        counts.sioPackets += 3
        counts.chatMessages += 2
    }
}
