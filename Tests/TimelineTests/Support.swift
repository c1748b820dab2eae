import Capture
import Foundation
import Jobs
import Pipeline
import Records
import Rendering

/// The repository's root, found from this file's path (tests read Captures/, Docs/ and Golden/ in place).
let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// Runs the pipeline over `files` and returns the rendered output (through `recordFilter` when given).
func render(
    _ files: [String], format: String = "jsonl", options: PipelineOptions = PipelineOptions(), filter: String? = nil,
    fold: Bool = false, recordFilter: RecordFilter? = nil
) throws -> String {
    let source = try PacketSource(files: files, filter: filter)
    let out = OutputBuffer(fd: -1)
    var renderer: RecordSink =
        format == "text"
        ? TextRenderer(out: out, color: false, fold: fold) : JSONLRenderer(out: out, array: format == "json")
    if let recordFilter { renderer = FilteringSink(filter: recordFilter, next: renderer) }
    let pipeline = try Pipeline(options: options, records: renderer)
    pipeline.run(source)
    return String(decoding: out.bytes, as: UTF8.self)
}

/// Compares `actual` with the golden file `name`, or writes it when IMSCOPE_RECORD=1.
func matchesGolden(_ actual: String, _ name: String) throws -> Bool {
    let url = repoRoot.appendingPathComponent("Tests/TimelineTests/Golden/\(name)")
    if ProcessInfo.processInfo.environment["IMSCOPE_RECORD"] == "1" {
        try actual.write(to: url, atomically: true, encoding: .utf8)
        return true
    }
    guard let expected = try? String(contentsOf: url, encoding: .utf8) else { return false }
    return expected == actual
}

/// The bundled captures.
func bundledCaptures() -> [String] {
    let dir = repoRoot.appendingPathComponent("Captures")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
    return names.filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.sorted()
}
