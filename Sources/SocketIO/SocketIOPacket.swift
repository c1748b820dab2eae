import JSONScan

/// Socket.IO packet types (protocol 4 with Engine.IO 3, protocol 5 with Engine.IO 4).
public enum SocketIOPacketType: UInt8, Sendable, CaseIterable {
    case connect = 0, disconnect, event, ack, connectError, binaryEvent, binaryAck

    /// The name used in every output format. Type 4 is `ERROR` in protocol 4 and `CONNECT_ERROR` in 5; both are
    /// shown as `CONNECT_ERROR`.
    public var staticName: StaticString {
        switch self {
        case .connect: return "CONNECT"
        case .disconnect: return "DISCONNECT"
        case .event: return "EVENT"
        case .ack: return "ACK"
        case .connectError: return "CONNECT_ERROR"
        case .binaryEvent: return "BINARY_EVENT"
        case .binaryAck: return "BINARY_ACK"
        }
    }

    public var name: String { staticName.description }

    public var isBinary: Bool { self == .binaryEvent || self == .binaryAck }
    public var isEvent: Bool { self == .event || self == .binaryEvent }
    public var isAck: Bool { self == .ack || self == .binaryAck }
}

/// A rule of its type that a packet's payload breaks. The reference parsers (socket.io-parser 3.4 for protocol 4,
/// 4.2 for protocol 5) throw "invalid payload" on such a packet; imscope keeps it, shows the payload as it came and
/// reports the rule (`sio.invalid_payload`).
public enum SocketIOPayloadProblem: UInt8, Sendable, Equatable {
    /// A CONNECT payload that is not an object (protocol 4 also allows an array or null: `typeof` is "object").
    case connectNotObject
    /// A DISCONNECT with a payload.
    case disconnectWithPayload
    /// A CONNECT_ERROR payload that is neither a string nor an object (protocol 4: also an array or null).
    case connectErrorNotStringOrObject
    /// An EVENT without a payload, or with one that is not an array (the specification makes it mandatory; the
    /// parsers reject the second and let the first through).
    case eventNotArray
    /// An EVENT array whose first element is neither a string nor a number (or that is empty).
    case eventWithoutName
    /// An EVENT named `connect`, `connect_error`, `disconnect`, `disconnecting`, `newListener` or
    /// `removeListener` (protocol 5 only: socket.io-parser 4 reserves them).
    case reservedEventName
    /// An ACK without a payload or with one that is not an array.
    case ackNotArray
    /// An ACK without an id (the parsers let it through; it can answer no request).
    case ackWithoutId
}

/// The header of a Socket.IO packet and where its JSON lies in the text:
/// `<type>[<attachments>-][<namespace>,][<ack id>][JSON]`.
public struct SocketIOPacket: Sendable, Equatable {
    public var type: SocketIOPacketType
    public var attachments: Int
    public var namespace: String
    public var ackId: Int64?
    /// The JSON payload's range in the packet text (nil when there is none).
    public var data: Range<Int>?
    /// When the payload is an array (events, acks): its elements' ranges, found while validating it, so that no
    /// later reader scans the JSON again. Nil for an event whose first element is no name, so that its payload is
    /// shown whole.
    public var elements: [Range<Int>]? = nil
    /// An event's first argument, when it is an object: its members, with ranges in that argument's bytes (found in
    /// the same validating pass, for the ImMessage reader).
    public var argumentMembers: [JSONMember]? = nil
    /// The rule of its type the payload breaks, if any (the packet is kept all the same).
    public var problem: SocketIOPayloadProblem? = nil

    /// An event's name (its first element): a string, or a number as it was sent (`2[1,"a"]` is event `1`: the
    /// reference parsers accept numbers, and a JavaScript listener is keyed by the number's text).
    public func eventName(in text: UnsafeRawBufferPointer) -> String? {
        guard type.isEvent, let first = elements?.first, !first.isEmpty else { return nil }
        if let inner = eventNameBytes(in: text) { return String(decoding: inner, as: UTF8.self) }
        guard text[first.lowerBound] == UInt8(ascii: "\"") else { return nil }
        return JSONScanner(text).decodeString(first)
    }

    /// The characters of the event name when they are the name as it stands (a JSON string without escapes, or a
    /// number), so a renderer can copy them between quotes; nil otherwise.
    public func eventNameBytes(in text: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard type.isEvent, let first = elements?.first, !first.isEmpty else { return nil }
        let head = text[first.lowerBound]
        if head == UInt8(ascii: "\"") {
            guard first.count >= 2 else { return nil }
            let inner = UnsafeRawBufferPointer(rebasing: text[(first.lowerBound + 1)..<(first.upperBound - 1)])
            return inner.contains(UInt8(ascii: "\\")) ? nil : inner
        }
        guard head == UInt8(ascii: "-") || (head >= UInt8(ascii: "0") && head <= UInt8(ascii: "9")) else {
            return nil
        }
        return UnsafeRawBufferPointer(rebasing: text[first])
    }

    /// The arguments: an event's elements after its name, an ack's elements.
    public var arguments: ArraySlice<Range<Int>> {
        guard let elements else { return [] }
        return elements[min(firstArgument, elements.count)...]
    }

    /// Where the arguments start among the elements (for a loop over them that makes no slice).
    public var firstArgument: Int { type.isEvent ? 1 : 0 }

    /// Parses a packet of protocol revision `protocolVersion` (4 over Engine.IO 3, 5 over Engine.IO 4); the error
    /// says why it cannot be parsed. A packet that parses but breaks a rule of its type has a ``problem``.
    public static func parse(_ text: UnsafeRawBufferPointer, protocolVersion: Int = 5) -> Result<
        SocketIOPacket, SocketIOParseError
    > {
        parse(text, protocolVersion: protocolVersion, reusing: ParseScratch())
    }

    /// Memory the parsing of many packets lends to each packet's arrays: once the previous packet is gone, they
    /// are refilled in place instead of allocated anew (a packet still held keeps its own copy). One per thread of
    /// decoding, shared by its sessions.
    public final class ParseScratch {
        var elements: [Range<Int>] = []
        var members: [JSONMember] = []
        public init() {}
    }

    /// Parses a packet, its element and member lists built in `scratch`'s memory.
    public static func parse(
        _ text: UnsafeRawBufferPointer, protocolVersion: Int = 5, reusing scratch: ParseScratch
    ) -> Result<SocketIOPacket, SocketIOParseError> {
        let n = text.count
        guard n > 0 else { return .failure(.init("empty packet")) }
        guard text[0] >= UInt8(ascii: "0"), let type = SocketIOPacketType(rawValue: text[0] &- UInt8(ascii: "0"))
        else { return .failure(.init("unknown packet type \"\(Unicode.Scalar(text[0]))\"")) }
        var i = 1
        var attachments = 0
        if type.isBinary {
            var digits = 0
            while i < n, text[i] >= UInt8(ascii: "0"), text[i] <= UInt8(ascii: "9"), digits < 9 {
                attachments = attachments * 10 + Int(text[i] - UInt8(ascii: "0"))
                i += 1
                digits += 1
            }
            guard digits > 0, i < n, text[i] == UInt8(ascii: "-") else {
                return .failure(.init("binary packet without an attachment count"))
            }
            i += 1
        }
        var namespace = "/"
        if i < n && text[i] == UInt8(ascii: "/") {
            let start = i
            while i < n && text[i] != UInt8(ascii: ",") { i += 1 }
            namespace = String(decoding: UnsafeRawBufferPointer(rebasing: text[start..<i]), as: UTF8.self)
            if i < n { i += 1 }
        }
        var ackId: Int64? = nil
        var digits = 0
        var id: Int64 = 0
        while i < n, text[i] >= UInt8(ascii: "0"), text[i] <= UInt8(ascii: "9"), digits < 18 {
            id = id * 10 + Int64(text[i] - UInt8(ascii: "0"))
            i += 1
            digits += 1
        }
        if digits > 0 { ackId = id }
        var data: Range<Int>? = nil
        var elements: [Range<Int>]? = nil
        var argumentMembers: [JSONMember]? = nil
        if i < n {
            // One validating pass; an array is split into its elements as it is checked.
            let scanner = JSONScanner(text)
            let end: Int?
            scratch.elements.removeAll(keepingCapacity: true)
            scratch.members.removeAll(keepingCapacity: true)
            if scanner.kind(at: i) == .array,
                let arrayEnd = scanner.array(
                    at: i, elements: &scratch.elements, membersOf: type.isEvent ? 1 : -1, into: &scratch.members)
            {
                let list = scratch.elements
                elements = list
                end = arrayEnd
                if type.isEvent && list.count > 1 && text[list[1].lowerBound] == UInt8(ascii: "{") {
                    argumentMembers = scratch.members  // counted from the argument's start
                }
            } else {
                end = scanner.valueEnd(from: i)
            }
            guard let end, scanner.skipSpace(end) == n else { return .failure(.init("payload is not valid JSON")) }
            data = i..<n
        }
        // Worked out from the parts, before the packet is made (a method of the packet copied it, arrays and all).
        let problem = payloadProblem(
            type: type, data: data, elements: elements, ackId: ackId, text, protocolVersion: protocolVersion)
        // No name to show: the payload is shown whole, as `data`.
        let nameless = problem == .eventWithoutName
        var packet = SocketIOPacket(
            type: type, attachments: attachments, namespace: namespace, ackId: ackId, data: data,
            elements: nameless ? nil : elements, argumentMembers: nameless ? nil : argumentMembers)
        packet.problem = problem
        return .success(packet)
    }

    /// The rule of its type the payload breaks, as the reference parsers check it (their `isPayloadValid`), with
    /// what the specification adds: an EVENT and an ACK need their array, an ACK its id.
    static func payloadProblem(
        type: SocketIOPacketType, data: Range<Int>?, elements: [Range<Int>]?, ackId: Int64?,
        _ text: UnsafeRawBufferPointer, protocolVersion: Int
    ) -> SocketIOPayloadProblem? {
        let kind = data.map { JSONScanner(text).kind(at: $0.lowerBound) }
        // `typeof x === "object"` (protocol 4) holds for arrays and null too; protocol 5 asks for a plain object.
        let objectLike = kind == .object || (protocolVersion < 5 && (kind == .array || kind == .null))
        switch type {
        case .connect:
            return kind == nil || objectLike ? nil : .connectNotObject
        case .disconnect:
            return kind == nil ? nil : .disconnectWithPayload
        case .connectError:
            return kind == nil || kind == .string || objectLike ? nil : .connectErrorNotStringOrObject
        case .event, .binaryEvent:
            guard let elements else { return .eventNotArray }
            guard let first = elements.first else { return .eventWithoutName }
            let head = text[first.lowerBound]
            if head == UInt8(ascii: "\"") {
                if protocolVersion >= 5 && Self.isReserved(first, in: text) { return .reservedEventName }
                return nil
            }
            return head == UInt8(ascii: "-") || (head >= UInt8(ascii: "0") && head <= UInt8(ascii: "9"))
                ? nil : .eventWithoutName
        case .ack, .binaryAck:
            guard elements != nil else { return .ackNotArray }
            return ackId == nil ? .ackWithoutId : nil
        }
    }

    /// The event names socket.io-parser 4 refuses (`RESERVED_EVENTS`): they mean something to the socket itself.
    public static let reservedEventNames: [StaticString] = [
        "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
    ]

    /// Whether the JSON string at `range` is a reserved event name (its escapes decoded, as `JSON.parse` does).
    static func isReserved(_ range: Range<Int>, in text: UnsafeRawBufferPointer) -> Bool {
        let inner = UnsafeRawBufferPointer(rebasing: text[(range.lowerBound + 1)..<(range.upperBound - 1)])
        if inner.contains(UInt8(ascii: "\\")) {
            guard let name = JSONScanner(text).decodeString(range) else { return false }
            return reservedEventNames.contains { $0.description == name }
        }
        // Most names have none of the reserved lengths (7, 10, 11, 13, 14): settled without comparing bytes.
        switch inner.count {
        case 7, 10, 11, 13, 14: break
        default: return false
        }
        for name in reservedEventNames where name.utf8CodeUnitCount == inner.count {
            if inner.elementsEqual(UnsafeRawBufferPointer(start: name.utf8Start, count: inner.count)) { return true }
        }
        return false
    }

    /// Says what a packet's ``problem`` is, with what its payload holds.
    public func problemMessage(in text: UnsafeRawBufferPointer) -> String? {
        guard let problem else { return nil }
        let payload = data.map { range -> String in
            let shown = range.lowerBound..<min(range.upperBound, range.lowerBound + 80)
            return String(decoding: UnsafeRawBufferPointer(rebasing: text[shown]), as: UTF8.self)
                + (shown.count < range.count ? "…" : "")
        }
        let name = type.name
        switch problem {
        case .connectNotObject: return "\(name) payload is not an object: \(payload ?? "")"
        case .disconnectWithPayload: return "\(name) has a payload: \(payload ?? "")"
        case .connectErrorNotStringOrObject:
            return "\(name) payload is neither a string nor an object: \(payload ?? "")"
        case .eventNotArray:
            return payload.map { "\(name) payload is not an array: \($0)" } ?? "\(name) without a payload"
        case .eventWithoutName:
            return "\(name) payload does not start with an event name (a string or a number): \(payload ?? "")"
        case .reservedEventName:
            return "\(name) name \(eventName(in: text).map { "\"\($0)\"" } ?? "") is reserved"
        case .ackNotArray:
            return payload.map { "\(name) payload is not an array: \($0)" } ?? "\(name) without a payload"
        case .ackWithoutId: return "\(name) without an ack id"
        }
    }
}

public struct SocketIOParseError: Error, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

extension SocketIOPacket {
    /// Checks a binary packet's placeholders against its attachments as the reference parsers rebuild the packet
    /// (`reconstructPacket`): every object whose `_placeholder` is `true` must have a `num` that is an integer
    /// naming one of the attachments. Also finds the attachments no placeholder names (the reference parsers drop
    /// them without a word; here their bytes would appear in no record). Nil when all is well. Walks the JSON: for
    /// binary packets only, which are rare.
    public func placeholderProblem(in text: UnsafeRawBufferPointer, attachments: [[UInt8]]) -> String? {
        var named = [Bool](repeating: false, count: attachments.count)
        var firstBad: Range<Int>? = nil
        var bad = 0
        let s = JSONScanner(text, trusted: true)
        func walk(_ range: Range<Int>) {
            switch s.kind(at: range.lowerBound) {
            case .object:
                var isPlaceholder = false
                var num: Range<Int>? = nil
                // The last of repeated keys counts, as with JSON.parse.
                _ = s.forEachMember(range) { key, value in
                    if s.keyEquals(key, "_placeholder") {
                        isPlaceholder = s.bytes[value.lowerBound] == UInt8(ascii: "t")
                    } else if s.keyEquals(key, "num") {
                        num = value
                    }
                }
                if isPlaceholder {
                    if let num, let k = s.decodeInteger(num), k >= 0, k < named.count {
                        named[Int(k)] = true
                    } else {
                        bad += 1
                        if firstBad == nil { firstBad = s.skipSpace(range.lowerBound)..<range.upperBound }
                    }
                } else {
                    _ = s.forEachMember(range) { _, value in walk(value) }
                }
            case .array:
                for element in s.arrayElements(s.skipSpace(range.lowerBound)..<range.upperBound) ?? [] {
                    walk(element)
                }
            default:
                break
            }
        }
        if let data { walk(data) }
        var parts: [String] = []
        if let firstBad {
            let shown = firstBad.lowerBound..<min(firstBad.upperBound, firstBad.lowerBound + 80)
            parts.append(
                "placeholder " + String(decoding: UnsafeRawBufferPointer(rebasing: text[shown]), as: UTF8.self)
                    + (shown.count < firstBad.count ? "…" : "") + " names none of the \(attachments.count) attachments"
                    + (bad > 1 ? " (and \(bad - 1) more placeholders)" : ""))
        }
        let unnamed = named.indices.filter { !named[$0] }
        if !unnamed.isEmpty {
            let list = unnamed.prefix(8).map { "\($0) (\(attachments[$0].count) bytes)" }.joined(separator: ", ")
            parts.append(
                (unnamed.count == 1 ? "attachment " : "attachments ") + list + (unnamed.count > 8 ? ", …" : "")
                    + (unnamed.count == 1 ? " is" : " are") + " named by no placeholder")
        }
        return parts.isEmpty ? nil : "\(type.name): " + parts.joined(separator: "; ")
    }
}
