import Capture
import Foundation
import Jobs
import Pipeline
import Records
import Rendering
import Testing

/// `--jobs`: the pipeline on several threads gives what one thread gives — rendered bytes, and owned records for a
/// consumer that follows messages across connections. The captures hold many clients (so that the shards' records
/// interleave and only the merge keys put them in order): arkime's synthetic capture (97 connections from 91
/// clients) and nDPI's 1kxun (98 connections from 3 clients), from shared/outside, and the bundled ones.
@Suite struct JobsPipelineTests {
    static let manyClients = ["arkime-arkime_synthetic.pcap", "ndpi-1kxun.pcap"]

    static func captures() -> [String] {
        bundledCaptures().map { repoRoot.appendingPathComponent("Captures/\($0)").path }
            + manyClients.compactMap(outsideCapture)
    }

    static func options(_ path: String, _ layer: Layer) throws -> PipelineOptions {
        var options = try GoldenTests.options(layer)
        options.anyPort = path.contains("/outside/")
        return options
    }

    @Test(arguments: captures(), [Layer.tcp, .ws, .im])
    func renderedBytes(path: String, layer: Layer) throws {
        let options = try Self.options(path, layer)
        for format in ["jsonl", "json"] {
            let one = try render([path], format: format, options: options)
            for jobs in [2, 3] {
                let many = try renderSharded(
                    try PacketSource(files: [path]), jobs: jobs, format: format, options: options)
                expectSame(firstDifference(expected: one, actual: many, name: "\(path) \(format) --jobs \(jobs)"))
            }
        }
    }

    static func samePlace(_ a: OwnedRecord, _ b: OwnedRecord) -> Bool {
        a.kind == b.kind && a.frame == b.frame && a.conn == b.conn && a.dir == b.dir
    }

    /// Records a filter (or the text timeline's folding) drops leave no trace: in a JSON array they stood as empty
    /// elements (`,` lines) with `--jobs`.
    @Test(arguments: captures())
    func filteredAndFolded(path: String) throws {
        let options = try Self.options(path, .im)
        let filter = try RecordFilter.parse(["kind=sio,conn"], table: nil)
        for format in ["json", "jsonl"] {
            let one = try render([path], format: format, options: options, recordFilter: filter)
            let many = try renderSharded(
                try PacketSource(files: [path]), jobs: 2, format: format, options: options, recordFilter: filter)
            expectSame(firstDifference(expected: one, actual: many, name: "\(path) \(format) filtered, --jobs 2"))
        }
        guard !path.contains("/outside/") else { return }  // their text timeline traps past 10^6 s (issue 24)
        let text = try render([path], format: "text", options: options, fold: true)
        let many = try renderSharded(
            try PacketSource(files: [path]), jobs: 3, format: "text", options: options, fold: true)
        expectSame(firstDifference(expected: text, actual: many, name: "\(path) text folded, --jobs 3"))
    }

    @Test func theManyClientCapturesAreThere() {
        #expect(Self.captures().count == bundledCaptures().count + Self.manyClients.count, "shared/outside missing")
    }

    /// Records-out: the owned records of 2 and 3 shards, merged into one sink, equal the one-thread records in
    /// order and content (each record's place and kind, and its rendering).
    @Test(arguments: captures())
    func ownedRecordsOut(path: String) throws {
        let options = try Self.options(path, .im)
        let one = RecordCollector()
        try Pipeline(options: options, records: OwningSink(one)).run(try PacketSource(files: [path]))
        #expect(one.records.count > 10)
        for jobs in [2, 3] {
            let merged = RecordCollector()
            let summary = try runShardedRecords(
                source: try PacketSource(files: [path]), options: options, jobs: jobs, into: merged)
            #expect(merged.finished == 1)
            #expect(summary.packets > 0)
            #expect(merged.origin == one.origin)
            try #require(merged.records.count == one.records.count)
            let misplaced = one.records.indices.first { i in
                !Self.samePlace(one.records[i], merged.records[i])
            }
            #expect(misplaced == nil, "record \(misplaced.map { $0 + 1 } ?? 0) out of place with --jobs \(jobs)")
            expectSame(firstDifference(expected: one.rendered(), actual: merged.rendered(), name: "\(path) -j\(jobs)"))
        }
    }
}
