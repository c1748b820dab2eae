import Foundation
import ImscopeCore
import SocketIO

/// A ``ReplayScript`` as the JSON file `imscope export` writes and `imscope replay SCRIPT.json` runs: readable,
/// editable, deterministic (keys sorted, two-space indentation, times to the microsecond), so that it diffs well
/// in review. Docs/replay-script.md and Docs/replay-script.schema.json describe it.
///
/// What a client sends is kept as JSON values (`data`: an event's array, its name first), so an edit changes what
/// is sent; a payload that was not valid JSON is kept as its text (`dataText`). Binary attachments are base64.
public enum ScriptJSON {
    public static let format = "imscope-replay-script"
    public static let version = 1

    // MARK: writing

    /// The script as the export file's text (ending in a newline). `ignore`: the ignore patterns to write with it.
    public static func render(_ script: ReplayScript, source: String?, ignore: [String] = []) -> String {
        var top: [String: JSONValue] = [
            "format": .string(format), "version": .number(String(version)),
            "ignore": .array(ignore.map(JSONValue.string)),
            "clients": .array(script.clients.map(client)),
        ]
        if let source { top["source"] = .string(source) }
        return JSONValue.object(top).pretty + "\n"
    }

    static func client(_ c: ScriptClient) -> JSONValue {
        var o: [String: JSONValue] = [
            "name": .string(c.name), "user": c.user.map(JSONValue.string) ?? .null,
            "conns": .array(c.conns.map { .number(String($0)) }), "sid": .string(c.sid),
            "socketSids": .array(c.socketSids.map(JSONValue.string)),
            "engineIO": .number(String(c.engineIOVersion)), "transport": .string(c.transport.rawValue),
            "path": .string(c.path),
            "query": .array(c.query.map { .array([.string($0.name), .string($0.value)]) }),
            "headers": .array(c.headers.map { .array([.string($0.name), .string($0.value)]) }),
            "start": seconds(c.start), "frame": c.frame.map { .number(String($0)) } ?? .null,
            "steps": .array(c.steps.map(step)),
            "expected": .array(c.expected.enumerated().map { expectation($1, index: $0) }),
        ]
        if c.user == nil { o["user"] = .null }
        return .object(o)
    }

    static func step(_ s: ScriptStep) -> JSONValue {
        var o: [String: JSONValue] = [
            "at": seconds(s.time), "frame": s.frame.map { .number(String($0)) } ?? .null,
            "after": s.after.map { .number(String($0)) } ?? .null,
        ]
        if let answers = s.answers { o["answers"] = .number(String(answers)) }
        switch s.action {
        case .disconnect: o["disconnect"] = .bool(true)
        case .send(let p): o["send"] = packet(p)
        }
        return .object(o)
    }

    static func packet(_ p: SocketIOOutgoingPacket) -> JSONValue {
        var o: [String: JSONValue] = ["type": .string(p.type.name), "namespace": .string(p.namespace)]
        if let id = p.ackId { o["ackId"] = .number(String(id)) }
        if let data = p.data {
            if let value = try? JSONValue(parsing: data) {
                o["data"] = value
            } else {
                o["dataText"] = .string(String(decoding: data, as: UTF8.self))
            }
        }
        if !p.attachments.isEmpty { o["attachments"] = .array(p.attachments.map { .string(Base64.encode($0)) }) }
        return .object(o)
    }

    static func expectation(_ m: ServerMessage, index: Int) -> JSONValue {
        var o: [String: JSONValue] = [
            "#": .number(String(index)), "kind": .string(m.kind.rawValue), "namespace": .string(m.namespace),
            "args": .array(m.args), "at": seconds(m.time), "frame": m.frame.map { .number(String($0)) } ?? .null,
        ]
        if let name = m.name { o["name"] = .string(name) }
        if let id = m.ackId { o["ackId"] = .number(String(id)) }
        if !m.attachments.isEmpty { o["attachments"] = .array(m.attachments.map { .string(Base64.encode($0)) }) }
        return .object(o)
    }

    static func seconds(_ s: Double) -> JSONValue { .number(String(format: "%.6f", s)) }

    // MARK: reading

    /// Why a script cannot be run: where (a line and column for bad JSON, a path such as
    /// `clients[0].steps[3].send.type` for a value that is wrong) and what.
    public struct ReadError: Error, CustomStringConvertible, Sendable {
        public var message: String
        public var description: String { message }
    }

    /// Reads a script file's bytes; returns the script and the ignore patterns it carries. Throws ``ReadError``.
    public static func parse(_ bytes: [UInt8]) throws -> (script: ReplayScript, ignore: [String]) {
        let root: JSONValue
        do {
            root = try JSONValue(parsing: bytes)
        } catch {
            throw ReadError(message: "not valid JSON\(position(ofErrorIn: bytes))")
        }
        let top = try Field(root, "")
        guard case .string(format)? = try top.optional("format")?.value else {
            throw ReadError(message: "format: not an imscope replay script (\"format\": \"\(format)\" missing)")
        }
        let v = try top.int("version")
        guard v == version else { throw ReadError(message: "version: \(v) is not a version this imscope reads (1)") }
        let ignore = try top.optional("ignore")?.array().map { try $0.string() } ?? []
        let clients = try top.field("clients").array().map(readClient)
        return (ReplayScript(clients: clients), ignore)
    }

    static func readClient(_ f: Field) throws -> ScriptClient {
        let transportName = try f.field("transport").string()
        guard let transport = ScriptTransport(rawValue: transportName) else {
            throw try f.field("transport").error("\"\(transportName)\" is not websocket, polling or polling+websocket")
        }
        let engineIO = try f.int("engineIO")
        guard engineIO == 3 || engineIO == 4 else { throw try f.field("engineIO").error("must be 3 or 4") }
        let expected = try f.field("expected").array().map(readExpectation)
        let steps = try f.field("steps").array().map { (s: Field) throws -> ScriptStep in
            let step = try readStep(s)
            for (key, index) in [("after", step.after), ("answers", step.answers)] {
                if let index, !expected.indices.contains(index) {
                    throw try s.field(key).error("\(index) is not the index (#) of an expected message")
                }
            }
            return step
        }
        let path = try f.field("path").string()
        guard path.hasPrefix("/") else { throw try f.field("path").error("must start with /") }
        return ScriptClient(
            name: try f.field("name").string(), user: try f.optional("user")?.stringOrNull(),
            conns: try f.optional("conns")?.array().map { try $0.int() } ?? [],
            sid: try f.optional("sid")?.string() ?? "",
            socketSids: try f.optional("socketSids")?.array().map { try $0.string() } ?? [],
            engineIOVersion: engineIO, transport: transport, path: path,
            query: try f.optional("query")?.array().map(pair) ?? [],
            headers: try f.optional("headers")?.array().map(pair) ?? [],
            start: try f.double("start"), frame: try f.optional("frame")?.uint64OrNull(), steps: steps,
            expected: expected)
    }

    static func pair(_ f: Field) throws -> (name: String, value: String) {
        let items = try f.array()
        guard items.count == 2 else { throw f.error("expected [name, value]") }
        return (try items[0].string(), try items[1].string())
    }

    static func readStep(_ f: Field) throws -> ScriptStep {
        let action: ScriptStep.Action
        switch (try f.optional("send"), try f.optional("disconnect")) {
        case (let send?, nil): action = .send(try readPacket(send))
        case (nil, let d?):
            guard case .bool(true) = d.value else { throw d.error("must be true") }
            action = .disconnect
        default: throw f.error("a step has either \"send\" or \"disconnect\": true")
        }
        return ScriptStep(
            action: action, time: try f.double("at"), frame: try f.optional("frame")?.uint64OrNull(),
            after: try f.optional("after")?.intOrNull(), answers: try f.optional("answers")?.intOrNull())
    }

    static func readPacket(_ f: Field) throws -> SocketIOOutgoingPacket {
        let typeName = try f.field("type").string()
        guard let type = SocketIOPacketType.allCases.first(where: { $0.name == typeName }) else {
            let names = SocketIOPacketType.allCases.map(\.name).joined(separator: ", ")
            throw try f.field("type").error("\"\(typeName)\" is not one of \(names)")
        }
        var data: [UInt8]? = nil
        if let text = try f.optional("dataText") {
            data = Array(try text.string().utf8)
        } else if let value = try f.optional("data") {
            data = Array(value.value.json.utf8)
        }
        let attachments = try f.optional("attachments")?.array().map(bytes) ?? []
        if type.isBinary == attachments.isEmpty {
            throw f.error(
                type.isBinary ? "a \(typeName) needs attachments" : "only BINARY_EVENT and BINARY_ACK carry attachments"
            )
        }
        return SocketIOOutgoingPacket(
            type: type, namespace: try f.optional("namespace")?.string() ?? "/",
            ackId: try f.optional("ackId")?.int64OrNull(), data: data, attachments: attachments)
    }

    /// A base64 string's bytes.
    static func bytes(_ f: Field) throws -> [UInt8] {
        let text = Array(try f.string().utf8)
        guard let bytes = text.withUnsafeBytes({ Base64.decode($0) }) else { throw f.error("not base64") }
        return bytes
    }

    static func readExpectation(_ f: Field) throws -> ServerMessage {
        let kindName = try f.field("kind").string()
        guard let kind = ServerMessage.Kind(rawValue: kindName) else {
            throw try f.field("kind").error("\"\(kindName)\" is not connect, connect_error, event, ack or disconnect")
        }
        let attachments = try f.optional("attachments")?.array().map(bytes) ?? []
        return ServerMessage(
            kind: kind, namespace: try f.optional("namespace")?.string() ?? "/", name: try f.optional("name")?.string(),
            ackId: try f.optional("ackId")?.int64OrNull(), args: try f.optional("args")?.array().map(\.value) ?? [],
            attachments: attachments, frame: try f.optional("frame")?.uint64OrNull(), time: try f.double("at"))
    }

    /// `, line L, column C` of the first fault in `bytes`, from the offset Foundation's parser reports.
    static func position(ofErrorIn bytes: [UInt8]) -> String {
        do {
            _ = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
            return ""
        } catch {
            let text = "\(error)"
            guard let range = text.range(of: "character "),
                let offset = Int(text[range.upperBound...].prefix { $0.isNumber })
            else { return "" }
            var line = 1
            var column = 1
            for b in bytes.prefix(offset) {
                if b == UInt8(ascii: "\n") {
                    line += 1
                    column = 1
                } else if b & 0xC0 != 0x80 {
                    column += 1
                }
            }
            return " at line \(line), column \(column)"
        }
    }

    /// A value of the script with where it is (`clients[0].steps[3]`), for messages that say where.
    struct Field {
        var value: JSONValue
        var path: String

        init(_ value: JSONValue, _ path: String) throws {
            self.value = value
            self.path = path
        }

        func error(_ what: String) -> ReadError { ReadError(message: "\(path.isEmpty ? "the script" : path): \(what)") }

        func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

        /// The field `key`, nil when it is absent or null.
        func optional(_ key: String) throws -> Field? {
            guard case .object(let o) = value else { throw error("expected an object") }
            guard let v = o[key], v != .null else { return nil }
            return try Field(v, child(key))
        }

        func field(_ key: String) throws -> Field {
            guard let f = try optional(key) else { throw ReadError(message: "\(child(key)): missing") }
            return f
        }

        func array() throws -> [Field] {
            guard case .array(let items) = value else { throw error("expected an array") }
            var out: [Field] = []
            for (i, item) in items.enumerated() { out.append(try Field(item, "\(path)[\(i)]")) }
            return out
        }

        func string() throws -> String {
            guard case .string(let s) = value else { throw error("expected a string") }
            return s
        }

        func stringOrNull() throws -> String? { value == .null ? nil : try string() }

        func int() throws -> Int {
            guard case .number(let t) = value, let n = Int(t) else { throw error("expected an integer") }
            return n
        }

        func intOrNull() throws -> Int? { value == .null ? nil : try int() }

        func int64OrNull() throws -> Int64? {
            if value == .null { return nil }
            guard case .number(let t) = value, let n = Int64(t), n >= 0 else {
                throw error("expected a non-negative integer")
            }
            return n
        }

        func uint64OrNull() throws -> UInt64? {
            if value == .null { return nil }
            guard case .number(let t) = value, let n = UInt64(t) else { throw error("expected a frame number") }
            return n
        }

        func int(_ key: String) throws -> Int { try field(key).int() }

        func double(_ key: String) throws -> Double {
            let f = try field(key)
            guard case .number(let t) = f.value, let d = Double(t), d >= 0, d.isFinite else {
                throw f.error("expected seconds (a number, 0 or more)")
            }
            return d
        }
    }
}

extension JSONValue {
    /// Indented JSON (two spaces, object keys sorted; an array of scalars that fits stays on one line), for files
    /// people read and diff.
    public var pretty: String {
        var out = ""
        writePretty(to: &out, indent: "")
        return out
    }

    private var isScalar: Bool {
        switch self {
        case .array, .object: return false
        default: return true
        }
    }

    private func writePretty(to out: inout String, indent: String) {
        let inner = indent + "  "
        switch self {
        case .array(let items) where items.isEmpty: out += "[]"
        case .object(let members) where members.isEmpty: out += "{}"
        case .array(let items) where items.allSatisfy(\.isScalar) && json.count <= 100 - indent.count:
            out += "[" + items.map(\.json).joined(separator: ", ") + "]"
        case .array(let items):
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += inner
                item.writePretty(to: &out, indent: inner)
                out += i + 1 < items.count ? ",\n" : "\n"
            }
            out += indent + "]"
        case .object(let members):
            out += "{\n"
            let keys = members.keys.sorted()
            for (i, key) in keys.enumerated() {
                out += inner + JSONValue.quoted(key) + ": "
                members[key]!.writePretty(to: &out, indent: inner)
                out += i + 1 < keys.count ? ",\n" : "\n"
            }
            out += indent + "}"
        default:
            out += json
        }
    }
}
