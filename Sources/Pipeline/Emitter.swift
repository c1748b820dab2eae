import IMProtocol
import ImscopeCore
import Records
import SocketIO
import TCPReassembly

/// The stage of handling a packet (or of ending the capture) at which a record is emitted: with the packet's
/// frame, where the record stands in the timeline. A run split between threads (`--jobs`) orders records by it.
public enum PipelineStage: UInt8, Sendable, Comparable {
    case start = 0, sweep, eviction, packet, afterPacket, endFragments, endConnections, endSessions
    public static func < (a: PipelineStage, b: PipelineStage) -> Bool { a.rawValue < b.rawValue }

    /// Housekeeping and the end of the capture act connection by connection, in connection order.
    public var byConnection: Bool { self == .sweep || self == .eviction || self == .endConnections }

    /// The stage of the reassembler's housekeeping `kind`; nil is back to the packet at hand.
    public init(_ kind: Housekeeping?) {
        switch kind {
        case .sweep: self = .sweep
        case .eviction: self = .eviction
        case nil: self = .packet
        }
    }
}

/// Where records go: the sink, with diagnostics counted for `--strict` and the summary; and where in the capture
/// the pipeline is as it emits them (``frame``, ``stage``, ``order``), for a sink that orders records from several
/// threads.
public final class Emitter {
    public let records: RecordSink
    var counts: [Severity: Int] = [:]
    /// Rule warnings carried on `im` objects (they count as warnings for `--strict`).
    var imWarnings = 0
    /// The packet being handled.
    public internal(set) var frame: UInt64 = 0
    public internal(set) var stage = PipelineStage.start
    /// At the end of the capture, the frame in which the Engine.IO session being ended was registered (sessions
    /// end in that order).
    public internal(set) var order: UInt64 = 0

    init(records: RecordSink) { self.records = records }

    /// Diagnostics emitted by severity, with the rule warnings on `im` objects counted as warnings (the summary).
    public var summaryCounts: [Severity: Int] {
        var c = counts
        c[.warning, default: 0] += imWarnings
        return c
    }

    @inline(__always)
    func emit(_ record: Record) { records.emit(record) }

    /// A `sio` record in parts (see ``RecordSink/emitSIO(_:_:sid:version:message:im:)``).
    @inline(__always)
    func emitSIO(
        _ place: RecordPlace, _ transport: Transport, sid: String?, version: Int, message: SocketIOMessage,
        im: IMMessage?
    ) {
        records.emitSIO(place, transport, sid: sid, version: version, message: message, im: im)
    }

    func diagnostic(_ d: Diagnostic) {
        counts[d.severity, default: 0] += 1
        emit(Record(d))
    }
}
