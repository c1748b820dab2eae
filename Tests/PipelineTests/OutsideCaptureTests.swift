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
