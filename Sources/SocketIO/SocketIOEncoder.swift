/// A Socket.IO packet to send, owned: the input of ``SocketIOEncoder``. Its payload is JSON text kept as it is
/// given (a replay sends the arguments' JSON exactly as it was recorded), with its placeholders already in it for
/// a binary packet.
public struct SocketIOOutgoingPacket: Sendable, Equatable {
    public var type: SocketIOPacketType
    /// `/` or `/name`; in protocol 4 a CONNECT's query follows it (`/admin?token=abc`). Written unless it is `/`.
    public var namespace: String
    public var ackId: Int64?
    /// The JSON payload's text, written as it is (nil: none).
    public var data: [UInt8]?
    /// A binary packet's attachments, in `num` order: the count before `-` is theirs.
    public var attachments: [[UInt8]]

    public init(
        type: SocketIOPacketType, namespace: String = "/", ackId: Int64? = nil, data: [UInt8]? = nil,
        attachments: [[UInt8]] = []
    ) {
        self.type = type
        self.namespace = namespace
        self.ackId = ackId
        self.data = data
        self.attachments = attachments
    }

    /// A decoded message again, its payload's bytes and attachments as they came; `namespace` and `ackId` replace
    /// the recorded ones when given (`ackId: .some(nil)` drops the id).
    public init(_ message: SocketIOMessage, namespace: String? = nil, ackId: Int64?? = nil) {
        let p = message.packet
        self.init(
            type: p.type, namespace: namespace ?? p.namespace, ackId: ackId ?? p.ackId,
            data: p.data.map { Array(UnsafeRawBufferPointer(rebasing: message.text[$0])) },
            attachments: message.attachments)
    }

    /// A decoded message's array elements (an event's name then its arguments, an ack's arguments) as JSON texts,
    /// each exactly as recorded; nil when the payload is no array the decoder split.
    public static func elements(of message: SocketIOMessage) -> [[UInt8]]? {
        message.packet.elements?.map { Array(UnsafeRawBufferPointer(rebasing: message.text[$0])) }
    }

    /// CONNECT to `namespace`: with an auth object's JSON (protocol 5), or with the query written into the
    /// namespace (protocol 4: `/admin?token=abc`; `auth` must be nil there, protocol 4 sends no payload).
    public static func connect(namespace: String = "/", auth: [UInt8]? = nil) -> SocketIOOutgoingPacket {
        .init(type: .connect, namespace: namespace, data: auth)
    }

    /// DISCONNECT from `namespace`.
    public static func disconnect(namespace: String = "/") -> SocketIOOutgoingPacket {
        .init(type: .disconnect, namespace: namespace)
    }

    /// EVENT (BINARY_EVENT when there are attachments): `elements` are the array's JSON texts, the name first.
    public static func event(
        namespace: String = "/", ackId: Int64? = nil, elements: [[UInt8]], attachments: [[UInt8]] = []
    ) -> SocketIOOutgoingPacket {
        .init(
            type: attachments.isEmpty ? .event : .binaryEvent, namespace: namespace, ackId: ackId,
            data: SocketIOEncoder.array(elements), attachments: attachments)
    }

    /// ACK (BINARY_ACK when there are attachments) of request `ackId`: `arguments` are the array's JSON texts.
    public static func ack(
        namespace: String = "/", ackId: Int64, arguments: [[UInt8]], attachments: [[UInt8]] = []
    ) -> SocketIOOutgoingPacket {
        .init(
            type: attachments.isEmpty ? .ack : .binaryAck, namespace: namespace, ackId: ackId,
            data: SocketIOEncoder.array(arguments), attachments: attachments)
    }
}

/// An encoded Socket.IO packet: the text (one Engine.IO message), then each attachment as a binary Engine.IO
/// message of its own, in order.
public struct SocketIOEncodedPacket: Sendable, Equatable {
    public var text: [UInt8]
    public var attachments: [[UInt8]]
}

/// Encodes Socket.IO packets of protocol 4 (over Engine.IO 3) and 5 (over Engine.IO 4) as the reference encoders
/// do (socket.io-parser 3.4.3 and 4.2.4, whose `encodeAsString` is the same):
/// `<type>[<attachments>-][<namespace>,][<ack id>][JSON]`, the namespace left out when it is `/`. Pure: no I/O,
/// and the payload is not checked (a replay sends what was recorded, invalid or not; ``SocketIOPacket/parse`` says
/// what a peer will make of it).
///
/// Where the versions differ: only in what the caller puts in. Protocol 4 writes a CONNECT's query into the
/// namespace (`0/admin?token=abc,`) and has no CONNECT payload; protocol 5 sends the auth object as the payload
/// (`0/admin,{"token":"abc"}`). A CONNECT to `/` is `0` in both.
///
/// What the references leave ambiguous, this encoder does too: a namespace that contains `,`, or a payload that
/// starts with a digit after an ack id, does not decode back to the packet it came from.
public enum SocketIOEncoder {
    public static func encode(_ packet: SocketIOOutgoingPacket) -> SocketIOEncodedPacket {
        var text: [UInt8] = [UInt8(ascii: "0") + packet.type.rawValue]
        if packet.type.isBinary {
            text += Array(String(packet.attachments.count).utf8)
            text.append(UInt8(ascii: "-"))
        }
        if packet.namespace != "/" && !packet.namespace.isEmpty {
            text += Array(packet.namespace.utf8)
            text.append(UInt8(ascii: ","))
        }
        if let id = packet.ackId { text += Array(String(id).utf8) }
        if let data = packet.data { text += data }
        return SocketIOEncodedPacket(text: text, attachments: packet.type.isBinary ? packet.attachments : [])
    }

    /// `[e1,e2,…]`: JSON texts joined into an array, each as it is.
    public static func array(_ elements: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "[")]
        for (i, e) in elements.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out += e
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// `{"_placeholder":true,"num":<n>}`, as both references write an attachment's place in the JSON.
    public static func placeholder(_ num: Int) -> [UInt8] { Array(#"{"_placeholder":true,"num":\#(num)}"#.utf8) }
}
