import Foundation

/// Which way a message type may travel, as the tables say (上行 up, 下行通知 down, 双向 both).
public enum IMDirection: String, Sendable, CaseIterable {
    case up, down, both, unspecified
}

/// One row of a messageType table.
public struct MessageTypeInfo: Sendable, Equatable {
    public var messageType: Int
    public var direction: IMDirection
    /// A short English name (`text`, `friend-online`).
    public var typeName: String
    /// The table's own (Chinese) description.
    public var description: String
}

/// The documented shape of a structured `content`.
public enum ContentRule: Sendable, Equatable {
    /// A JSON object (sent as an object, or as a string holding one) with these fields and types.
    case object([Field])
    /// One of these values (as a number or a string).
    case enumeration([String])

    public struct Field: Sendable, Equatable {
        public var name: String
        /// `string`, `number`, `boolean`, `array` or `object`.
        public var type: String
    }
}

/// A messageType table: the types, the `fromType` values, the Socket.IO events that carry ImMessages, and the
/// structured contents. Loaded from the TSV files the tool ships (`Resources/messagetypes-v1.tsv`, `-v2.tsv`)
/// or from a file of the same format (`--schema FILE`), so a team can add its own types.
public struct MessageTypeTable: Sendable {
    /// The table's name: its `@schema` line, else the name it was parsed under.
    public var schema: String
    /// The Socket.IO events whose first argument is an ImMessage (`@event` lines; `chat` when there are none).
    public var events: [String]
    /// The `fromType` values (`@fromType` lines): a short name and the table's own text.
    public var fromTypes: [Int: (name: String, description: String)]
    public var types: [Int: MessageTypeInfo]
    /// The structured contents (`@content` lines), by messageType; every one is a type of the table.
    public var contents: [Int: ContentRule]

    public struct LoadError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The same table in storage of its own: every string, array and dictionary copied.
    public func isolatedCopy() -> MessageTypeTable {
        func own(_ s: String) -> String { String(decoding: Array(s.utf8), as: UTF8.self) }
        func own(_ rule: ContentRule) -> ContentRule {
            switch rule {
            case .object(let fields): .object(fields.map { .init(name: own($0.name), type: own($0.type)) })
            case .enumeration(let values): .enumeration(values.map(own))
            }
        }
        var copy = MessageTypeTable(
            schema: own(schema), events: events.map(own), fromTypes: [:], types: [:], contents: [:])
        for (k, v) in fromTypes { copy.fromTypes[k] = (own(v.name), own(v.description)) }
        for (k, v) in types {
            copy.types[k] = MessageTypeInfo(
                messageType: v.messageType, direction: v.direction, typeName: own(v.typeName),
                description: own(v.description))
        }
        for (k, v) in contents { copy.contents[k] = own(v) }
        return copy
    }

    /// The rows in messageType order.
    public var rows: [MessageTypeInfo] { types.values.sorted { $0.messageType < $1.messageType } }

    /// Parses the TSV format (see `Docs/user-guide.md`, "messageType tables").
    public static func parse(_ text: String, name: String) throws(LoadError) -> MessageTypeTable {
        var table = MessageTypeTable(schema: name, events: [], fromTypes: [:], types: [:], contents: [:])
        // Split as bytes: by Characters, "\r\n" is one grapheme and a CRLF file would be one line (and splitting by
        // Characters is slow).
        for (index, rawLine) in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            .enumerated()
        {
            let line = rawLine.last == UInt8(ascii: "\r") ? rawLine.dropLast() : rawLine
            if line.isEmpty || line.first == UInt8(ascii: "#") { continue }
            let fields = line.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false).map {
                String(decoding: $0, as: UTF8.self)
            }
            func fail(_ why: String) -> LoadError { LoadError(description: "\(name):\(index + 1): \(why)") }
            switch fields[0] {
            case "@schema":
                guard fields.count >= 2 else { throw fail("@schema needs a name") }
                table.schema = fields[1]
            case "@event":
                guard fields.count >= 2 else { throw fail("@event needs a name") }
                table.events.append(fields[1])
            case "@fromType":
                guard fields.count >= 3, let value = Int(fields[1]) else { throw fail("@fromType VALUE NAME [TEXT]") }
                table.fromTypes[value] = (fields[2], fields.count > 3 ? fields[3] : "")
            case "@content":
                guard fields.count >= 3, let type = Int(fields[1]) else { throw fail("@content TYPE object|enum ...") }
                switch fields[2] {
                case "object":
                    var spec: [ContentRule.Field] = []
                    for f in fields.dropFirst(3) where !f.isEmpty {
                        let parts = f.split(separator: ":", maxSplits: 1).map(String.init)
                        guard parts.count == 2, ["string", "number", "boolean", "array", "object"].contains(parts[1])
                        else { throw fail("content field \"\(f)\" is not name:string|number|boolean|array|object") }
                        spec.append(.init(name: parts[0], type: parts[1]))
                    }
                    table.contents[type] = .object(spec)
                case "enum":
                    table.contents[type] = .enumeration(fields.dropFirst(3).filter { !$0.isEmpty })
                default:
                    throw fail("content kind must be object or enum")
                }
            default:
                guard fields.count >= 3, let type = Int(fields[0]) else {
                    throw fail("a row is messageType<TAB>direction<TAB>typeName<TAB>description")
                }
                guard let direction = IMDirection(rawValue: fields[1]) else {
                    throw fail("direction must be up, down, both or unspecified")
                }
                guard table.types[type] == nil else { throw fail("messageType \(type) appears twice") }
                table.types[type] = MessageTypeInfo(
                    messageType: type, direction: direction, typeName: fields[2],
                    description: fields.count > 3 ? fields[3...].joined(separator: "\t") : "")
            }
        }
        guard !table.types.isEmpty else { throw LoadError(description: "\(name): no messageType rows") }
        if table.events.isEmpty { table.events = ["chat"] }
        for type in table.contents.keys where table.types[type] == nil {
            throw LoadError(description: "\(name): @content for messageType \(type), which the table does not have")
        }
        return table
    }

    /// A table shipped with imscope: `v1` or `v2`.
    public static func builtin(_ version: String) throws(LoadError) -> MessageTypeTable {
        let file = "messagetypes-\(version)"
        guard let text = besideExecutable("imscope_IMProtocol.resources/Resources/\(file).tsv") ?? bundled(file) else {
            throw LoadError(description: "no built-in table \"\(version)\" (v1 and v2 ship with imscope)")
        }
        return try parse(text, name: version)
    }

    /// A table file of the resource bundle, found through `Bundle.module`.
    static func bundled(_ file: String) -> String? {
        Bundle.module.url(forResource: file, withExtension: "tsv", subdirectory: "Resources").flatMap {
            try? String(contentsOf: $0, encoding: .utf8)
        }
    }

    /// A file of the resource bundle SwiftPM puts next to the executable (`relativePath` from the executable's
    /// directory), read without building a `Bundle`, which lists directories on first use and slows start-up; nil
    /// where there is no `/proc/self/exe` or no such file, and ``builtin(_:)`` asks `Bundle.module` instead.
    static func besideExecutable(_ relativePath: String) -> String? {
        #if os(Linux)
            var buffer = [CChar](repeating: 0, count: 4096)
            let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
            guard n > 0 else { return nil }
            let exe = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard let slash = exe.utf8.lastIndex(of: UInt8(ascii: "/")) else { return nil }
            return try? String(contentsOfFile: String(exe[...slash]) + relativePath, encoding: .utf8)
        #else
            return nil
        #endif
    }

    /// `v1`, `v2`, or the path of a table file.
    public static func load(_ schema: String) throws(LoadError) -> MessageTypeTable {
        if schema == "v1" || schema == "v2" { return try builtin(schema) }
        guard let text = try? String(contentsOfFile: schema, encoding: .utf8) else {
            throw LoadError(description: "cannot read the schema file \(schema)")
        }
        return try parse(text, name: schema)
    }

    /// Finds a type by number or by typeName.
    public func lookup(_ key: String) -> MessageTypeInfo? {
        if let n = Int(key) { return types[n] }
        return types.values.first { $0.typeName == key }
    }
}
