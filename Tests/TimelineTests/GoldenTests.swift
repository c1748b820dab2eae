import Foundation
import IMProtocol
import Pipeline
import Records
import Rendering
import Testing

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

    /// The default layer (`im`): the annotated timeline, as JSONL and as the text people read.
    @Test(arguments: bundledCaptures())
    func imLayer(capture: String) throws {
        let options = try imOptions()
        let path = repoRoot.appendingPathComponent("Captures/\(capture)").path
        let jsonl = try render([path], options: options)
        #expect(try matchesGolden(jsonl, "\(capture).im.jsonl"), "differs from Golden/\(capture).im.jsonl")
        let text = try render([path], format: "text", options: options, fold: true)
        #expect(try matchesGolden(text, "\(capture).im.txt"), "differs from Golden/\(capture).im.txt")
    }

    /// A renderer takes `sio` records in parts from the decoder, and whole when a sink between them (a filter)
    /// builds the ``Record``: both ways must write the same bytes.
    @Test(arguments: bundledCaptures())
    func sioInPartsAndWhole(capture: String) throws {
        let options = try imOptions()
        let path = repoRoot.appendingPathComponent("Captures/\(capture)").path
        let direct = try render([path], options: options)
        #expect(direct.contains("\"kind\":\"sio\""))
        #expect(try render([path], options: options, recordFilter: RecordFilter()) == direct)
    }

    /// Decoding to the `im` layer with the shipped tables (v2, then v1).
    func imOptions() throws -> PipelineOptions {
        var options = PipelineOptions()
        options.layer = .im
        options.im = IMDecoder(table: try MessageTypeTable.builtin("v2"), others: [try MessageTypeTable.builtin("v1")])
        return options
    }

    @Test func bundledCapturesExist() {
        #expect(bundledCaptures().count >= 4, "Captures/ should hold the real captures")
    }
}
