// TEMPORARY until the verdict branch lands (it brings the real parser and renderer).
import Foundation

extension JSONValue {
    public init(parsing bytes: some Collection<UInt8>) throws {
        let object = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        self = Self.from(object)
    }

    static func from(_ o: Any) -> JSONValue {
        switch o {
        case is NSNull: return .null
        case let s as String: return .string(s)
        case let n as NSNumber:
            if String(cString: n.objCType) == "c" { return .bool(n.boolValue) }
            return .number(n.stringValue)
        case let a as [Any]: return .array(a.map(from))
        case let d as [String: Any]: return .object(d.mapValues(from))
        default: return .null
        }
    }

    public var json: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return n
        case .string(let s): return "\"\(s)\""
        case .array(let a): return "[" + a.map(\.json).joined(separator: ",") + "]"
        case .object(let o):
            return "{" + o.keys.sorted().map { "\"\($0)\":\(o[$0]!.json)" }.joined(separator: ",") + "}"
        }
    }
}
