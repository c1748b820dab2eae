import Capture
import Foundation
import ImscopeCore
import Pipeline
import Records
import Rendering

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Decodes `source` with `jobs` decoding shards (everything above TCP, and rendering), the first of them on the
/// reader thread (packets, IP, TCP reassembly) and each other on a thread of its own, and writes the merged
/// records — byte for byte the output of a single-threaded run — to `out`. `makeRenderer` makes a shard's renderer
/// writing records as lines into the buffer it is given; `framing` frames them in `out` as the renderer would have.
public func runSharded(
    source: PacketSource, options: PipelineOptions, jobs: Int, framing: RecordFraming, out: OutputBuffer,
    makeRenderer: @escaping @Sendable (OutputBuffer) -> RecordSink
) throws(CaptureError) -> RunSummary {
    try run(source: source, options: options, jobs: jobs, target: .bytes(out, framing)) {
        let buffer = OutputBuffer(fd: -1, threshold: 4 << 20)
        return (makeRenderer(buffer), buffer)
    }
}

/// Decodes `source` with `jobs` decoding shards as ``runSharded(source:options:jobs:framing:out:makeRenderer:)``
/// does, and hands every record, owned, to `sink` — from all shards, in the order of a single-threaded run (the
/// records a ``OwningSink`` in front of `sink` would have been given by ``Pipeline``). For a consumer that follows
/// records across connections (a sender and its recipients are decoded by different shards).
public func runShardedRecords(source: PacketSource, options: PipelineOptions, jobs: Int, into sink: OwnedRecordSink)
    throws(CaptureError) -> RunSummary
{
    try run(source: source, options: options, jobs: jobs, target: .records(sink)) { (nil, nil) }
}

func run(
    source: PacketSource, options: PipelineOptions, jobs: Int, target: Merger.Target,
    renderer: () -> (RecordSink?, OutputBuffer?)
) throws(CaptureError) -> RunSummary {
    let channel = ShardChannel(shards: jobs, target: target)
    // Spinning before sleeping pays only when every thread has a core: the reader's and each other shard's.
    let spins = jobs <= sysconf(Int32(_SC_NPROCESSORS_ONLN))
    var shards: [DecodeShard] = []
    for shard in 0..<jobs {
        let (shardRenderer, out) = renderer()
        let collector = ShardCollector(renderer: shardRenderer, out: out, channel: channel, shard: shard)
        var own = options
        own.im = options.im?.isolatedCopy()
        shards.append(try DecodeShard(options: own, collector: collector, spins: spins))
    }
    final class Reader: @unchecked Sendable {
        let loop: PacketLoop
        let source: PacketSource
        var sink: DispatchSink
        init(_ l: PacketLoop, _ s: PacketSource, _ sink: DispatchSink) {
            loop = l
            source = s
            self.sink = sink
        }
        func run() {
            loop.drive(source, sink: &sink)
            sink.inline.finish()
        }
    }
    let reader = Reader(
        PacketLoop(options: options), source,
        DispatchSink(
            inline: shards[0], inboxes: shards.dropFirst().map(\.inbox), source: source,
            needsBytes: options.layer.reaches(.ws) || options.writeStreamsDirectory != nil))
    // The shards read stream bytes where they lie in the file, up to 8 batches of at most 1 MiB behind the reader:
    // its pages are kept that long.
    source.keepRecords(bytes: 8 << 20)
    for shard in shards.dropFirst() {
        let thread = Thread { shard.run() }
        thread.stackSize = 8 << 20
        thread.start()
    }
    let readerThread = Thread { reader.run() }
    readerThread.stackSize = 8 << 20
    readerThread.start()
    channel.waitForEnd()
    // The records are all written only after every shard's end, which comes after the reader's last event.
    var summary = reader.loop.summary
    for shard in channel.summaries { summary.merge(shard!) }
    return summary
}
