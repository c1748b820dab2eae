import ImscopeCore
import JSONScan

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A rule an ImMessage breaks.
public struct IMWarning: Sendable, Equatable {
    public var kind: DiagnosticKind
    public var message: String
    public var code: String { kind.code }
}

/// An ImMessage as decoded: its fields, what the table says of its type, and the rules it breaks.
public struct IMMessage: Sendable {
    public var messageType: Int?
    /// A messageType that is a JSON integer too large for 64 bits, as sent.
    public var hugeMessageType: String? = nil
    public var info: MessageTypeInfo?
    public var msgId: IMText?
    public var fromId: IMText?
    public var destId: IMText?
    public var fromType: Int?
    public var fromTypeName: String?
    public var fromName: IMText?
    /// JSON text of the content to show: the decoded object for structured types, else the value as sent.
    public var content: [UInt8]?
    /// Or, when the content is the value as sent, its range in the argument `decode` was given.
    public var contentRange: Range<Int>? = nil

    /// Calls `body` with the content's JSON text (nil when there is none), given the argument the message was
    /// decoded from.
    public func withContentJSON<R>(in argument: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        if let contentRange { return body(UnsafeRawBufferPointer(rebasing: argument[contentRange])) }
        if let content { return content.withUnsafeBytes { body($0) } }
        return body(nil)
    }
    public var warnings: [IMWarning]
}

/// A text field of an ImMessage (an id, a name) as it was read.
public enum IMText: Sendable, Equatable {
    /// Bytes of the argument the message was decoded from that are the text as they stand: the characters of a
    /// JSON string without escapes (between its quotes), or a number as sent. Valid JSON string content when the
    /// argument is valid UTF-8, so a renderer copies them.
    case bytes(Range<Int>)
    /// The text decoded (a string with escapes, or a field of an ImMessage sent inside a JSON string).
    case string(String)

    /// The text, given the argument the message was decoded from (invalid UTF-8 repaired).
    public func string(in argument: UnsafeRawBufferPointer) -> String {
        switch self {
        case .bytes(let r): String(decoding: UnsafeRawBufferPointer(rebasing: argument[r]), as: UTF8.self)
        case .string(let s): s
        }
    }
}

/// Reads ImMessages (the first argument of `chat`/`chatroom` events) against a messageType table.
public final class IMDecoder: Sendable {
    public let table: MessageTypeTable
    /// The other shipped tables, to recognise a message written for another version.
    public let others: [MessageTypeTable]

    let eventBytes_: [[UInt8]]
    /// What the chosen table says of each messageType and fromType, indexed by number (the tables' dictionaries
    /// cost a hashed lookup each, several per message).
    let typeSlots: DenseTable<TypeSlot>
    let fromTypeNames: DenseTable<String>

    /// A class, so a lookup takes one reference, not one for each string and array inside.
    final class TypeSlot: Sendable {
        let info: MessageTypeInfo?
        let rule: ContentRule?
        /// The names of an object rule's fields, as bytes (compared with each member's key).
        let ruleNames: [[UInt8]]?
        /// Whether this table or another gives the type a structured content.
        let anyRule: Bool

        init(info: MessageTypeInfo?, rule: ContentRule?, anyRule: Bool) {
            self.info = info
            self.rule = rule
            self.ruleNames = rule?.fieldNames
            self.anyRule = anyRule
        }
    }

    public init(table: MessageTypeTable, others: [MessageTypeTable]) {
        self.table = table
        self.others = others
        self.eventBytes_ = table.events.map { Array($0.utf8) }
        var slots: [Int: TypeSlot] = [:]
        for type in Set(table.types.keys).union(table.contents.keys).union(others.flatMap(\.contents.keys)) {
            slots[type] = TypeSlot(
                info: table.types[type], rule: table.contents[type],
                anyRule: table.contents[type] != nil || others.contains { $0.contents[type] != nil })
        }
        typeSlots = DenseTable(slots)
        fromTypeNames = DenseTable(table.fromTypes.mapValues(\.name))
    }

    /// A decoder with the same tables and no storage shared with this one.
    public func isolatedCopy() -> IMDecoder {
        IMDecoder(table: table.isolatedCopy(), others: others.map { $0.isolatedCopy() })
    }

    /// Whether an event carries an ImMessage.
    public func carries(event: String) -> Bool { table.events.contains(event) }

    /// Whether an event, named by the bytes of its JSON string (without quotes or escapes), carries an ImMessage.
    public func carries(eventBytes: UnsafeRawBufferPointer) -> Bool {
        eventBytes_.contains { $0.count == eventBytes.count && eventBytes.elementsEqual($0) }
    }

    /// The fields the decoder reads; all of them are required.
    enum Field: Int, CaseIterable {
        case msgId, fromId, fromType, destId, fromName, imageIconUrl, content, messageType

        /// How many there are, counted once (`allCases` makes an array each time it is asked).
        static let count = allCases.count

        var name: String {
            switch self {
            case .msgId: "msgId"
            case .fromId: "fromId"
            case .fromType: "fromType"
            case .destId: "destId"
            case .fromName: "fromName"
            case .imageIconUrl: "imageIconUrl"
            case .content: "content"
            case .messageType: "messageType"
            }
        }

        /// The field a member key names (its bytes without quotes, compared as sent: no escapes undone).
        @inline(__always)
        static func named(_ key: UnsafeRawBufferPointer) -> Field? {
            func equals(_ name: StaticString) -> Bool { memcmp(key.baseAddress!, name.utf8Start, key.count) == 0 }
            switch key.count {
            case 5: return equals("msgId") ? .msgId : nil
            case 6: return equals("fromId") ? .fromId : equals("destId") ? .destId : nil
            case 7: return equals("content") ? .content : nil
            case 8: return equals("fromType") ? .fromType : equals("fromName") ? .fromName : nil
            case 11: return equals("messageType") ? .messageType : nil
            case 12: return equals("imageIconUrl") ? .imageIconUrl : nil
            default: return nil
            }
        }
    }

    /// The value ranges of the fields read (the last one when a key repeats), kept inline: no allocation.
    struct FieldValues {
        var values:
            (
                Range<Int>?, Range<Int>?, Range<Int>?, Range<Int>?, Range<Int>?, Range<Int>?, Range<Int>?, Range<Int>?
            ) = (nil, nil, nil, nil, nil, nil, nil, nil)

        subscript(field: Field) -> Range<Int>? {
            get {
                switch field {
                case .msgId: values.0
                case .fromId: values.1
                case .fromType: values.2
                case .destId: values.3
                case .fromName: values.4
                case .imageIconUrl: values.5
                case .content: values.6
                case .messageType: values.7
                }
            }
            set {
                switch field {
                case .msgId: values.0 = newValue
                case .fromId: values.1 = newValue
                case .fromType: values.2 = newValue
                case .destId: values.3 = newValue
                case .fromName: values.4 = newValue
                case .imageIconUrl: values.5 = newValue
                case .content: values.6 = newValue
                case .messageType: values.7 = newValue
                }
            }
        }
    }

    /// The ImMessage of an event that carries no argument at all.
    public func missing(upstream: Bool) -> IMMessage {
        IMMessage(warnings: [IMWarning(kind: .imWrongType, "the event carries no ImMessage (no argument)")])
    }

    /// Decodes the ImMessage in `json` (an object, or a string holding one), sent by the client when `upstream`.
    /// `json` must be valid JSON — a Socket.IO argument is, once its packet was parsed — so it is not validated again.
    /// `members`: the object's members, when the caller found them validating it (see
    /// `SocketIOPacket.argumentMembers`), so that it is not walked again.
    public func decode(_ json: UnsafeRawBufferPointer, upstream: Bool, members: [JSONMember]? = nil) -> IMMessage {
        var m: IMMessage? = nil
        decode(json, upstream: upstream, members: members, into: &m)
        return m!
    }

    /// The same, decoded straight into `m` (which ends up non-nil), not returned and copied into an optional.
    public func decode(
        _ json: UnsafeRawBufferPointer, upstream: Bool, members: [JSONMember]? = nil, into m: inout IMMessage?
    ) {
        m = IMMessage(warnings: [])
        let s = JSONScanner(json, trusted: true)  // part of a Socket.IO payload validated already
        let all = 0..<json.count
        switch s.kind(at: 0) {
        case .object:
            read(s, all, upstream: upstream, argument: json, members: members, into: &m!)
        case .string:
            if let text = s.decodeString(all) { readString(text, upstream: upstream, argument: json, into: &m!) }
        default:
            m!.warnings.append(IMWarning(kind: .imWrongType, message: "the ImMessage is not a JSON object"))
        }
    }

    /// An ImMessage sent as a JSON string (`text`, decoded): reads the object inside.
    func readString(_ text: String, upstream: Bool, argument: UnsafeRawBufferPointer, into m: inout IMMessage) {
        var inner = Array(text.utf8)
        inner.withUnsafeBytes { bytes in
            let si = JSONScanner(bytes)
            if si.kind(at: 0) == .object && si.isValidDocument() {
                read(si, 0..<bytes.count, upstream: upstream, argument: argument, into: &m)
            } else {
                m.warnings.append(
                    IMWarning(kind: .imWrongType, message: "the ImMessage string does not hold a JSON object"))
            }
        }
        inner.removeAll()
    }

    /// `argument` is the bytes `decode` was given: a content that is a slice of them is kept as a range.
    ///
    /// The steps are `@inline(always)`: `@inline(__always)` is a hint the optimizer stops taking in a function this
    /// large, and the last steps stayed calls on the hot path.
    func read(
        _ s: JSONScanner, _ range: Range<Int>, upstream: Bool, argument: UnsafeRawBufferPointer,
        members: [JSONMember]? = nil, into m: inout IMMessage
    ) {
        var values = FieldValues()
        findFields(s, range, members: members, into: &values)
        checkRequired(&values, s, into: &m)
        readValues(&values, s, argument: argument, into: &m)
        nameFromType(into: &m)
        guard let type = m.messageType else { return }
        let content = values[.content]
        readType(type, content: content, s, upstream: upstream, argument: argument, into: &m)
        if m.content == nil, m.contentRange == nil, let content {
            keepAsSent(content, s, argument: argument, into: &m)
        }
    }

    /// Notes in `values` where the fields' values are in the object at `range` (or `members`, its members when the
    /// caller found them), found by comparing key bytes (no Strings, no dictionary).
    @inline(always)
    func findFields(_ s: JSONScanner, _ range: Range<Int>, members: [JSONMember]?, into values: inout FieldValues) {
        func member(_ key: Range<Int>, _ value: Range<Int>) {
            let name = UnsafeRawBufferPointer(rebasing: s.bytes[(key.lowerBound + 1)..<(key.upperBound - 1)])
            if let field = Field.named(name) { values[field] = value }
        }
        if let members {
            for x in members { member(x.key, x.value) }
        } else {
            _ = s.forEachMember(range, member)
        }
    }

    /// Warns of the required fields that are missing or null. `values` is inout to be read where it lies, not copied.
    @inline(always)
    func checkRequired(_ values: inout FieldValues, _ s: JSONScanner, into m: inout IMMessage) {
        func isMissing(_ field: Field) -> Bool {
            guard let v = values[field] else { return true }
            return s.valueKind(at: v.lowerBound) == .null
        }
        var present = true
        for k in 0..<Field.count where isMissing(Field(rawValue: k)!) { present = false }
        if !present {
            let missing = Field.allCases.filter(isMissing).map(\.name)
            m.warnings.append(
                IMWarning(kind: .imRequiredMissing, message: "missing or null: " + missing.joined(separator: ", ")))
        }
    }

    /// Reads the fields' values into `m`, with one warning for all those of the wrong JSON type. `values` is inout
    /// to be read where it lies, not copied.
    @inline(always)
    func readValues(
        _ values: inout FieldValues, _ s: JSONScanner, argument: UnsafeRawBufferPointer, into m: inout IMMessage
    ) {
        var wrong: [String] = []
        // A text is kept as its bytes in the argument when they are the text (no escapes), else decoded.
        let inArgument = s.bytes.baseAddress == argument.baseAddress
        func text(_ field: Field, allowNumber: Bool, keep: Bool = true) -> IMText? {
            guard let v = values[field] else { return nil }
            switch s.valueKind(at: v.lowerBound) {
            case .string:
                guard keep else { return nil }
                let inner = (v.lowerBound + 1)..<(v.upperBound - 1)
                if inArgument, s.bytes[v.upperBound - 1] == UInt8(ascii: "\""),
                    memchr(s.bytes.baseAddress! + inner.lowerBound, 0x5C, inner.count) == nil
                {
                    return .bytes(inner)
                }
                return s.decodeString(v).map(IMText.string)
            case .number:
                if !allowNumber { wrong.append("\(field.name) is a number, not a string") }
                if inArgument { return .bytes(v) }
                return .string(String(decoding: UnsafeRawBufferPointer(rebasing: s.bytes[v]), as: UTF8.self))
            case .null: return nil
            default:
                wrong.append("\(field.name) is not a string")
                return nil
            }
        }
        var hugeType: String? = nil
        func integer(_ field: Field) -> Int? {
            guard let v = values[field] else { return nil }
            switch s.valueKind(at: v.lowerBound) {
            case .number:
                if let n = s.decodeInteger(v) { return Int(n) }
                let raw = String(decoding: UnsafeRawBufferPointer(rebasing: s.bytes[v]), as: UTF8.self)
                if raw.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-") }) {
                    // An integer beyond 64 bits: a number, just not one any table has.
                    if field == .messageType { hugeType = raw }
                    return nil
                }
                wrong.append("\(field.name) is not an integer")
                return nil
            case .string:
                wrong.append("\(field.name) is a string, not a number")
                return s.decodeString(v).flatMap { Int($0) }
            case .null: return nil
            default:
                wrong.append("\(field.name) is not a number")
                return nil
            }
        }
        m.messageType = integer(.messageType)
        m.fromType = integer(.fromType)
        if let hugeType {
            m.hugeMessageType = hugeType
            m.warnings.append(IMWarning(kind: .imUnknownType, "messageType \(hugeType) is in no table"))
        }
        m.msgId = text(.msgId, allowNumber: false)
        m.fromId = text(.fromId, allowNumber: true)
        m.destId = text(.destId, allowNumber: true)
        m.fromName = text(.fromName, allowNumber: false)
        _ = text(.imageIconUrl, allowNumber: false, keep: false)
        if let content = values[.content], ![.string, .object, .null].contains(s.valueKind(at: content.lowerBound)) {
            wrong.append("content is neither a string nor an object")
        }
        if !wrong.isEmpty { m.warnings.append(IMWarning(kind: .imWrongType, message: wrong.joined(separator: "; "))) }
    }

    /// Names `m`'s fromType from the table, or warns that the table does not define it.
    @inline(always)
    func nameFromType(into m: inout IMMessage) {
        guard let f = m.fromType else { return }
        if let name = fromTypeNames[f] {
            m.fromTypeName = name
        } else if !table.fromTypes.isEmpty {
            m.warnings.append(
                IMWarning(
                    kind: .imBadFromType,
                    "fromType \(f) is not defined by table \(table.schema) (it defines "
                        + table.fromTypes.keys.sorted().map(String.init).joined(separator: ", ") + ")"))
        }
    }

    /// What the tables say of the message's type: its name and direction, and whether its content has the
    /// structure the type calls for (a structured content is kept in `m` as its object).
    @inline(always)
    func readType(
        _ type: Int, content: Range<Int>?, _ s: JSONScanner, upstream: Bool, argument: UnsafeRawBufferPointer,
        into m: inout IMMessage
    ) {
        // Only a type some table gives a structured content is worth decoding the content for (a text is not).
        let slot = typeSlots[type]
        let structured = slot?.anyRule == true ? content.map { structuredContent(s, $0) } : nil
        guard let slot, let info = slot.info else {
            warnNotInTable(type, into: &m)
            return
        }
        m.info = info
        checkDirection(type, info, upstream: upstream, into: &m)
        if let rule = slot.rule {
            checkContent(type, info, rule, structured, s, names: slot.ruleNames, into: &m)
        } else if let structured, structured.isObject {
            checkOtherReading(type, info, structured, s, into: &m)
        }
        if let structured, slot.rule != nil, structured.isObject {
            if let decoded = structured.decoded {
                m.content = decoded
            } else if s.bytes.baseAddress == argument.baseAddress {
                m.contentRange = structured.range  // the object as sent: no copy
            } else {
                m.content = Array(UnsafeRawBufferPointer(rebasing: s.bytes[structured.range]))
            }
        }
    }

    /// Warns of a type sent the way the table says it never goes.
    @inline(always)
    func checkDirection(_ type: Int, _ info: MessageTypeInfo, upstream: Bool, into m: inout IMMessage) {
        if info.direction == .down && upstream || info.direction == .up && !upstream {
            m.warnings.append(
                IMWarning(
                    kind: .imWrongDirection,
                    "\(type) \(info.typeName) is \(info.direction == .down ? "downstream" : "upstream") only, "
                        + "but was sent by the \(upstream ? "client" : "server")"))
        }
    }

    /// Warns of a content that breaks the type's rule: as the other table's type when it keeps that table's rule
    /// for the number, else as a bad content.
    @inline(always)
    func checkContent(
        _ type: Int, _ info: MessageTypeInfo, _ rule: ContentRule, _ structured: Structured?, _ s: JSONScanner,
        names: [[UInt8]]?, into m: inout IMMessage
    ) {
        guard let problem = check(rule, structured, s, names: names) else { return }
        for other in others {
            if let otherRule = other.contents[type], check(otherRule, structured, s) == nil,
                let otherInfo = other.types[type]
            {
                m.warnings.append(
                    IMWarning(
                        kind: .imSchemaMismatch,
                        "content fits table \(other.schema)'s \(type) \(otherInfo.typeName), not "
                            + "\(table.schema)'s \(info.typeName)"))
                return
            }
        }
        m.warnings.append(IMWarning(kind: .imBadContent, "\(type) \(info.typeName): \(problem)"))
    }

    /// Warns of an object content of a type the table gives no rule, when another table keeps an object rule for
    /// the number and reads it as another type (both call 17 a red packet).
    @inline(always)
    func checkOtherReading(
        _ type: Int, _ info: MessageTypeInfo, _ structured: Structured, _ s: JSONScanner, into m: inout IMMessage
    ) {
        for other in others {
            if let otherRule = other.contents[type], case .object = otherRule,
                check(otherRule, structured, s) == nil,
                let otherInfo = other.types[type], otherInfo.typeName != info.typeName
            {
                m.warnings.append(
                    IMWarning(
                        kind: .imSchemaMismatch,
                        "content fits table \(other.schema)'s \(type) \(otherInfo.typeName), but "
                            + "\(table.schema) says \(type) is \(info.typeName)"))
                return
            }
        }
    }

    /// Warns of a messageType the chosen table does not have: as another table's type, or as in no table.
    func warnNotInTable(_ type: Int, into m: inout IMMessage) {
        if let other = others.first(where: { $0.types[type] != nil }) {
            m.warnings.append(
                IMWarning(
                    kind: .imSchemaMismatch,
                    "messageType \(type) is not in table \(table.schema); table \(other.schema) has it as "
                        + other.types[type]!.typeName))
        } else {
            m.warnings.append(IMWarning(kind: .imUnknownType, "messageType \(type) is in no table"))
        }
    }

    /// Keeps the content as sent: a slice of the argument when `s` reads it (no copy), else a copy.
    @inline(always)
    func keepAsSent(_ content: Range<Int>, _ s: JSONScanner, argument: UnsafeRawBufferPointer, into m: inout IMMessage)
    {
        if s.bytes.baseAddress == argument.baseAddress {
            m.contentRange = content
        } else {
            m.content = Array(UnsafeRawBufferPointer(rebasing: s.bytes[content]))
        }
    }

    /// A content as a structure: the object it is, the object a string holding one decodes to, or else the value
    /// as sent (`isObject` false).
    struct Structured {
        /// The content's range in the scanner's bytes.
        var range: Range<Int>
        /// The JSON a string held, when it holds an object (validated); nil when the content is used as sent.
        var decoded: [UInt8]?
        var isObject: Bool

        /// Calls `body` with the JSON text of the structure.
        func withJSON<R>(_ s: JSONScanner, _ body: (UnsafeRawBufferPointer) -> R) -> R {
            if let decoded { return decoded.withUnsafeBytes(body) }
            return body(UnsafeRawBufferPointer(rebasing: s.bytes[range]))
        }
    }

    func structuredContent(_ s: JSONScanner, _ range: Range<Int>) -> Structured {
        switch s.kind(at: range.lowerBound) {
        case .object:
            return Structured(range: range, decoded: nil, isObject: true)
        case .string:
            let bytes = s.decodeStringBytes(range) ?? []
            let isObject = bytes.withUnsafeBytes { b in
                let inner = JSONScanner(b)
                return inner.kind(at: 0) == .object && inner.isValidDocument()
            }
            return Structured(range: range, decoded: isObject ? bytes : nil, isObject: isObject)
        default:
            return Structured(range: range, decoded: nil, isObject: false)
        }
    }

    /// Why `content` (read from the bytes of `s`) breaks `rule`, or nil when it keeps it. `names`: the rule's
    /// ``ContentRule/fieldNames``, when the caller has them.
    func check(_ rule: ContentRule, _ content: Structured?, _ s: JSONScanner, names: [[UInt8]]? = nil) -> String? {
        guard let content else { return "no content" }
        switch rule {
        case .enumeration(let allowed):
            var value = content.withJSON(s) { String(decoding: $0, as: UTF8.self) }
            if value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 {
                value = String(value.dropFirst().dropLast())
            }
            return allowed.contains(value) ? nil : "content \(value) is not one of " + allowed.joined(separator: ", ")
        case .object(let fields):
            guard content.isObject else { return "content is not an object (nor a string holding one)" }
            return content.withJSON(s) { bytes -> String? in
                // Valid JSON: a slice of a validated argument, or a string's JSON validated when it was decoded.
                let inner = JSONScanner(bytes, trusted: true)
                let names = names ?? rule.fieldNames ?? []
                // The kind of each rule field's member; a repeated key counts as its last value. Kept on the stack:
                // this runs for every file, voice and image message.
                return withUnsafeTemporaryAllocation(of: JSONScanner.Kind?.self, capacity: fields.count) { kinds in
                    kinds.initialize(repeating: nil)
                    _ = inner.forEachMember(0..<bytes.count) { key, value in
                        let raw = UnsafeRawBufferPointer(rebasing: bytes[(key.lowerBound + 1)..<(key.upperBound - 1)])
                        let escaped = memchr(raw.baseAddress!, 0x5C, raw.count) != nil
                        let decoded = escaped ? inner.decodeStringBytes(key) : nil
                        for (k, name) in names.enumerated() where escaped ? decoded == name : raw.elementsEqual(name) {
                            kinds[k] = inner.valueKind(at: value.lowerBound)
                        }
                    }
                    var problems: [String] = []
                    for (field, kind) in zip(fields, kinds) {
                        guard let kind else {
                            problems.append("\(field.name) missing")
                            continue
                        }
                        let ok: Bool
                        switch field.type {
                        case "string": ok = kind == .string
                        case "number": ok = kind == .number
                        case "boolean": ok = kind == .bool
                        case "array": ok = kind == .array
                        default: ok = kind == .object
                        }
                        if !ok && kind != .null { problems.append("\(field.name) is not a \(field.type)") }
                    }
                    return problems.isEmpty ? nil : problems.joined(separator: "; ")
                }
            }
        }
    }
}

/// Values by small non-negative integer in an array, others in a dictionary.
struct DenseTable<Value: Sendable>: Sendable {
    private var slots: [Value?]
    private var rest: [Int: Value]

    init(_ values: [Int: Value], maxDense: Int = 4096) {
        let top = values.keys.filter { $0 >= 0 && $0 < maxDense }.max() ?? -1
        slots = Array(repeating: nil, count: top + 1)
        rest = [:]
        for (k, v) in values {
            if k >= 0 && k <= top { slots[k] = v } else { rest[k] = v }
        }
    }

    subscript(key: Int) -> Value? {
        key >= 0 && key < slots.count ? slots[key] : rest.isEmpty ? nil : rest[key]
    }
}

extension IMWarning {
    init(kind: DiagnosticKind, _ message: String) {
        self.kind = kind
        self.message = message
    }
}

extension ContentRule {
    /// The names of an object rule's fields as bytes; nil for other rules.
    var fieldNames: [[UInt8]]? {
        guard case .object(let fields) = self else { return nil }
        return fields.map { Array($0.name.utf8) }
    }
}
