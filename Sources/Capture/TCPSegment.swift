import ImscopeCore

/// TCP header flags.
public struct TCPFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let psh = TCPFlags(rawValue: 0x08)
    public static let ack = TCPFlags(rawValue: 0x10)
    public static let urg = TCPFlags(rawValue: 0x20)
}

/// One TCP segment as decoded from a packet, viewing the packet's bytes in place.
///
/// `payload` points into the packet's bytes (libpcap's buffer or the mapped file) or the IP defragmenter's buffer,
/// and is valid only until the next packet is read; whoever keeps bytes longer copies them. `payloadLength` is the length the IP header
/// announces; when the packet was cut by the snaplen, `payload.count` is smaller and the rest was never captured.
public struct TCPSegment {
    public var src: Endpoint
    public var dst: Endpoint
    public var seq: UInt32
    public var ack: UInt32
    public var flags: TCPFlags
    public var window: UInt16
    public var payload: UnsafeRawBufferPointer
    public var payloadLength: Int

    public init(
        src: Endpoint, dst: Endpoint, seq: UInt32, ack: UInt32, flags: TCPFlags, window: UInt16 = 65535,
        payload: UnsafeRawBufferPointer, payloadLength: Int? = nil
    ) {
        self.src = src
        self.dst = dst
        self.seq = seq
        self.ack = ack
        self.flags = flags
        self.window = window
        self.payload = payload
        self.payloadLength = payloadLength ?? payload.count
    }

    public init() {
        let zero = Endpoint(address: IPAddress(hi: 0, lo: 0), port: 0)
        self.init(
            src: zero, dst: zero, seq: 0, ack: 0, flags: [], payload: UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// Bytes of payload that the capture did not record (cut by the snaplen).

    public var missingTail: Int { payloadLength - payload.count }
}
