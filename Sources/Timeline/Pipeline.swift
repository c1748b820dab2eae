import Capture
import EngineIO
import IMProtocol
import ImscopeCore
import TCPReassembly
import WebSocket

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How deep to decode; records of that layer are the output (`conn` and `diagnostic` records at every layer).
public enum Layer: String, CaseIterable, Sendable {
    case tcp, ws, eio, sio, im

    /// Whether decoding reaches `layer`.
    public func reaches(_ layer: Layer) -> Bool {
        Layer.allCases.firstIndex(of: self)! >= Layer.allCases.firstIndex(of: layer)!
    }
}

/// Everything the pipeline needs to know about a run.
public struct PipelineOptions: Sendable {
    public var layer: Layer = .im
    public var serverPorts: Set<UInt16> = [9092]
    public var anyPort = false
    public var tcpLimits = TCPReassembler.Limits()
    public var ipLimits = IPDefragmenter.Limits()
    public var wsLimits = WebSocketLimits()
    /// Reads ImMessages at layer `im` (nil: no ImMessage decoding).
    public var im: IMDecoder? = nil
    /// When set, each connection's reassembled bytes are written to `DIR/<conn>.c2s` and `DIR/<conn>.s2c`.
    public var writeStreamsDirectory: String? = nil
    public init() {}
}

/// What a run saw, for the summary line and the exit code.
public struct RunSummary: Sendable {
    public var packets: UInt64 = 0
    public var capturedBytes: UInt64 = 0
    public var tcpSegments: UInt64 = 0
    public var connections = 0
    public var diagnostics: [Severity: Int] = [:]
    public var readErrors = 0
    public var firstTimestamp: Timestamp? = nil
    public var lastTimestamp: Timestamp? = nil
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
final class PacketLoop {
    /// Packets between checkpoints, at most: with `--jobs`, how often batches go to the shards and shards hand their
    /// rendered records over (each hand-over can wake a thread). Small enough that the blocks a shard renders into
    /// are written again while still in its core's cache; 2048 left them cold (a tenth more of the run's samples in
    /// the copies into them) for no fewer wake-ups that mattered once the merger thread had gone.
    static let checkpointInterval = 512
    /// Captured bytes between checkpoints, at most: with large packets (a loopback capture's 64 KiB segments) the
    /// shards then still follow within a few MiB, which is how far behind the reader a file read in place is kept.
    static let checkpointBytes = 1 << 20
    let reassembler: TCPReassembler
    var decoder: PacketDecoder
    var summary = RunSummary()

    init(options: PipelineOptions) {
        reassembler = TCPReassembler(
            serverPorts: options.serverPorts, anyPort: options.anyPort, limits: options.tcpLimits)
        decoder = PacketDecoder(limits: options.ipLimits)
    }

    /// The packet loop: decodes every packet of `source` down to TCP, reassembles, and hands the TCP layer's
    /// events to `sink`, telling it where in the capture each comes from; then ends what is still open.
    func drive<Sink: CaptureSink>(_ source: PacketSource, sink: inout Sink, onPacket: ((Packet) -> Void)? = nil) {
        var segment = TCPSegment()
        var lastCtx = PacketContext(ts: Timestamp(nanoseconds: 0), frame: 0)
        var sinceCheckpoint = (packets: 0, bytes: 0)
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
                case .skip, .fragmentBuffered:
                    break
                case .problem(let kind, let message):
                    sink.diagnostic(Diagnostic(kind, message, ts: packet.ts, frame: packet.frame))
                }
                sink.position(frame: packet.frame, stage: .afterPacket)
                sinceCheckpoint.packets += 1
                sinceCheckpoint.bytes += packet.data.count
                if sinceCheckpoint.packets >= Self.checkpointInterval || sinceCheckpoint.bytes >= Self.checkpointBytes {
                    sink.checkpoint(frame: packet.frame)
                    sinceCheckpoint = (0, 0)
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
/// merge order of ``MergeKey``) each event comes from.
protocol CaptureSink: TCPStreamSink {
    /// The first packet's time (the origin of relative times).
    mutating func begin(origin: Timestamp)
    /// The events that follow come from handling packet `frame` at `stage`.
    mutating func position(frame: UInt64, stage: MergeKey.Stage)
    /// Every packet up to `frame` is handled (a point where output split between threads can be handed on).
    mutating func checkpoint(frame: UInt64)
    /// The capture ended and every connection is closed: end what is left (Engine.IO sessions, stream files).
    mutating func finish(at ctx: PacketContext)
}

/// Values under small numbers (a connection's `slot`), the numbers of removed values given out again.
struct SlotTable<Value> {
    private var values: [Value?] = []
    private var free: [Int] = []

    /// Stores `value` and returns its number.
    mutating func insert(_ value: Value) -> Int {
        if let slot = free.popLast() {
            values[slot] = value
            return slot
        }
        values.append(value)
        return values.count - 1
    }

    mutating func remove(at slot: Int) {
        values[slot] = nil
        free.append(slot)
    }

    subscript(slot: Int) -> Value? { values[slot] }
}

extension SlotTable where Value: AnyObject {
    /// Calls `body` with the object in `slot`, if there is one, lent without counting a reference to it: the table
    /// holds one throughout, as `body` must not remove the object. (Counting cost two atomic operations for every
    /// TCP segment a connection's decoder was handed.) The reference is read as the bits it is stored as: taking
    /// the element out of the array as a value, even only to wrap it in `Unmanaged`, counted it all the same (the
    /// compiler cannot tell that `body` leaves the table alone).
    @inline(__always)
    func lend(_ slot: Int, _ body: (Value) -> Void) {
        precondition(MemoryLayout<Value?>.size == MemoryLayout<UnsafeRawPointer>.size)  // a class: one pointer
        values.withUnsafeBufferPointer { stored in
            guard let bits = UnsafeRawPointer(stored.baseAddress! + slot).load(as: UnsafeRawPointer?.self) else {
                return
            }
            Unmanaged<Value>.fromOpaque(bits)._withUnsafeGuaranteedRef(body)
        }
    }
}

/// The TCP layer's events as records (`conn` open and close; gaps come as diagnostics from the reassembler), and
/// each connection's bytes handed to its ``ConnectionDecoder`` when decoding goes deeper than TCP.
struct TCPLayerSink: CaptureSink {
    let emitter: Emitter
    var streams: StreamFiles?
    let decodeApplication: Bool
    let layer: Layer
    let wsLimits: WebSocketLimits
    let sessions = EngineIOSessions()
    let im: IMDecoder?
    /// Per-connection decoders, indexed by `Connection.slot`.
    var decoders = SlotTable<ConnectionDecoder>()

    init(emitter: Emitter, options: PipelineOptions) throws(CaptureError) {
        self.emitter = emitter
        if let dir = options.writeStreamsDirectory { streams = try StreamFiles(directory: dir) }
        layer = options.layer
        decodeApplication = options.layer.reaches(.ws)
        wsLimits = options.wsLimits
        im = options.layer == .im ? options.im : nil
    }

    func begin(origin: Timestamp) { emitter.records.begin(origin: origin) }

    func position(frame: UInt64, stage: MergeKey.Stage) {
        emitter.frame = frame
        emitter.stage = stage
    }

    func checkpoint(frame: UInt64) {}

    /// Ends the Engine.IO sessions still open at the end of the capture (unanswered requests are reported), and
    /// closes the stream files.
    mutating func finish(at ctx: PacketContext) {
        for session in sessions.all() {
            emitter.order = session.registeredFrame
            ConnectionDecoder.finish(session, sessions: sessions, emitter: emitter, conn: nil, at: ctx)
        }
        streams?.closeAll()
    }

    func housekeeping(_ kind: Housekeeping?) { emitter.stage = MergeKey.Stage(kind) }

    mutating func opened(_ conn: Connection, at ctx: PacketContext) {
        emitter.emit(
            Record(
                ts: ctx.ts, frame: ctx.frame, conn: conn.id, dir: nil,
                body: .conn(
                    ConnRecord(event: .open, client: conn.client, server: conn.server, bytes: (0, 0), missing: (0, 0))))
        )
        guard decodeApplication else { return }
        let decoder = ConnectionDecoder(
            conn: conn, emitter: emitter, wsLimits: wsLimits, sessions: sessions, layer: layer, im: im)
        conn.slot = decoders.insert(decoder)
    }

    mutating func data(_ conn: Connection, _ dir: Direction, _ bytes: UnsafeRawBufferPointer, at ctx: PacketContext) {
        streams?.write(conn: conn.id, dir: dir, bytes)
        if conn.slot >= 0 { decoders.lend(conn.slot) { $0.data(dir, bytes, at: ctx) } }
    }

    mutating func gap(_ conn: Connection, _ dir: Direction, length: UInt64, cause: GapCause, at ctx: PacketContext) {
        if conn.slot >= 0 { decoders[conn.slot]!.gap(dir, length, at: ctx) }
    }

    mutating func closed(_ conn: Connection, reason: CloseReason, at ctx: PacketContext) {
        streams?.close(conn: conn.id)
        if conn.slot >= 0 {
            decoders[conn.slot]!.close(at: ctx)
            decoders.remove(at: conn.slot)
            conn.slot = -1
        }
        emitter.emit(
            Record(
                ts: ctx.ts, frame: ctx.frame, conn: conn.id, dir: nil,
                body: .conn(
                    ConnRecord(
                        event: .close(reason), client: conn.client, server: conn.server,
                        bytes: (conn.c2s.delivered, conn.s2c.delivered), missing: (conn.c2s.missing, conn.s2c.missing)))
            ))
    }

    func diagnostic(_ diagnostic: Diagnostic) {
        emitter.diagnostic(diagnostic)
    }
}

/// Writes reassembled streams to files, one per connection and direction (like tcpflow), for inspection and for
/// comparing with other tools. Missing bytes are not written.
final class StreamFiles {
    let directory: String
    var open: [Int: (c2s: Int32, s2c: Int32)] = [:]

    init(directory: String) throws(CaptureError) {
        self.directory = directory
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw CaptureError("cannot create \(directory): \(String(cString: strerror(errno)))")
        }
    }

    func write(conn: Int, dir: Direction, _ bytes: UnsafeRawBufferPointer) {
        var fds = open[conn] ?? (-1, -1)
        var fd = dir == .c2s ? fds.c2s : fds.s2c
        if fd < 0 {
            fd = Glibc.open("\(directory)/\(conn).\(dir.name)", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            if dir == .c2s { fds.c2s = fd } else { fds.s2c = fd }
            open[conn] = fds
        }
        guard fd >= 0 else { return }
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n <= 0 { return }
            offset += n
        }
    }

    func close(conn: Int) {
        guard let fds = open.removeValue(forKey: conn) else { return }
        if fds.c2s >= 0 { Glibc.close(fds.c2s) }
        if fds.s2c >= 0 { Glibc.close(fds.s2c) }
    }

    func closeAll() {
        for conn in Array(open.keys) { close(conn: conn) }
    }
}
