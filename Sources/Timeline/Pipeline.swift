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
    /// With `--jobs N`: this pipeline decodes the connections whose client address falls in shard `index` of
    /// `count`, and emits only their records (and, for shard 0, the capture's own diagnostics).
    public var shard: (index: Int, count: Int)? = nil
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
    let reassembler: TCPReassembler
    var decoder: PacketDecoder
    var tcpSink: TCPLayerSink
    public private(set) var summary = RunSummary()

    public convenience init(options: PipelineOptions, records: RecordSink) throws(CaptureError) {
        try self.init(options: options, records: records, keyed: nil)
    }

    let keyed: ShardCollector?

    init(options: PipelineOptions, records: RecordSink, keyed: ShardCollector?) throws(CaptureError) {
        self.options = options
        self.records = records
        self.keyed = keyed
        reassembler = TCPReassembler(
            serverPorts: options.serverPorts, anyPort: options.anyPort, limits: options.tcpLimits)
        decoder = PacketDecoder(limits: options.ipLimits)
        var streams: StreamFiles? = nil
        if let dir = options.writeStreamsDirectory { streams = try StreamFiles(directory: dir) }
        tcpSink = TCPLayerSink(
            emitter: Emitter(records: records), streams: streams, layer: options.layer, wsLimits: options.wsLimits,
            im: options.layer == .im ? options.im : nil, shard: options.shard)
        tcpSink.emitter.keyed = keyed
    }

    /// Reads every packet of `source` and emits the timeline, then closes what is still open.
    public func run(_ source: PacketSource, onPacket: ((Packet) -> Void)? = nil) {
        var segment = TCPSegment()
        var lastCtx = PacketContext(ts: Timestamp(nanoseconds: 0), frame: 0)
        for input in source.inputSummaries where !LinkType.isSupported(input.linkType) {
            emitDiagnostic(
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
                    records.begin(origin: packet.ts)
                }
                summary.lastTimestamp = packet.ts
                let ctx = PacketContext(ts: packet.ts, frame: packet.frame)
                lastCtx = ctx
                let emitter = tcpSink.emitter
                emitter.frame = packet.frame
                emitter.stage = .packet
                switch decoder.decode(linkType: packet.linkType, packet.data, ts: packet.ts, into: &segment) {
                case .tcp:
                    summary.tcpSegments += 1
                    reassembler.process(segment, at: ctx, sink: &tcpSink)
                    if segment.payloadLength > segment.payload.count { reportTruncation(segment, packet, ctx) }
                case .skip, .fragmentBuffered:
                    break
                case .problem(let kind, let message):
                    emitDiagnostic(Diagnostic(kind, message, ts: packet.ts, frame: packet.frame))
                }
                emitter.stage = .afterPacket
                if let keyed, packet.frame % 512 == 0 {
                    // Every frame before this one is complete in this shard's output.
                    keyed.handOver(watermark: MergeKey(frame: packet.frame, stage: .start, order: 0, seq: 0))
                }
                if decoder.defragmenter.pending > 0 && packet.frame % 1024 == 0 {
                    for message in decoder.defragmenter.expire(now: packet.ts) {
                        emitDiagnostic(Diagnostic(.ipFragmentIncomplete, message, ts: packet.ts, frame: packet.frame))
                    }
                }
            },
            onError: { name, count, message in
                summary.readErrors += 1
                emitDiagnostic(
                    Diagnostic(
                        .captureReadError,
                        "\(name == "-" ? "standard input" : name): reading stopped after \(count) packets: \(message)",
                        ts: lastCtx.frame > 0 ? lastCtx.ts : nil, frame: lastCtx.frame > 0 ? lastCtx.frame : nil))
            })
        let emitter = tcpSink.emitter
        emitter.frame = lastCtx.frame
        emitter.stage = .endFragments
        for message in decoder.defragmenter.expire(now: nil) {
            emitDiagnostic(Diagnostic(.ipFragmentIncomplete, message, ts: lastCtx.ts, frame: lastCtx.frame))
        }
        emitter.stage = .endConnections
        reassembler.finishAll(at: lastCtx, sink: &tcpSink)
        emitter.stage = .endSessions
        tcpSink.finishSessions(at: lastCtx)
        tcpSink.streams?.closeAll()
        summary.connections = reassembler.connectionsSeen
        summary.diagnostics.merge(tcpSink.emitter.counts) { $0 + $1 }
        summary.diagnostics[.warning, default: 0] += tcpSink.emitter.imWarnings
        keyed?.handOver(watermark: .end)
        records.finish()
    }

    func emitDiagnostic(_ d: Diagnostic) {
        tcpSink.diagnostic(d)
    }

    func reportTruncation(_ segment: TCPSegment, _ packet: Packet, _ ctx: PacketContext) {
        guard let (conn, dir) = reassembler.connection(of: segment) else { return }
        emitDiagnostic(
            Diagnostic(
                .captureTruncated,
                "packet cut by the snapshot length (\(packet.data.count) of \(packet.wireLength) bytes captured): "
                    + "\(segment.missingTail) of \(segment.payloadLength) payload bytes missing",
                ts: ctx.ts, frame: ctx.frame, conn: conn.id, dir: dir))
    }
}

/// The TCP layer's events as records (`conn` open and close; gaps come as diagnostics from the reassembler), and
/// each connection's bytes handed to its ``ConnectionDecoder`` when decoding goes deeper than TCP.
struct TCPLayerSink: TCPStreamSink {
    let emitter: Emitter
    var streams: StreamFiles?
    let decodeApplication: Bool
    let layer: Layer
    let wsLimits: WebSocketLimits
    let sessions = EngineIOSessions()
    let im: IMDecoder?
    let shard: (index: Int, count: Int)?
    /// With a shard: which connections are this shard's (kept a while after they close, for late diagnostics).
    var ownership: [Int: Bool] = [:]
    var closedOwnership: [Int] = []
    /// Per-connection decoders, indexed by `Connection.slot`; slots of closed connections are reused.
    var decoders: [ConnectionDecoder?] = []
    var freeSlots: [Int] = []

    init(
        emitter: Emitter, streams: StreamFiles?, layer: Layer, wsLimits: WebSocketLimits, im: IMDecoder?,
        shard: (index: Int, count: Int)? = nil
    ) {
        self.im = im
        self.shard = shard
        self.emitter = emitter
        self.streams = streams
        self.layer = layer
        self.decodeApplication = layer.reaches(.ws)
        self.wsLimits = wsLimits
    }

    /// Ends the Engine.IO sessions still open at the end of the capture (unanswered requests are reported).
    func finishSessions(at ctx: PacketContext) {
        for session in sessions.all() {
            emitter.order = session.registeredFrame
            ConnectionDecoder.finish(session, sessions: sessions, emitter: emitter, conn: nil, at: ctx)
        }
    }

    /// Whether this pipeline decodes `conn` (always, without `--jobs`). A client's connections stay together, so an
    /// Engine.IO session's polling requests and WebSocket are decoded by one shard.
    func owns(_ conn: Connection) -> Bool {
        guard let shard else { return true }
        let a = conn.client.address
        var h = (a.hi ^ (a.lo &* 0x9E37_79B9_7F4A_7C15))
        h ^= h >> 29
        h = h &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 32
        return Int(h % UInt64(shard.count)) == shard.index
    }

    /// Whether a record about connection `id` (or about no connection) is this shard's to emit.
    func emits(conn id: Int?) -> Bool {
        guard let shard else { return true }
        guard let id, let owned = ownership[id] else { return shard.index == 0 }
        return owned
    }

    mutating func housekeeping(_ kind: Housekeeping?) {
        switch kind {
        case .sweep: emitter.stage = .sweep
        case .eviction: emitter.stage = .eviction
        case nil: emitter.stage = .packet
        }
    }

    mutating func opened(_ conn: Connection, at ctx: PacketContext) {
        if shard != nil {
            ownership[conn.id] = owns(conn)
            guard ownership[conn.id]! else { return }
        }
        emitter.emit(
            Record(
                ts: ctx.ts, frame: ctx.frame, conn: conn.id, dir: nil,
                body: .conn(
                    ConnRecord(event: .open, client: conn.client, server: conn.server, bytes: (0, 0), missing: (0, 0))))
        )
        guard decodeApplication else { return }
        let decoder = ConnectionDecoder(
            conn: conn, emitter: emitter, wsLimits: wsLimits, sessions: sessions, layer: layer, im: im)
        if let slot = freeSlots.popLast() {
            decoders[slot] = decoder
            conn.slot = slot
        } else {
            conn.slot = decoders.count
            decoders.append(decoder)
        }
    }

    mutating func data(_ conn: Connection, _ dir: Direction, _ bytes: UnsafeRawBufferPointer, at ctx: PacketContext) {
        if shard != nil && conn.slot < 0 && !emits(conn: conn.id) { return }
        streams?.write(conn: conn.id, dir: dir, bytes)
        if conn.slot >= 0 { decoders[conn.slot]!.data(dir, bytes, at: ctx) }
    }

    mutating func gap(_ conn: Connection, _ dir: Direction, length: UInt64, cause: GapCause, at ctx: PacketContext) {
        if conn.slot >= 0 { decoders[conn.slot]!.gap(dir, length, at: ctx) }
    }

    mutating func closed(_ conn: Connection, reason: CloseReason, at ctx: PacketContext) {
        if shard != nil {
            closedOwnership.append(conn.id)
            if closedOwnership.count > 131_072 {
                for id in closedOwnership.prefix(65_536) { ownership[id] = nil }
                closedOwnership.removeFirst(65_536)
            }
            guard emits(conn: conn.id) else { return }
        }
        streams?.close(conn: conn.id)
        if conn.slot >= 0 {
            decoders[conn.slot]!.close(at: ctx)
            decoders[conn.slot] = nil
            freeSlots.append(conn.slot)
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

    mutating func diagnostic(_ diagnostic: Diagnostic) {
        guard emits(conn: diagnostic.conn) else { return }
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
