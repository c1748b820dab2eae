import Capture
import ImscopeCore

/// Bytes from a hex dump: pairs of hex digits, whitespace ignored (`"45 00 00 2d"`).
func hex(_ text: String) -> [UInt8] {
    let digits = text.filter { !$0.isWhitespace }
    precondition(digits.count % 2 == 0, "odd number of hex digits")
    var bytes: [UInt8] = []
    bytes.reserveCapacity(digits.count / 2)
    var index = digits.startIndex
    while index != digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        bytes.append(UInt8(digits[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

/// The fields of a decoded segment, copied out of the packet so they can be compared after it is gone.
struct SegmentFields: Equatable, Sendable, CustomStringConvertible {
    var src: String
    var dst: String
    var seq: UInt32
    var ack: UInt32
    var flags: UInt8
    var window: UInt16
    var payload: [UInt8]
    var payloadLength: Int

    init(
        src: String, dst: String, seq: UInt32 = 0x0102_0304, ack: UInt32 = 0x0A0B_0C0D, flags: UInt8 = 0x18,
        window: UInt16 = 0x1234, payload: String = "hello", payloadLength: Int? = nil
    ) {
        self.src = src
        self.dst = dst
        self.seq = seq
        self.ack = ack
        self.flags = flags
        self.window = window
        self.payload = Array(payload.utf8)
        self.payloadLength = payloadLength ?? self.payload.count
    }

    init(_ segment: TCPSegment) {
        src = segment.src.description
        dst = segment.dst.description
        seq = segment.seq
        ack = segment.ack
        flags = segment.flags.rawValue
        window = segment.window
        payload = Array(segment.payload)
        payloadLength = segment.payloadLength
    }

    var description: String {
        "\(src) > \(dst) seq \(seq) ack \(ack) flags 0x\(String(flags, radix: 16)) win \(window) "
            + "payload \(String(decoding: payload, as: UTF8.self).debugDescription) (\(payload.count) of \(payloadLength))"
    }
}

/// What decoding one packet should produce.
enum Expected: Equatable, Sendable, CustomStringConvertible {
    case tcp(SegmentFields)
    case skip
    case fragmentBuffered
    /// A problem, by diagnostic code.
    case problem(String)

    var description: String {
        switch self {
        case .tcp(let fields): return "tcp(\(fields))"
        case .skip: return "skip"
        case .fragmentBuffered: return "fragmentBuffered"
        case .problem(let code): return "problem(\(code))"
        }
    }
}

extension PacketDecoder {
    /// Decodes `bytes` and copies what came out, so the result outlives the packet's buffer.
    mutating func decode(linkType: Int32, bytes: [UInt8], ts: Timestamp = Timestamp(nanoseconds: 0)) -> Expected {
        var segment = TCPSegment()
        return bytes.withUnsafeBytes { raw -> Expected in
            switch decode(linkType: linkType, raw, ts: ts, into: &segment) {
            case .tcp: return .tcp(SegmentFields(segment))
            case .skip: return .skip
            case .fragmentBuffered: return .fragmentBuffered
            case .problem(let kind, _): return .problem(kind.code)
            }
        }
    }
}
