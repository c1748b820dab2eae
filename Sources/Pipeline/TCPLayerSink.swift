import Capture
import EngineIO
import IMProtocol
import ImscopeCore
import Records
import TCPReassembly
import WebSocket

/// The TCP layer's events as records (`conn` open and close; gaps come as diagnostics from the reassembler), and
/// each connection's bytes handed to its ``ConnectionDecoder`` when decoding goes deeper than TCP.
public struct TCPLayerSink: CaptureSink {
    public let emitter: Emitter
    public var streams: StreamFiles?
    let decodeApplication: Bool
    let options: PipelineOptions
    let sessions: Sessions
    let acks = AckHolds()
    let memory = ThreadMemory()
    /// Per-connection decoders, indexed by `Connection.slot`.
    public var decoders = SlotTable<ConnectionDecoder>()

    public init(records: RecordSink, options: PipelineOptions) throws(CaptureError) {
        try self.init(emitter: Emitter(records: records), options: options)
    }

    init(emitter: Emitter, options: PipelineOptions) throws(CaptureError) {
        self.emitter = emitter
        if let dir = options.writeStreamsDirectory { streams = try StreamFiles(directory: dir) }
        self.options = options
        decodeApplication = options.layer.reaches(.ws)
        sessions = Sessions(limits: options.eioLimits)
    }

    public func begin(origin: Timestamp) { emitter.records.begin(origin: origin) }

    public func position(frame: UInt64, stage: PipelineStage) {
        emitter.frame = frame
        emitter.stage = stage
    }

    /// Lets go of the ACKs held past their reorder window by sessions that said nothing since.
    public func checkpoint(at ctx: PacketContext) {
        if !acks.isEmpty { acks.expire(now: ctx.ts, emitter: emitter) }
    }

    /// Ends the Engine.IO sessions still open at the end of the capture (ACKs still held for their requests are
    /// delivered unmatched, unanswered requests are reported), and closes the stream files.
    public mutating func finish(at ctx: PacketContext) {
        for session in sessions.all() {
            emitter.order = session.registeredFrame
            ConnectionDecoder.finish(session, sessions: sessions, acks: acks, emitter: emitter, conn: nil, at: ctx)
        }
        acks.releaseAll(emitter: emitter)
        streams?.closeAll()
        emitter.releaseAll()
    }

    public func holding(_ conn: Connection, from frame: UInt64?) { emitter.hold(.tcp, conn: conn.id, from: frame) }

    public func housekeeping(_ kind: Housekeeping?) { emitter.stage = PipelineStage(kind) }

    public mutating func opened(_ conn: Connection, at ctx: PacketContext) {
        emitter.emit(
            Record(
                ts: ctx.ts, frame: ctx.frame, conn: conn.id, dir: nil,
                body: .conn(
                    ConnRecord(event: .open, client: conn.client, server: conn.server, bytes: (0, 0), missing: (0, 0))))
        )
        guard decodeApplication else { return }
        let decoder = ConnectionDecoder(
            conn: conn, emitter: emitter, sessions: sessions, acks: acks, memory: memory, options: options)
        conn.slot = decoders.insert(decoder)
    }

    public mutating func data(
        _ conn: Connection, _ dir: Direction, _ bytes: UnsafeRawBufferPointer, at ctx: PacketContext
    ) {
        streams?.write(conn: conn.id, dir: dir, bytes)
        guard conn.slot >= 0 else { return }
        if ctx.frame < emitter.frame {
            emitter.placed(at: ctx.frame) { decoders.lend(conn.slot) { $0.data(dir, bytes, at: ctx) } }
        } else {
            decoders.lend(conn.slot) { $0.data(dir, bytes, at: ctx) }
        }
    }

    public mutating func gap(
        _ conn: Connection, _ dir: Direction, length: UInt64, cause: GapCause, at ctx: PacketContext
    ) {
        if conn.slot >= 0 { emitter.placed(at: ctx.frame) { decoders[conn.slot]!.gap(dir, length, at: ctx) } }
    }

    public mutating func closed(_ conn: Connection, reason: CloseReason, at ctx: PacketContext) {
        emitter.placed(at: ctx.frame) { closeConnection(conn, reason: reason, at: ctx) }
    }

    mutating func closeConnection(_ conn: Connection, reason: CloseReason, at ctx: PacketContext) {
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
        emitter.dropHolds(conn: conn.id)
    }

    public func diagnostic(_ diagnostic: Diagnostic) {
        emitter.placed(at: diagnostic.frame ?? .max) { emitter.diagnostic(diagnostic) }
    }
}
