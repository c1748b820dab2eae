import Capture
import Foundation
import Pipeline
import Records
import Rendering
import Testing

/// Bad input gets a clear error or diagnostic with what was read so far — never a crash.
@Suite struct InputErrorTests {
    func temporary(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("imscope-\(UUID())-\(name)").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func missingFile() {
        #expect(throws: CaptureError.self) { try PacketSource(files: ["/nonexistent/capture.pcap"]) }
        do {
            _ = try PacketSource(files: ["/nonexistent/capture.pcap"])
        } catch {
            #expect(error.description.contains("No such file"))
        }
    }

    @Test func notACapture() throws {
        let path = try temporary("text.pcap", Array("this is not a capture file at all\n".utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try PacketSource(files: [path])
            Issue.record("a text file was accepted as a capture")
        } catch {
            #expect(error.description.contains(path))
        }
    }

    @Test func emptyFile() throws {
        let path = try temporary("empty.pcap", [])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: CaptureError.self) { try PacketSource(files: [path]) }
    }

    @Test func truncatedFileKeepsWhatWasRead() throws {
        let capture = try #require(bundledCaptures().first(where: { $0.hasSuffix(".pcap") }))
        let whole = try Data(contentsOf: repoRoot.appendingPathComponent("Captures/\(capture)"))
        let path = try temporary("cut.pcap", Array(whole.prefix(whole.count * 2 / 3 + 7)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        var options = PipelineOptions()
        options.layer = .tcp
        let output = try render([path], options: options)
        #expect(output.contains("\"code\":\"capture.read_error\""))
        #expect(output.contains("\"event\":\"open\""))
        #expect(output.contains("\"reason\":\"end-of-capture\""))
    }

    @Test func badFilter() throws {
        let capture = try #require(bundledCaptures().first)
        #expect(throws: CaptureError.self) {
            try PacketSource(
                files: [repoRoot.appendingPathComponent("Captures/\(capture)").path], filter: "tcp port banana")
        }
    }
}
