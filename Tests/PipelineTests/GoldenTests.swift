import Capture
import Foundation
import IMProtocol
import Pipeline
import Records
import Rendering
import Testing

/// Each bundled capture decoded at every layer, as JSON Lines and as text, compared with committed golden output
/// (re-record with `IMSCOPE_RECORD=1 swift test`; review the diff before committing). A difference names the
/// first line that differs.
@Suite struct GoldenTests {
    @Test(arguments: bundledCaptures(), Layer.allCases)
    func layer(capture: String, layer: Layer) throws {
        let options = try Self.options(layer)
        let path = repoRoot.appendingPathComponent("Captures/\(capture)").path
        let jsonl = try render([path], options: options)
        #expect(jsonl.contains("\"kind\":\"conn\""))
        expectSame(try goldenDifference(jsonl, "\(capture).\(layer).jsonl"))
        // The text timeline folds pings and polling requests from the `eio` layer on, as `read` does by default.
        let text = try render([path], format: "text", options: options, fold: layer.reaches(.eio))
        expectSame(try goldenDifference(text, "\(capture).\(layer).txt"))
    }

    /// Owned records (made by ``OwningSink``, lent back as records) render to the same bytes as the borrowed
    /// records the renderers take on the fast path.
    @Test(arguments: bundledCaptures(), Layer.allCases)
    func ownedRecords(capture: String, layer: Layer) throws {
        let options = try Self.options(layer)
        let collector = RecordCollector()
        let pipeline = try Pipeline(options: options, records: OwningSink(collector))
        pipeline.run(try PacketSource(files: [repoRoot.appendingPathComponent("Captures/\(capture)").path]))
        #expect(collector.finished == 1)
        expectSame(try goldenDifference(collector.rendered(), "\(capture).\(layer).jsonl"))
        expectSame(
            try goldenDifference(collector.rendered("text", fold: layer.reaches(.eio)), "\(capture).\(layer).txt"))
    }

    /// A capture held in memory decodes as the same file does.
    @Test(arguments: bundledCaptures())
    func inMemorySource(capture: String) throws {
        let path = repoRoot.appendingPathComponent("Captures/\(capture)").path
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let options = try Self.options(.im)
        let fromMemory = try render(PacketSource(capture: bytes, name: capture), options: options)
        expectSame(firstDifference(expected: try render([path], options: options), actual: fromMemory, name: capture))
    }

    @Test func inMemorySourceRejectsWhatIsNotACapture() {
        #expect(throws: CaptureError.self) { try PacketSource(capture: Array("not a capture".utf8), name: "text") }
        #expect(throws: CaptureError.self) { try PacketSource(capture: [], name: "empty") }
    }

    /// A renderer takes `sio` records in parts from the decoder, and whole when a sink between them (a filter)
    /// builds the ``Record``: both ways must write the same bytes.
    @Test(arguments: bundledCaptures())
    func sioInPartsAndWhole(capture: String) throws {
        let options = try Self.options(.im)
        let path = repoRoot.appendingPathComponent("Captures/\(capture)").path
        let direct = try render([path], options: options)
        #expect(direct.contains("\"kind\":\"sio\""))
        #expect(try render([path], options: options, recordFilter: RecordFilter()) == direct)
    }

    /// A golden difference names the first line that differs, with both versions.
    @Test func aDifferenceNamesItsFirstLine() {
        let difference = firstDifference(expected: "a\nb\nc\n", actual: "a\nB\nc\n", name: "x")
        #expect(difference == "x differs at line 2 (4 lines expected, 4 got)\n  expected: b\n  actual:   B")
        #expect(firstDifference(expected: "a\n", actual: "a\n", name: "x") == nil)
        #expect(firstDifference(expected: "a\nb\n", actual: "a\n", name: "x")?.contains("line 2") == true)
    }

    /// Decoding to `layer`, with the shipped tables (v2, then v1) at the `im` layer.
    static func options(_ layer: Layer) throws -> PipelineOptions {
        var options = PipelineOptions()
        options.layer = layer
        if layer == .im {
            options.im = IMDecoder(
                table: try MessageTypeTable.builtin("v2"), others: [try MessageTypeTable.builtin("v1")])
        }
        return options
    }

    @Test func bundledCapturesExist() {
        #expect(bundledCaptures().count >= 4, "Captures/ should hold the real captures")
    }
}
