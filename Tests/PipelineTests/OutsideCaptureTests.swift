import Foundation
import Pipeline
import Records
import Testing

/// Public captures of other projects (shared/outside, see its README), decoded with `--any-port` at layer `ws`:
/// what they show that no bundled capture does. Skipped when shared/outside is not there.
@Suite struct OutsideCaptureTests {
    /// The diagnostics of a capture, as (code, conn) pairs in output order, and the records as JSON objects.
    static func decode(_ name: String) throws -> (diagnostics: [(code: String, conn: Int?)], records: [[String: Any]])?
    {
        guard let path = outsideCapture(name) else { return nil }
        var options = try GoldenTests.options(.ws)
        options.anyPort = true
        let jsonl = try render([path], options: options)
        let records = jsonl.split(separator: "\n").map {
            try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        let diagnostics = records.filter { $0["kind"] as? String == "diagnostic" }.map {
            (code: $0["code"] as! String, conn: $0["conn"] as? Int)
        }
        return (diagnostics, records)
    }

    /// arkime's capture cut to a MySQL greeting and to SSH banners, each with its TCP handshake: one
    /// `app.other_protocol`, and no frame search (it raised 21 and 35 `ws.bad_continuation` after a false
    /// `ws.midstream`).
    @Test(arguments: ["repro/mysql-greeting.pcap", "repro/ssh.pcap"])
    func otherProtocolSaidOnce(name: String) throws {
        guard let (diagnostics, records) = try Self.decode(name) else { return }
        #expect(diagnostics.map(\.code) == ["app.other_protocol"])
        #expect(!records.contains { $0["kind"] as? String == "ws" || $0["kind"] as? String == "http" })
    }

    /// Captures with other protocols than WebSocket (and nDPI's with WebSocket upgrades: inside GTP-U, or the
    /// vmess tunnel, whose TLS connections beside it were taken for HTTP) raise no `ws.*` diagnostic, and with
    /// their start captured no `http.*` either but where HTTP is: SSH, SMTP, IMAP, FTP, IRC, MySQL, TLS, SMB, LDAP,
    /// SOCKS, Modbus, PostgreSQL, Oracle, BGP, SIP, HTTP/2 in arkime's synthetic capture; TLS in the others.
    @Test(arguments: [
        "arkime-arkime_synthetic.pcap", "ndpi-1kxun.pcap", "ndpi-false_positives.pcapng",
        "ndpi-http_origin_different_than_host.pcap", "ndpi-tls_heur__vmess-websocket.pcapng", "emmunaf-test.pcapng",
    ])
    func otherProtocolsRaiseNoWebSocketDiagnostic(name: String) throws {
        guard let (diagnostics, records) = try Self.decode(name) else { return }
        #expect(diagnostics.filter { $0.code.hasPrefix("ws.") }.map(\.code) == [])
        // A connection said to be another protocol has nothing else said about it by HTTP or WebSocket (TCP may:
        // arkime's DNS over TCP has a gap).
        let other = Set(diagnostics.filter { $0.code == "app.other_protocol" }.compactMap(\.conn))
        #expect(
            diagnostics.filter { $0.conn.map(other.contains) == true }.allSatisfy {
                !$0.code.hasPrefix("http.") && !$0.code.hasPrefix("ws.")
            })
        #expect(
            !records.contains {
                ($0["kind"] as? String == "ws" || $0["kind"] as? String == "http") && other.contains($0["conn"] as! Int)
            })
    }

    /// The real WebSocket connections among them are still decoded: arkime's (2 texts, a ping, a close) and the
    /// vmess tunnel's 16 binary messages.
    @Test(arguments: [("arkime-arkime_synthetic.pcap", 4), ("ndpi-tls_heur__vmess-websocket.pcapng", 16)])
    func webSocketAmongThemStillDecoded(name: String, messages: Int) throws {
        guard let (_, records) = try Self.decode(name) else { return }
        #expect(records.filter { $0["kind"] as? String == "ws" }.count == messages)
    }

    /// Zeek's close frame of 258 bytes (RFC 6455 allows 125): decoded, code and reason, with the violation, as
    /// tshark shows it.
    @Test func oversizedCloseFrameDecoded() throws {
        guard let (diagnostics, records) = try Self.decode("zeek-oversized-close-frame.pcapng") else { return }
        #expect(diagnostics.map(\.code) == ["ws.bad_control_frame"])
        let close = try #require(records.first { $0["kind"] as? String == "ws" })
        #expect(close["opcode"] as? String == "close")
        #expect(close["length"] as? Int == 258)
        #expect(close["closeCode"] as? Int == 1000)
        #expect(close["closeReason"] as? String == String(repeating: "C", count: 256))
    }

    /// nDPI's two GTP-U captures hold a WebSocket upgrade inside the tunnel: one info says why nothing shows.
    @Test(arguments: ["ndpi-false_positives.pcapng", "ndpi-http_origin_different_than_host.pcap"])
    func gtpTunnelSaysWhyNothingShows(name: String) throws {
        guard let (diagnostics, records) = try Self.decode(name) else { return }
        #expect(diagnostics.map(\.code) == ["ip.tunnel_not_decoded"])
        #expect(!records.contains { $0["kind"] as? String == "conn" })
    }

    /// arkime's synthetic capture tunnels only ICMP and DNS (VXLAN, GTP-U, Geneve): no TCP is missed, nothing said.
    @Test func tunnelsWithoutTCPAreNotReported() throws {
        guard let (diagnostics, _) = try Self.decode("arkime-arkime_synthetic.pcap") else { return }
        #expect(!diagnostics.contains { $0.code == "ip.tunnel_not_decoded" })
    }
}
