import Foundation
import Testing
import Timeline

/// Each bundled capture decoded at the TCP layer, as JSONL and text, compared with committed golden output
/// (re-record with `IMSCOPE_RECORD=1 swift test`; review the diff before committing).
@Suite struct GoldenTests {
    @Test(arguments: bundledCaptures())
    func tcpLayerJSONL(capture: String) throws {
        var options = PipelineOptions()
        options.layer = .tcp
        let output = try render([repoRoot.appendingPathComponent("Captures/\(capture)").path], options: options)
        #expect(output.contains("\"kind\":\"conn\""))
        #expect(try matchesGolden(output, "\(capture).tcp.jsonl"), "differs from Golden/\(capture).tcp.jsonl")
    }

    @Test(arguments: bundledCaptures())
    func tcpLayerText(capture: String) throws {
        var options = PipelineOptions()
        options.layer = .tcp
        let output = try render(
            [repoRoot.appendingPathComponent("Captures/\(capture)").path], format: "text", options: options)
        #expect(try matchesGolden(output, "\(capture).tcp.txt"), "differs from Golden/\(capture).tcp.txt")
    }

    @Test func bundledCapturesExist() {
        #expect(bundledCaptures().count >= 4, "Captures/ should hold the real captures")
    }
}
