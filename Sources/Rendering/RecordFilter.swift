import IMProtocol
import ImscopeCore
import JSONScan
import Records

/// A record filter from the command line: `--filter KEY=VALUE[,VALUE...]`, repeatable. Filters are ANDed; the
/// values of one filter are ORed. A record passes a filter only if it has the field and the field matches.
///
/// Keys: `conn` (connection numbers), `dir` (`c2s`/`s2c`), `user` (fromId or destId of an ImMessage), `type`
/// (messageType numbers or typeNames), `event` (Socket.IO event names), `sid` (Engine.IO session), `kind`
/// (record kinds), `time` (`FROM..TO` seconds since the first packet, either end optional; values over 10⁹ are
/// taken as epoch seconds).
public struct RecordFilter: Sendable {
    public enum Field: String, CaseIterable, Sendable { case conn, dir, user, type, event, sid, kind, time }

    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
    }

    var conns: Set<Int>? = nil
    var dirs: Set<String>? = nil
    /// Each `user` filter given: a record passes when an id of its ImMessage is in every one.
    var users: [Set<String>]? = nil
    var types: Set<Int>? = nil
    var events: Set<String>? = nil
    var sids: Set<String>? = nil
    var kinds: Set<String>? = nil
    /// Each `time` filter given: a record passes when it is in every range.
    var timeRanges: [(from: Double?, to: Double?)]? = nil

    public init() {}

    public var isEmpty: Bool {
        conns == nil && dirs == nil && users == nil && types == nil && events == nil && sids == nil && kinds == nil
            && timeRanges == nil
    }

    /// Parses the `--filter` arguments; `table` resolves typeNames.
    public static func parse(_ specs: [String], table: MessageTypeTable?) throws(ParseError) -> RecordFilter {
        var f = RecordFilter()
        for spec in specs {
            let kv = spec.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2, let field = Field(rawValue: kv[0]) else {
                throw ParseError(
                    description: "filter \"\(spec)\" is not KEY=VALUE with KEY one of "
                        + Field.allCases.map(\.rawValue).joined(separator: ", "))
            }
            let values = kv[1].split(separator: ",").map(String.init)
            guard !values.isEmpty else { throw ParseError(description: "filter \"\(spec)\" has no value") }
            switch field {
            case .conn:
                var set = Set<Int>()
                for v in values {
                    guard let n = Int(v.hasPrefix("#") ? String(v.dropFirst()) : v) else {
                        throw ParseError(description: "conn=\(v): not a connection number")
                    }
                    set.insert(n)
                }
                f.conns = Self.and(f.conns, set)
            case .dir:
                for v in values where v != "c2s" && v != "s2c" {
                    throw ParseError(description: "dir=\(v): use c2s or s2c")
                }
                f.dirs = Self.and(f.dirs, Set(values))
            case .user: f.users = (f.users ?? []) + [Set(values)]
            case .event: f.events = Self.and(f.events, Set(values))
            case .sid: f.sids = Self.and(f.sids, Set(values))
            case .kind: f.kinds = Self.and(f.kinds, Set(values))
            case .type:
                var set = Set<Int>()
                for v in values {
                    if let n = Int(v) {
                        set.insert(n)
                    } else if let info = table?.lookup(v) {
                        set.insert(info.messageType)
                    } else {
                        throw ParseError(description: "type=\(v): not a messageType number or a typeName of the table")
                    }
                }
                f.types = Self.and(f.types, set)
            case .time:
                let parts = kv[1].components(separatedBy: "..")
                guard parts.count == 2 else { throw ParseError(description: "time=\(kv[1]): use FROM..TO") }
                let from = parts[0].isEmpty ? nil : Double(parts[0])
                let to = parts[1].isEmpty ? nil : Double(parts[1])
                if (!parts[0].isEmpty && from == nil) || (!parts[1].isEmpty && to == nil) {
                    throw ParseError(description: "time=\(kv[1]): FROM and TO are seconds")
                }
                f.timeRanges = (f.timeRanges ?? []) + [(from, to)]
            }
        }
        return f
    }

    /// The values a record may have to pass both an earlier filter of a key (`earlier`) and this one.
    static func and<T>(_ earlier: Set<T>?, _ values: Set<T>) -> Set<T> { earlier?.intersection(values) ?? values }

    /// Whether `r` passes, `origin` being the capture's first packet time.
    public func accepts(_ r: Record, origin: Timestamp?) -> Bool {
        if let conns { guard let c = r.conn, conns.contains(c) else { return false } }
        if let dirs { guard let d = r.dir, dirs.contains(d.name) else { return false } }
        if let kinds, !kinds.contains(r.kind) { return false }
        if let timeRanges {
            guard let ts = r.ts else { return false }
            let epoch = Double(ts.nanoseconds) / 1e9
            let relative = origin.map { ts.seconds(since: $0) } ?? epoch
            for range in timeRanges {
                if let from = range.from, (from > 1e9 ? epoch : relative) < from { return false }
                if let to = range.to, (to > 1e9 ? epoch : relative) > to { return false }
            }
        }
        if sids != nil || users != nil || types != nil || events != nil {
            var sid: String? = nil
            var im: IMMessage? = nil
            var event: String? = nil
            switch r.body {
            case .eio(let e): sid = e.sid
            case .sio(let s):
                sid = s.sid
                im = s.im
                event = Self.eventName(s)
            default: break
            }
            if let sids { guard let sid, sids.contains(sid) else { return false } }
            if let events { guard let event, events.contains(event) else { return false } }
            if let types { guard let t = im?.messageType, types.contains(t) else { return false } }
            if let users {
                guard case .sio(let s) = r.body, let im else { return false }
                let argument = s.imArgument
                let from = im.fromId?.string(in: argument)
                let to = im.destId?.string(in: argument)
                for any in users {
                    guard (from.map(any.contains) ?? false) || (to.map(any.contains) ?? false) else { return false }
                }
            }
        }
        return true
    }

    static func eventName(_ s: SIORecord) -> String? { s.message.packet.eventName(in: s.message.text) }
}

/// Passes on the records a filter accepts.
public final class FilteringSink: RecordSink {
    let next: RecordSink
    let filter: RecordFilter
    var origin: Timestamp? = nil

    public init(filter: RecordFilter, next: RecordSink) {
        self.filter = filter
        self.next = next
    }

    public func begin(origin: Timestamp) {
        self.origin = origin
        next.begin(origin: origin)
    }

    public func emit(_ record: Record) {
        if filter.accepts(record, origin: origin) { next.emit(record) }
    }

    public func finish() { next.finish() }
}
