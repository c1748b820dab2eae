import IMProtocol
import ImscopeCore
import SocketIO
import WebSocket

/// A timeline record that can be kept: ``Record`` with every borrowed view (a WebSocket payload, an Engine.IO
/// packet's data, a Socket.IO packet's text) copied into bytes it owns. Made only for a consumer that keeps records
/// (an audit, a report, a merge of `--jobs` shards' records); renderers take the borrowed ``Record`` on the fast
/// path. ``withRecord(_:)`` lends it as a ``Record`` again, so both forms render through the same code and to the
/// same bytes.
public struct OwnedRecord {
    public enum Body {
        case conn(ConnRecord)
        case http(HTTPRecord)
        /// The message with an empty `payload`; its bytes are in `payload`.
        case ws(WebSocketMessage, payload: [UInt8])
        /// The record with empty `data`; its bytes are in `data`.
        case eio(EIORecord, data: [UInt8])
        /// The record with an empty message `text`; its bytes are in `text` (the packet's and the ImMessage's
        /// ranges index them).
        case sio(SIORecord, text: [UInt8])
        case diagnostic(Diagnostic)
    }

    public var ts: Timestamp?
    public var frame: UInt64?
    public var conn: Int?
    public var dir: Direction?
    public var body: Body

    /// A copy of `record` that owns its bytes.
    public init(_ record: Record) {
        ts = record.ts
        frame = record.frame
        conn = record.conn
        dir = record.dir
        switch record.body {
        case .conn(let c): body = .conn(c)
        case .http(let h): body = .http(h)
        case .diagnostic(let d): body = .diagnostic(d)
        case .ws(let w):
            var message = w.message
            message.payload = Self.none
            body = .ws(message, payload: Array(w.message.payload))
        case .eio(let e):
            var kept = e
            kept.data = Self.none
            body = .eio(kept, data: Array(e.data))
        case .sio(let s):
            var kept = s
            kept.message.text = Self.none
            body = .sio(kept, text: Array(s.message.text))
        }
    }

    static var none: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }

    /// The JSONL `kind`.
    public var kind: String { withRecord { $0.kind } }

    /// Calls `body` with the record as a borrowed ``Record`` whose views point into this record's bytes (valid
    /// during the call, as every borrowed record's are).
    public func withRecord<R>(_ body: (Record) throws -> R) rethrows -> R {
        func lend(_ b: Record.Body) throws -> R {
            try body(Record(ts: ts, frame: frame, conn: conn, dir: dir, body: b))
        }
        switch self.body {
        case .conn(let c): return try lend(.conn(c))
        case .http(let h): return try lend(.http(h))
        case .diagnostic(let d): return try lend(.diagnostic(d))
        case .ws(var message, let payload):
            return try payload.withUnsafeBytes { bytes in
                message.payload = bytes
                return try lend(.ws(WSRecord(message: message)))
            }
        case .eio(var record, let data):
            return try data.withUnsafeBytes { bytes in
                record.data = bytes
                return try lend(.eio(record))
            }
        case .sio(var record, let text):
            return try text.withUnsafeBytes { bytes in
                record.message.text = bytes
                return try lend(.sio(record))
            }
        }
    }
}

extension OwnedRecord {
    /// A `sio` record's event name (nil for other records and packets without one).
    public var eventName: String? {
        guard case .sio(let s, let text) = body else { return nil }
        return text.withUnsafeBytes { s.message.packet.eventName(in: $0) }
    }

    /// A `sio` record's ImMessage.
    public var im: IMMessage? {
        guard case .sio(let s, _) = body else { return nil }
        return s.im
    }

    /// A text field of this record's ImMessage (`\.msgId`, `\.fromId`, …) as a string.
    public func imText(_ field: KeyPath<IMMessage, IMText?>) -> String? {
        guard let value = im?[keyPath: field] else { return nil }
        return withRecord { record in
            guard case .sio(let s) = record.body else { return nil }
            return value.string(in: s.imArgument)
        }
    }
}

/// Receives owned timeline records in order: a consumer that keeps them (an audit, a report). Fed by
/// ``OwningSink`` in a one-thread run, or by the merge of a `--jobs` run's shards in the same order.
public protocol OwnedRecordSink: AnyObject {
    /// Called once with the time of the capture's first packet, before any record.
    func begin(origin: Timestamp)
    func emit(_ record: OwnedRecord)
    /// Called once when the capture ends.
    func finish()
}

extension OwnedRecordSink {
    public func begin(origin: Timestamp) {}
}

/// A ``RecordSink`` that makes each record owned and hands it to an ``OwnedRecordSink``.
public final class OwningSink: RecordSink {
    public let next: OwnedRecordSink

    public init(_ next: OwnedRecordSink) { self.next = next }

    public func begin(origin: Timestamp) { next.begin(origin: origin) }
    public func emit(_ record: Record) { next.emit(OwnedRecord(record)) }
    public func finish() { next.finish() }
}
