import ArgumentParser
import Capture
import ImscopeCore
import Jobs
import Pipeline
import Records
import Rendering

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension IMScope {
    struct Read: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "read",
            abstract: "Decode capture files into a timeline.",
            discussion: """
                Several files are merged in time order; frame numbers count the merged packets. '-' reads standard \
                input. Exit status: 0 when the input was read (diagnostics do not change that; --strict makes \
                warnings exit 3), 1 when it could not be read at all.
                """)

        @Argument(help: ArgumentHelp("Capture files (pcap or pcapng); '-' for standard input.", valueName: "file"))
        var files: [String]

        @OptionGroup var options: DecodeOptions

        func run() throws {
            let source: PacketSource
            do {
                source = try PacketSource(files: files, filter: options.captureFilter)
            } catch {
                printError("imscope: \(error)")
                throw ExitCode(1)
            }
            let pipelineOptions = try options.pipelineOptions()
            let summary =
                options.threads > 1
                ? try runJobs(source, pipelineOptions) : try runOneThread(source, pipelineOptions)
            if summary.packets == 0 && summary.readErrors > 0 { throw ExitCode(1) }
            throw options.exitCode(summary)
        }

        func runOneThread(_ source: PacketSource, _ pipelineOptions: PipelineOptions) throws -> RunSummary {
            let renderer = try options.makeRenderer()
            let pipeline: Pipeline
            do {
                pipeline = try Pipeline(options: pipelineOptions, records: renderer)
            } catch {
                printError("imscope: \(error)")
                throw ExitCode(1)
            }
            pipeline.run(source)
            return pipeline.summary
        }

        /// `--jobs N` (by default the CPUs): the same output from N threads.
        func runJobs(_ source: PacketSource, _ pipelineOptions: PipelineOptions) throws -> RunSummary {
            let factory = try options.rendererFactory()
            let out = OutputBuffer(fd: 1, lineBuffered: isatty(1) == 1)
            do {
                return try runSharded(
                    source: source, options: pipelineOptions, jobs: options.threads,
                    framing: RecordFraming(array: options.outputFormat == .json), out: out,
                    makeRenderer: { factory($0, false) })
            } catch {
                printError("imscope: \(error)")
                throw ExitCode(1)
            }
        }
    }
}
