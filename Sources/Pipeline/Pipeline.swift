import Capture
import EngineIO
import HTTP1
import IMProtocol
import ImscopeCore
import Records
import SocketIO
import TCPReassembly
import WebSocket

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Everything the pipeline needs to know about a run.
public struct PipelineOptions: Sendable {
    public var layer: Layer = .im
    public var serverPorts: Set<UInt16> = [9092]
    public var anyPort = false
    public var tcpLimits = TCPReassembler.Limits()
    public var ipLimits = IPDefragmenter.Limits()
    public var httpLimits = HTTPLimits()
    public var wsLimits = WebSocketLimits()
    public var eioLimits = EngineIOLimits()
    public var sioLimits = SocketIOLimits()
    /// Reads ImMessages at layer `im` (nil: no ImMessage decoding).
    public var im: IMDecoder? = nil
    /// When set, each connection's reassembled bytes are written to `DIR/<conn>.c2s` and `DIR/<conn>.s2c`.
    public var writeStreamsDirectory: String? = nil
    public init() {}
}

/// Wires the layers: packets -> link/IP/TCP decoding -> TCP reassembly -> records -> a ``RecordSink``.
public final class Pipeline {
    public let options: PipelineOptions
    let records: RecordSink
    let loop: PacketLoop
    var tcpSink: TCPLayerSink
    public var summary: RunSummary { loop.summary }

    public init(options: PipelineOptions, records: RecordSink) throws(CaptureError) {
        self.options = options
        self.records = records
        loop = PacketLoop(options: options)
        tcpSink = try TCPLayerSink(emitter: Emitter(records: records), options: options)
    }

    /// Reads every packet of `source` and emits the timeline, then closes what is still open.
    public func run(_ source: PacketSource, onPacket: ((Packet) -> Void)? = nil) {
        loop.drive(source, sink: &tcpSink, onPacket: onPacket)
        loop.summary.diagnostics.merge(tcpSink.emitter.summaryCounts) { $0 + $1 }
        records.finish()
    }
}

/// Packets -> link/IP/TCP decoding -> TCP reassembly, driving a ``CaptureSink`` with the TCP layer's events.
public final class PacketLoop {
    /// Packets between checkpoints, at most: with `--jobs`, how often batches go to the shards and shards hand their
    /// rendered records over; small enough that a shard's blocks are reused while in its core's cache
    /// (Docs/performance.md).
    public static let checkpointInterval = 512
    /// Captured bytes between checkpoints, at most: with large packets (a loopback capture's 64 KiB segments) the
    /// shards then still follow within a few MiB, which is how far behind the reader a file read in place is kept.
    public static let checkpointBytes = 1 << 20
    /// Capture time between checkpoints, at most: what waits for the capture's time to pass (an ACK held for its
    /// request by a session that says nothing more) goes then, however few the packets.
    public static let checkpointNanoseconds: Int64 = 1_000_000_000
    let reassembler: TCPReassembler
    var decoder: PacketDecoder
    public var summary = RunSummary()

    public init(options: PipelineOptions) {
        reassembler = TCPReassembler(
            serverPorts: options.serverPorts, anyPort: options.anyPort, limits: options.tcpLimits)
        decoder = PacketDecoder(limits: options.ipLimits)
    }

    /// The packet loop: decodes every packet of `source` down to TCP, reassembles, and hands the TCP layer's
    /// events to `sink`, telling it where in the capture each comes from; then ends what is still open.
    public func drive<Sink: CaptureSink>(_ source: PacketSource, sink: inout Sink, onPacket: ((Packet) -> Void)? = nil)
    {
        var segment = TCPSegment()
        var lastCtx = PacketContext(ts: Timestamp(nanoseconds: 0), frame: 0)
        var sinceCheckpoint = (packets: 0, bytes: 0)
        var lastCheckpoint: Int64? = nil
        for input in source.inputSummaries where !LinkType.isSupported(input.linkType) {
            sink.diagnostic(
                Diagnostic(
                    .captureUnsupportedLink,
                    "\(input.name): link type \(LinkType.name(input.linkType)) is not decoded; its packets are skipped")
            )
        }
        source.forEach(
            { packet in
                onPacket?(packet)
                summary.packets += 1
                summary.capturedBytes += UInt64(packet.data.count)
                if summary.firstTimestamp == nil {
                    summary.firstTimestamp = packet.ts
                    sink.begin(origin: packet.ts)
                }
                summary.lastTimestamp = packet.ts
                let ctx = PacketContext(ts: packet.ts, frame: packet.frame)
                lastCtx = ctx
                sink.position(frame: packet.frame, stage: .packet)
                switch decoder.decode(linkType: packet.linkType, packet.data, ts: packet.ts, into: &segment) {
                case .tcp:
                    summary.tcpSegments += 1
                    reassembler.process(segment, at: ctx, sink: &sink)
                    if segment.payloadLength > segment.payload.count {
                        reportTruncation(segment, packet, ctx, sink: &sink)
                    }
                    reassembler.afterPacket(at: ctx, sink: &sink)
                case .skip, .fragmentBuffered:
                    break
                case .problem(let kind, let message):
                    sink.diagnostic(Diagnostic(kind, message, ts: packet.ts, frame: packet.frame))
                }
                sink.position(frame: packet.frame, stage: .afterPacket)
                sinceCheckpoint.packets += 1
                sinceCheckpoint.bytes += packet.data.count
                let time = packet.ts.nanoseconds &- (lastCheckpoint ?? packet.ts.nanoseconds)
                if sinceCheckpoint.packets >= Self.checkpointInterval || sinceCheckpoint.bytes >= Self.checkpointBytes
                    || time >= Self.checkpointNanoseconds
                {
                    sink.checkpoint(at: ctx)
                    sinceCheckpoint = (0, 0)
                    lastCheckpoint = packet.ts.nanoseconds
                } else if lastCheckpoint == nil {
                    lastCheckpoint = packet.ts.nanoseconds
                }
                if decoder.defragmenter.pending > 0 && packet.frame % 1024 == 0 {
                    for message in decoder.defragmenter.expire(now: packet.ts) {
                        sink.diagnostic(Diagnostic(.ipFragmentIncomplete, message, ts: packet.ts, frame: packet.frame))
                    }
                }
            },
            onError: { name, count, message in
                summary.readErrors += 1
                sink.diagnostic(
                    Diagnostic(
                        .captureReadError,
                        "\(name == "-" ? "standard input" : name): reading stopped after \(count) packets: \(message)",
                        ts: lastCtx.frame > 0 ? lastCtx.ts : nil, frame: lastCtx.frame > 0 ? lastCtx.frame : nil))
            })
        sink.position(frame: lastCtx.frame, stage: .endFragments)
        for message in decoder.defragmenter.expire(now: nil) {
            sink.diagnostic(Diagnostic(.ipFragmentIncomplete, message, ts: lastCtx.ts, frame: lastCtx.frame))
        }
        sink.position(frame: lastCtx.frame, stage: .endConnections)
        reassembler.finishAll(at: lastCtx, sink: &sink)
        // The summary is complete before the sink's end: with `--jobs`, the merger reads it once every shard has
        // seen the end (handed over under the shards' locks).
        summary.connections = reassembler.connectionsSeen
        sink.position(frame: lastCtx.frame, stage: .endSessions)
        sink.finish(at: lastCtx)
    }

    func reportTruncation<Sink: CaptureSink>(
        _ segment: TCPSegment, _ packet: Packet, _ ctx: PacketContext, sink: inout Sink
    ) {
        guard let (conn, dir) = reassembler.connection(of: segment) else { return }
        sink.diagnostic(
            Diagnostic(
                .captureTruncated,
                "packet cut by the snapshot length (\(packet.data.count) of \(packet.wireLength) bytes captured): "
                    + "\(segment.missingTail) of \(segment.payloadLength) payload bytes missing",
                ts: ctx.ts, frame: ctx.frame, conn: conn.id, dir: dir))
    }
}

/// What the packet loop drives: a consumer of the TCP layer's events, told where in the capture (and so in the
/// timeline order: ``PipelineStage``) each event comes from.
public protocol CaptureSink: TCPStreamSink {
    /// The first packet's time (the origin of relative times).
    mutating func begin(origin: Timestamp)
    /// The events that follow come from handling packet `frame` at `stage`.
    mutating func position(frame: UInt64, stage: PipelineStage)
    /// Every packet up to `ctx`'s is handled (a point where output split between threads can be handed on, and
    /// where what waits for capture time to pass is checked: at least every ``PacketLoop/checkpointNanoseconds``
    /// of it).
    mutating func checkpoint(at ctx: PacketContext)
    /// The capture ended and every connection is closed: end what is left (Engine.IO sessions, stream files).
    mutating func finish(at ctx: PacketContext)
}
