import SocketIO

extension ServerMessage {
    /// A server message from a decoded Socket.IO packet (recorded or received live), nil for a packet that is none
    /// of the kinds the verdict compares. An argument that is not valid JSON is kept as a string of its text.
    public init?(_ message: SocketIOMessage, frame: UInt64? = nil, time: Double) {
        let packet = message.packet
        let kind: Kind
        switch packet.type {
        case .connect: kind = .connect
        case .connectError: kind = .connectError
        case .event, .binaryEvent: kind = .event
        case .ack, .binaryAck: kind = .ack
        case .disconnect: kind = .disconnect
        }
        var args: [JSONValue] = []
        var name: String? = nil
        if let elements = packet.elements {
            for (i, range) in elements.enumerated() {
                let bytes = UnsafeRawBufferPointer(rebasing: message.text[range])
                let value = (try? JSONValue(parsing: bytes)) ?? .string(String(decoding: bytes, as: UTF8.self))
                if kind == .event && i == 0 {
                    if case .string(let s) = value { name = s } else { name = value.json }
                } else {
                    args.append(value)
                }
            }
        } else if let data = packet.data {
            let bytes = UnsafeRawBufferPointer(rebasing: message.text[data])
            args = [(try? JSONValue(parsing: bytes)) ?? .string(String(decoding: bytes, as: UTF8.self))]
        }
        self.init(
            kind: kind, namespace: packet.namespace, name: name, ackId: packet.ackId, args: args,
            attachments: message.attachments, frame: frame, time: time)
    }
}
