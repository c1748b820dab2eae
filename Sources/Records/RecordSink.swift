import IMProtocol
import ImscopeCore
import SocketIO

/// Receives timeline records in order: a renderer, a filter in front of one, or a consumer that keeps them.
///
/// Records are borrowed: the views they hold (payloads, packet texts) are valid only during the call. A sink that
/// keeps records makes them owned (``OwnedRecord``) there; ``OwningSink`` does that for a ``OwnedRecordSink``.
public protocol RecordSink: AnyObject {
    /// Called once with the time of the capture's first packet, before any record.
    func begin(origin: Timestamp)
    func emit(_ record: Record)
    /// A `sio` record in its parts, borrowed from the decoder: the record of nearly every message, which a sink that
    /// renders it at once takes without the copies (and reference counting) of a ``Record`` holding a
    /// ``SIORecord``. The default builds that record and hands it to ``emit(_:)``.
    func emitSIO(
        _ place: RecordPlace, _ transport: Transport, sid: String?, version: Int, message: SocketIOMessage,
        im: IMMessage?)
    /// Called once when the capture ends, before the output is flushed.
    func finish()
}

extension RecordSink {
    public func begin(origin: Timestamp) {}

    public func emitSIO(
        _ place: RecordPlace, _ transport: Transport, sid: String?, version: Int, message: SocketIOMessage,
        im: IMMessage?
    ) {
        emit(Record(place, .sio(SIORecord(transport: transport, sid: sid, version: version, message: message, im: im))))
    }
}
