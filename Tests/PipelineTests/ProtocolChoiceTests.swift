import Capture
import Foundation
import ImscopeCore
import Pipeline
import Records
import Testing

/// A TCP conversation written as a classic pcap (raw IPv4, LINKTYPE_RAW): a handshake or not, each side's bytes in
/// segments, some of them lost (their sequence numbers skipped, as a capture that missed them shows), and FINs.
struct TCPScript {
    var handshake = true
    /// Each step: a direction and its bytes, sent in one segment, or skipped on the wire when `lost`.
    var steps: [(dir: Direction, bytes: [UInt8], lost: Bool)]

    init(handshake: Bool = true, _ steps: [(Direction, [UInt8])]) {
        self.handshake = handshake
        self.steps = steps.map { ($0.0, $0.1, false) }
    }

    init(handshake: Bool = true, steps: [(dir: Direction, bytes: [UInt8], lost: Bool)]) {
        self.handshake = handshake
        self.steps = steps
    }

    func pcap() -> [UInt8] {
        var b = PcapBuilder()
        let c = b.add(client: 1, port: 40000, serverPort: 8080)
        var seconds: Int64 = 0
        // One packet a second.
        func packet(_ dir: Direction, flags: UInt8, _ payload: [UInt8] = []) {
            seconds += 1
            b.packet(c, dir, flags: flags, payload, at: seconds * 1_000_000_000)
        }
        if handshake {
            packet(.c2s, flags: 0x02)
            b.conns[c].seq[.c2s]! &+= 1
            packet(.s2c, flags: 0x12)
            b.conns[c].seq[.s2c]! &+= 1
            packet(.c2s, flags: 0x10)
        }
        for step in steps {
            if !step.lost { packet(step.dir, flags: 0x18, step.bytes) }
            b.conns[c].seq[step.dir]! &+= UInt32(step.bytes.count)
            // The peer acknowledges what it got (and so shows what was lost).
            packet(step.dir == .c2s ? .s2c : .c2s, flags: 0x10)
        }
        packet(.c2s, flags: 0x11)
        b.conns[c].seq[.c2s]! &+= 1
        packet(.s2c, flags: 0x11)
        b.conns[c].seq[.s2c]! &+= 1
        packet(.c2s, flags: 0x10)
        return b.pcap()
    }
}

/// A table row: a conversation and what layer `ws` makes of it — every record but `conn` open and close, as
/// `kind` (and `code` for a diagnostic, `opcode` for a WebSocket message, `method`/`status` for HTTP).
struct ChoiceCase: Sendable, CustomTestStringConvertible {
    var name: String
    var script: @Sendable () -> TCPScript
    var expected: [String]
    var testDescription: String { name }
}

func masked(_ opcode: UInt8, _ text: String, key: [UInt8] = [1, 2, 3, 4]) -> [UInt8] {
    let payload = Array(text.utf8)
    return [0x80 | opcode, 0x80 | UInt8(payload.count)] + key + payload.enumerated().map { $0.1 ^ key[$0.0 & 3] }
}

func unmasked(_ opcode: UInt8, _ text: String) -> [UInt8] {
    let payload = Array(text.utf8)
    return [0x80 | opcode, UInt8(payload.count)] + payload
}

let tlsClientHello: [UInt8] =
    [0x16, 0x03, 0x01, 0x00, 0x31, 0x01, 0x00, 0x00, 0x2D, 0x03, 0x03] + Array(repeating: 0x41, count: 44)
let mysqlGreeting: [UInt8] =
    [0x4A, 0x00, 0x00, 0x00, 0x0A] + Array("5.7.30\u{0}".utf8) + Array(repeating: 0x2A, count: 60)
let upgradeRequest = Array(
    "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        .utf8)
let upgradeResponse = Array(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        .utf8)

/// How a connection's protocol is chosen from its first bytes (Docs/user-guide.md, "HTTP and WebSocket").
@Suite struct ProtocolChoiceTests {
    static let cases: [ChoiceCase] = [
        // The start captured: HTTP, or frames from the first byte, or another protocol said once.
        ChoiceCase(
            name: "SSH banners: app.other_protocol once, nothing else",
            script: {
                TCPScript([
                    (.s2c, Array("SSH-2.0-OpenSSH_8.9p1\r\n".utf8)), (.c2s, Array("SSH-2.0-Go\r\n".utf8)),
                    (.s2c, Array(repeating: 0x14, count: 300)),
                ])
            },
            expected: ["diagnostic app.other_protocol s2c"]),
        ChoiceCase(
            name: "a MySQL greeting (binary, server first)",
            script: { TCPScript([(.s2c, mysqlGreeting), (.c2s, Array(repeating: 0x00, count: 40))]) },
            expected: ["diagnostic app.other_protocol s2c"]),
        ChoiceCase(
            name: "a TLS ClientHello (client first; HTTP was assumed before, and http.incomplete raised)",
            script: { TCPScript([(.c2s, tlsClientHello), (.s2c, [0x16, 0x03, 0x03, 0x00, 0x02, 0x02, 0x00])]) },
            expected: ["diagnostic app.other_protocol c2s"]),
        ChoiceCase(
            name: "SIP, whose request line is HTTP's but for the version (http.malformed before)",
            script: {
                TCPScript([
                    (
                        .c2s,
                        Array(
                            "OPTIONS sip:probe@edge.test SIP/2.0\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n".utf8)
                    ),
                    (.s2c, Array("SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n".utf8)),
                ])
            },
            expected: ["diagnostic app.other_protocol c2s"]),
        ChoiceCase(
            name: "IRC, the server first",
            script: { TCPScript([(.s2c, Array(":irc NOTICE * :hello\r\n".utf8)), (.c2s, Array("NICK me\r\n".utf8))]) },
            expected: ["diagnostic app.other_protocol s2c"]),
        ChoiceCase(
            name: "IRC, the client first: a method-like word, but no HTTP version",
            script: { TCPScript([(.c2s, Array("NICK me\r\nUSER me 0 * :me\r\n".utf8))]) },
            expected: ["diagnostic app.other_protocol c2s"]),
        ChoiceCase(
            name: "a plausible frame header, then bytes no frame chain allows: still another protocol",
            // A server binary frame of 3 bytes, then 0x7F (reserved bits, reserved opcode).
            script: { TCPScript([(.s2c, [0x82, 0x03, 1, 2, 3, 0x7F, 0x7F, 0x7F, 0x7F])]) },
            expected: ["diagnostic app.other_protocol s2c"]),
        ChoiceCase(
            name: "HTTP with its request line cut after one byte: held, then decided",
            script: {
                TCPScript([
                    (.c2s, Array("G".utf8)), (.c2s, Array("ET /x HTTP/1.1\r\nHost: a\r\n\r\n".utf8)),
                    (.s2c, Array("HT".utf8)), (.s2c, Array("TP/1.1 204 No Content\r\n\r\n".utf8)),
                ])
            },
            expected: ["http GET", "http 204"]),
        ChoiceCase(
            name: "an HTTP method outside the usual eight (RPC over HTTP)",
            script: {
                TCPScript([
                    (.c2s, Array("RPC_IN_DATA /rpc/rpcproxy.dll HTTP/1.1\r\nContent-Length: 0\r\n\r\n".utf8)),
                    (.s2c, Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8)),
                ])
            },
            expected: ["http RPC_IN_DATA", "http 200"]),
        ChoiceCase(
            name: "the WebSocket upgrade: unchanged",
            script: {
                TCPScript([
                    (.c2s, upgradeRequest), (.s2c, upgradeResponse), (.c2s, masked(1, "hi")), (.s2c, unmasked(1, "ho")),
                ])
            },
            expected: ["http GET", "http 101", "conn upgrade", "ws text", "ws text"]),
        ChoiceCase(
            name: "frames from the first byte without an HTTP upgrade: WebSocket",
            script: {
                TCPScript([
                    (.c2s, masked(1, "hello") + masked(1, "again")), (.s2c, unmasked(1, "world") + unmasked(2, "!")),
                ])
            },
            expected: [
                "diagnostic ws.midstream c2s", "ws text", "ws text", "diagnostic ws.midstream s2c", "ws text",
                "ws binary",
            ]),
        // The start not captured (no handshake), or bytes lost before the first: frames searched for anywhere.
        ChoiceCase(
            name: "mid-stream WebSocket: frames found after skipping",
            script: {
                TCPScript(handshake: false, [(.s2c, [0x33, 0x44] + unmasked(1, "one") + unmasked(1, "two"))])
            },
            expected: ["diagnostic tcp.midstream", "diagnostic ws.midstream s2c", "ws text", "ws text"]),
        ChoiceCase(
            name: "mid-stream SSH: no frames by the end, app.unrecognized (ws.lost_sync before)",
            script: { TCPScript(handshake: false, [(.s2c, Array(repeating: 0x5A, count: 200))]) },
            expected: ["diagnostic tcp.midstream", "diagnostic app.unrecognized"]),
        ChoiceCase(
            name: "the handshake captured, the server's first bytes lost: frames searched for anywhere",
            script: {
                TCPScript(steps: [
                    (.s2c, unmasked(1, "lost"), true), (.s2c, [0x99] + unmasked(1, "one") + unmasked(1, "two"), false),
                ])
            },
            expected: ["diagnostic tcp.gap s2c", "diagnostic ws.midstream s2c", "ws text", "ws text"]),
    ]

    @Test(arguments: cases)
    func choice(_ c: ChoiceCase) throws {
        var options = try GoldenTests.options(.ws)
        options.anyPort = true
        for jobs in [1, 2] {
            let source = try PacketSource(capture: c.script().pcap(), name: c.name)
            let jsonl =
                jobs == 1
                ? try render(source, options: options) : try renderSharded(source, jobs: jobs, options: options)
            let got = jsonl.split(separator: "\n").compactMap { line -> String? in
                let r = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                let kind = r["kind"] as! String
                var shown: String
                switch kind {
                case "conn":
                    let event = r["event"] as! String
                    if event != "upgrade" { return nil }
                    shown = "conn upgrade"
                case "diagnostic": shown = "diagnostic \(r["code"]!)"
                case "ws": return "ws \(r["opcode"]!)"
                case "http": return "http \(r["method"] as? String ?? "\(r["status"]!)")"
                default: shown = kind
                }
                if let dir = r["dir"] as? String { shown += " \(dir)" }
                return shown
            }
            #expect(got == c.expected, "--jobs \(jobs)")
        }
    }
}
