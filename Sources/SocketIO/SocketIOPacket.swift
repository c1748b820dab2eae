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
    /// later reader scans the JSON again.
    public var elements: [Range<Int>]? = nil
    /// An event's first argument, when it is an object: its members, with ranges in that argument's bytes (found in
    /// the same validating pass, for the ImMessage reader).
    public var argumentMembers: [JSONMember]? = nil

    /// An event's name (its first element).
    public func eventName(in text: UnsafeRawBufferPointer) -> String? {
        guard type.isEvent, let first = elements?.first, first.count >= 2 else { return nil }
        if let inner = eventNameBytes(in: text) { return String(decoding: inner, as: UTF8.self) }
        return JSONScanner(text).decodeString(first)
    }

    /// The characters of the event name's JSON string when they are the name as it stands (no escapes), so a
    /// renderer can copy them; nil otherwise.
    public func eventNameBytes(in text: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard type.isEvent, let first = elements?.first, first.count >= 2 else { return nil }
        let inner = UnsafeRawBufferPointer(rebasing: text[(first.lowerBound + 1)..<(first.upperBound - 1)])
        return inner.contains(UInt8(ascii: "\\")) ? nil : inner
    }

    /// The arguments: an event's elements after its name, an ack's elements.
    public var arguments: ArraySlice<Range<Int>> {
        guard let elements else { return [] }
        return elements[min(firstArgument, elements.count)...]
    }

    /// Where the arguments start among the elements (for a loop over them that makes no slice).
    public var firstArgument: Int { type.isEvent ? 1 : 0 }

    /// Parses a packet; the error says what is wrong.
    public static func parse(_ text: UnsafeRawBufferPointer) -> Result<SocketIOPacket, SocketIOParseError> {
        parse(text, reusing: ParseScratch())
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
    public static func parse(_ text: UnsafeRawBufferPointer, reusing scratch: ParseScratch) -> Result<
        SocketIOPacket, SocketIOParseError
    > {
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
        let packet = SocketIOPacket(
            type: type, attachments: attachments, namespace: namespace, ackId: ackId, data: data, elements: elements,
            argumentMembers: argumentMembers)
        if let problem = packet.shapeProblem(text) { return .failure(.init(problem)) }
        return .success(packet)
    }

    /// What the payload must look like for the type (events and acks carry an array, an event's first element is
    /// its name).
    func shapeProblem(_ text: UnsafeRawBufferPointer) -> String? {
        switch type {
        case .event, .binaryEvent:
            guard let first = elements?.first, text[first.lowerBound] == UInt8(ascii: "\"") else {
                return "\(type.name) payload is not an array starting with the event name"
            }
        case .ack, .binaryAck:
            guard elements != nil else { return "\(type.name) payload is not an array" }
            if ackId == nil { return "\(type.name) without an ack id" }
        default:
            break
        }
        return nil
    }
}

public struct SocketIOParseError: Error, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
}
