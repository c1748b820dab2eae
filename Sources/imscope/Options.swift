import ArgumentParser
import Capture
import IMProtocol
import ImscopeCore
import Pipeline
import Records
import Rendering
import TCPReassembly
import WebSocket

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, jsonl, json
}

extension Layer: ExpressibleByArgument {}

/// Options every decoding command shares.
struct DecodeOptions: ParsableArguments {
    @Option(name: .long, help: "Server port to decode (repeatable).")
    var port: [UInt16] = [9092]

    @Flag(name: .long, help: "Decode TCP connections on any port, not only --port.")
    var anyPort = false

    @Option(
        name: [.customShort("f"), .long], help: ArgumentHelp("BPF filter, as tcpdump takes it.", valueName: "expr"))
    var captureFilter: String?

    @Option(help: "How deep to decode: tcp, ws, eio, sio or im.")
    var layer: Layer = .im

    @Option(
        help: ArgumentHelp("messageType table: v1, v2 or a table file (see the user guide).", valueName: "v1|v2|file"))
    var schema = "v2"

    @Option(help: "Output format: text (default on a terminal), jsonl (default otherwise) or json.")
    var format: OutputFormat?

    @Option(
        help: ArgumentHelp(
            "Keep only matching records: conn=N, dir=c2s|s2c, user=ID, type=N|NAME, event=NAME, sid=SID, kind=KIND, "
                + "time=FROM..TO (repeatable, ANDed; comma-separated values are ORed).", valueName: "key=value"))
    var filter: [String] = []

    @Flag(help: "Text output: also show Engine.IO and WebSocket pings and pongs and HTTP polling requests.")
    var all = false

    @Option(
        help: ArgumentHelp(
            "Decode with this many threads (default: the number of CPUs; 1 for one thread). Connections are shared "
                + "out by client address; the output does not depend on it.", valueName: "n"))
    var jobs: Int?

    /// The threads to decode with: `--jobs`, or the CPUs this process may run on (at most 64).
    var threads: Int { jobs ?? max(1, min(64, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))) }

    @Flag(help: "Exit with status 3 when any warning or error diagnostic was raised.")
    var strict = false

    @Option(
        help: ArgumentHelp("Write each connection's reassembled bytes to DIR/<conn>.c2s and .s2c.", valueName: "dir"))
    var writeStreams: String?

    @Option(
        help: ArgumentHelp("Out-of-order bytes buffered per connection before a hole is given up.", valueName: "bytes"))
    var tcpMaxBuffer = TCPReassembler.Limits().maxBufferedPerConnection

    @Option(help: ArgumentHelp("Out-of-order bytes buffered over all connections.", valueName: "bytes"))
    var tcpMaxBufferTotal = TCPReassembler.Limits().maxBufferedTotal

    @Option(help: ArgumentHelp("Out-of-order segments held per connection.", valueName: "n"))
    var tcpMaxSegments = TCPReassembler.Limits().maxHeldSegmentsPerConnection

    @Option(help: ArgumentHelp("Out-of-order segments held over all connections.", valueName: "n"))
    var tcpMaxSegmentsTotal = TCPReassembler.Limits().maxHeldSegmentsTotal

    @Option(help: ArgumentHelp("Connections tracked at once.", valueName: "n"))
    var tcpMaxConnections = TCPReassembler.Limits().maxConnections

    @Option(help: ArgumentHelp("Capture-time seconds without packets before a connection is closed.", valueName: "s"))
    var tcpIdleTimeout = Int(TCPReassembler.Limits().idleTimeoutSeconds)

    @Option(
        help: ArgumentHelp(
            "TCP payload bytes the capture may go on for while a connection holds bytes back behind a hole.",
            valueName: "bytes"))
    var tcpMaxHold = Int(TCPReassembler.Limits().maxHoldSpan)

    @Option(
        help: ArgumentHelp("WebSocket message bytes kept (after inflating); the rest is counted.", valueName: "bytes"))
    var wsMaxMessage = WebSocketLimits().maxMessageBytes

    @Option(
        help: ArgumentHelp("Bytes one compressed message may inflate to before inflating stops.", valueName: "bytes"))
    var wsMaxInflate = WebSocketLimits().maxInflateBytes

    func validate() throws {
        if tcpMaxBuffer < 0 || tcpMaxBufferTotal < 0 { throw ValidationError("buffer limits cannot be negative") }
        if tcpMaxSegments < 1 || tcpMaxSegmentsTotal < 1 { throw ValidationError("segment limits must be at least 1") }
        if tcpMaxConnections < 1 { throw ValidationError("--tcp-max-connections must be at least 1") }
        if tcpIdleTimeout < 1 { throw ValidationError("--tcp-idle-timeout must be at least 1 second") }
        if tcpMaxHold < 1 { throw ValidationError("--tcp-max-hold must be at least 1 byte") }
        if let jobs, jobs < 1 || jobs > 64 { throw ValidationError("--jobs must be between 1 and 64") }
        if wsMaxMessage < 0 { throw ValidationError("--ws-max-message cannot be negative") }
        if port.isEmpty { throw ValidationError("give at least one --port") }
    }

    /// The ImMessage decoder for `--schema`, with the other shipped tables to recognise their messages.
    func imDecoder() throws -> IMDecoder {
        do throws(MessageTypeTable.LoadError) {
            let table = try MessageTypeTable.load(schema)
            var others: [MessageTypeTable] = []
            for name in ["v2", "v1"] where name != schema { others.append(try MessageTypeTable.builtin(name)) }
            return IMDecoder(table: table, others: others)
        } catch {
            printError("imscope: \(error.description)")
            throw ExitCode(1)
        }
    }

    func pipelineOptions() throws -> PipelineOptions {
        var o = PipelineOptions()
        if layer == .im { o.im = try imDecoder() }
        o.layer = layer
        o.serverPorts = Set(port)
        o.anyPort = anyPort
        o.tcpLimits.maxBufferedPerConnection = tcpMaxBuffer
        o.tcpLimits.maxBufferedTotal = tcpMaxBufferTotal
        o.tcpLimits.maxHeldSegmentsPerConnection = tcpMaxSegments
        o.tcpLimits.maxHeldSegmentsTotal = tcpMaxSegmentsTotal
        o.tcpLimits.maxConnections = tcpMaxConnections
        o.tcpLimits.idleTimeoutSeconds = Int64(tcpIdleTimeout)
        o.tcpLimits.maxHoldSpan = UInt64(tcpMaxHold)
        o.writeStreamsDirectory = writeStreams
        o.wsLimits.maxMessageBytes = wsMaxMessage
        o.eioLimits.maxPollingBody = wsMaxMessage  // a polling body is bounded as a WebSocket message is
        o.wsLimits.maxInflateBytes = wsMaxInflate
        return o
    }

    /// The renderer for the chosen format, writing to standard output, behind the `--filter`s.
    func makeRenderer(lineBuffered: Bool = false) throws -> RecordSink {
        let terminal = isatty(1) == 1
        let out = OutputBuffer(fd: 1, lineBuffered: lineBuffered || terminal)
        return try rendererFactory()(out, outputFormat == .json)
    }

    var outputFormat: OutputFormat { format ?? (isatty(1) == 1 ? .text : .jsonl) }

    /// Makes the renderer for the chosen format and `--filter`s, writing into a given buffer (`array`: one JSON
    /// array, for `--format json` without `--jobs`; the merger frames the array itself with `--jobs`).
    func rendererFactory() throws -> @Sendable (OutputBuffer, Bool) -> RecordSink {
        let format = outputFormat
        let color = isatty(1) == 1 && getenv("NO_COLOR") == nil
        let fold = !all && layer.reaches(.eio)
        var recordFilter: RecordFilter? = nil
        if !filter.isEmpty {
            do throws(RecordFilter.ParseError) {
                let table = try? MessageTypeTable.load(schema)
                recordFilter = try RecordFilter.parse(filter, table: table)
            } catch {
                printError("imscope: \(error.description)")
                throw ExitCode(64)
            }
        }
        let chosenFilter = recordFilter
        return { out, array in
            let renderer: RecordSink
            switch format {
            case .text: renderer = TextRenderer(out: out, color: color, fold: fold)
            case .jsonl, .json: renderer = JSONLRenderer(out: out, array: array)
            }
            guard let chosenFilter else { return renderer }
            return FilteringSink(filter: chosenFilter, next: renderer)
        }
    }

    /// The exit status for a finished run.
    func exitCode(_ summary: RunSummary) -> ExitCode {
        if strict && (summary.diagnostics[.warning, default: 0] + summary.diagnostics[.error, default: 0]) > 0 {
            return ExitCode(3)
        }
        return .success
    }
}

func printError(_ message: String) { printErrorRaw(message + "\n") }

/// Writes `text` to standard error as it is (no newline added: a progress line rewrites itself with `\r`).
func printErrorRaw(_ text: String) {
    var t = text
    t.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
