import ArgumentParser
import Audit
import Foundation

extension IMScope {
    struct Audit: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "audit",
            abstract: "Follow every ImMessage from its send to its deliveries: was it delivered, acked, how fast.",
            discussion: """
                Each message (by msgId) across connections and sessions: the sender's upstream event, the server's \
                ACK, each recipient's downstream event; its status (delivered, undelivered, unobserved, unacked, \
                nacked, duplicated, not-routed, unknown-gap) and latencies. Several files are merged in time order. \
                See Docs/audit.md.
                """)

        @Argument(help: ArgumentHelp("Capture files (pcap or pcapng).", valueName: "file"))
        var files: [String]

        @Option(help: "Server port of the Socket.IO traffic (repeatable).")
        var port: [UInt16] = [9092]

        @Flag(help: "Take Socket.IO traffic on any port.")
        var anyPort = false

        @Option(help: "text (default) or json ({\"messages\": [...], \"summary\": {...}}).")
        var format: AuditFormat = .text

        @Option(
            help: ArgumentHelp(
                "Exit 3 when a message has one of these statuses (comma-separated), e.g. undelivered,unacked.",
                valueName: "statuses"))
        var failOn: String?

        enum AuditFormat: String, ExpressibleByArgument {
            case text, json
        }

        /// The statuses of `--fail-on`.
        func failStatuses() throws -> Set<AuditStatus> {
            guard let failOn else { return [] }
            var out = Set<AuditStatus>()
            for name in failOn.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                guard let status = AuditStatus(rawValue: name) else {
                    throw ValidationError(
                        "--fail-on: '\(name)' is no status (\(AuditStatus.allCases.map(\.rawValue).joined(separator: ", ")))"
                    )
                }
                out.insert(status)
            }
            return out
        }

        func validate() throws { _ = try failStatuses() }

        func run() throws {
            let audit = MessageAudit()
            do {
                guard try readOwnedRecords(files: files, ports: port, anyPort: anyPort, into: audit) else {
                    printError("audit: error: cannot read \(files.joined(separator: ", "))")
                    throw ExitCode(2)
                }
            } catch let exit as ExitCode {
                throw exit
            } catch {
                printError("audit: error: \(error)")
                throw ExitCode(2)
            }
            let messages = audit.messages
            switch format {
            case .json: print(AuditReport.json(messages, origin: audit.startTime))
            case .text: print(AuditReport.text(messages), terminator: "")
            }
            let failing = try failStatuses()
            let hits = messages.filter { failing.contains($0.status) }
            if !hits.isEmpty {
                printError("audit: \(hits.count) message\(hits.count == 1 ? "" : "s") \(failOn ?? ""): exit 3")
                throw ExitCode(3)
            }
        }
    }
}
