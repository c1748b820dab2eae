import ArgumentParser
import CPcap
import Capture
import ImscopeCore
import Pipeline
import Records
import Rendering

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The running capture, for the signal handlers (SIGINT, SIGTERM, SIGALRM) to stop; libpcap returns to the
/// loop at least every 100 ms, so a stop takes effect promptly.
nonisolated(unsafe) var liveSource: PacketSource? = nil

extension IMScope {
    struct Live: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "live",
            abstract: "Capture from an interface and print the timeline as it happens; optionally record.",
            discussion: """
                Needs the capture privilege (root or CAP_NET_RAW). Stops on Ctrl-C, after --count packets or \
                --duration seconds; the recording (-w) is a pcap file with the interface's link type.
                """)

        @Option(name: .shortAndLong, help: "Interface to capture on (e.g. lo, eth0, any).")
        var interface: String

        @Option(
            name: .shortAndLong, help: ArgumentHelp("Also record the packets to this pcap file.", valueName: "file"))
        var write: String?

        @Option(name: .shortAndLong, help: "Stop after this many packets.")
        var count: UInt64?

        @Option(help: "Stop after this many seconds.")
        var duration: Double?

        @Option(help: "Snapshot length: bytes kept per packet.")
        var snaplen: Int32 = 262_144

        @OptionGroup var options: DecodeOptions

        func run() throws {
            var filter = options.captureFilter
            if filter == nil && !options.anyPort {
                filter = "tcp and (" + options.port.map { "port \($0)" }.joined(separator: " or ") + ")"
            }
            let source: PacketSource
            do {
                source = try PacketSource(interface: interface, snaplen: snaplen, filter: filter)
            } catch {
                printError("imscope: \(error)")
                throw ExitCode(1)
            }
            var dumper: OpaquePointer? = nil
            if let write {
                do { dumper = try source.openDump(write) } catch {
                    printError("imscope: \(error)")
                    throw ExitCode(1)
                }
            }
            liveSource = source
            signal(SIGINT) { _ in liveSource?.requestStop() }
            signal(SIGTERM) { _ in liveSource?.requestStop() }
            if let duration {
                // SIGALRM stops the loop even when no packet arrives.
                signal(SIGALRM) { _ in liveSource?.requestStop() }
                var timer = itimerval()
                timer.it_value.tv_sec = Int(duration)
                timer.it_value.tv_usec = Int((duration - duration.rounded(.down)) * 1e6)
                setitimer(__itimer_which_t(ITIMER_REAL.rawValue), &timer, nil)
            }
            let renderer = try options.makeRenderer(lineBuffered: true)
            let pipeline = try Pipeline(options: try options.pipelineOptions(), records: renderer)
            var seen: UInt64 = 0
            pipeline.run(source) { _ in
                if let dumper {
                    source.dump(dumper)
                    pcap_dump_flush(dumper)
                }
                seen += 1
                if let count, seen >= count { source.requestStop() }
            }
            if let dumper { pcap_dump_close(dumper) }
            if let stats = source.liveStatistics() {
                printError("imscope: \(seen) packets captured, \(stats.dropped) dropped by the kernel")
            }
            throw options.exitCode(pipeline.summary)
        }
    }
}
