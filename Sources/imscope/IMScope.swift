import ArgumentParser

@main
struct IMScope: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imscope",
        abstract: "Record, decode, audit and replay Socket.IO instant-messaging traffic.",
        discussion: """
            Reads pcap/pcapng captures (or a live interface), reassembles TCP, and prints an annotated timeline.
            See Docs/user-guide.md.
            """,
        version: "0.1.0",
        subcommands: [
            Read.self, Live.self, Stats.self, Audit.self, Report.self, Export.self, Replay.self, Types.self,
            Diagnostics.self,
        ],
        defaultSubcommand: nil
    )
}
