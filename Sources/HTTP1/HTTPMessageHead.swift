import ImscopeCore

/// The start line and headers of one HTTP/1.x request or response.
public struct HTTPMessageHead: Sendable {
    public var isRequest: Bool
    /// Request method (`GET`); empty for responses.
    public var method: String
    /// Request target (`/socket.io/?EIO=4&transport=polling`); empty for responses.
    public var uri: String
    /// `HTTP/1.1`.
    public var version: String
    /// Response status code; 0 for requests.
    public var status: Int
    public var reason: String
    /// Header fields in the order they came, names as sent.
    public var headers: [(name: String, value: String)]

    public init(
        isRequest: Bool, method: String = "", uri: String = "", version: String = "HTTP/1.1", status: Int = 0,
        reason: String = "", headers: [(name: String, value: String)] = []
    ) {
        self.isRequest = isRequest
        self.method = method
        self.uri = uri
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
    }

    /// The value of a header (case-insensitive name); repeated fields are joined with ", " as RFC 9110 allows.
    public func value(_ name: String) -> String? {
        var result: String? = nil
        for (n, v) in headers where HTTPBytes.equalsIgnoringASCIICase(n, name) {
            result = result.map { $0 + ", " + v } ?? v
        }
        return result
    }

    /// Whether a comma-separated header holds `token` (case-insensitive), as in `Connection: keep-alive, Upgrade`.
    public func has(_ name: String, token: String) -> Bool {
        guard let v = value(name) else { return false }
        return HTTPBytes.listElements(v).contains { HTTPBytes.equalsIgnoringASCIICase($0, token) }
    }

    /// `Content-Length`, when present and valid.
    public var contentLength: Int? {
        guard let v = value("Content-Length") else { return nil }
        let parts = HTTPBytes.listElements(v)
        guard let first = parts.first, !first.isEmpty, first.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let n = Int(first), parts.allSatisfy({ $0 == first })
        else { return nil }
        return n
    }

    /// Whether the body uses chunked transfer coding (the last coding is `chunked`).
    public var isChunked: Bool {
        guard let v = value("Transfer-Encoding"), let last = HTTPBytes.listElements(v).last else {
            return false
        }
        return HTTPBytes.equalsIgnoringASCIICase(last, "chunked")
    }

    /// Whether this is a WebSocket upgrade request (or a response accepting one).
    public var isWebSocketUpgrade: Bool {
        has("Upgrade", token: "websocket") && has("Connection", token: "upgrade")
    }

    /// The query parameter `name` of the request target, percent-decoding not applied.
    public func queryParameter(_ name: String) -> String? {
        let u = uri.utf8
        guard let q = u.firstIndex(of: UInt8(ascii: "?")) else { return nil }
        let wanted = name.utf8
        var i = u.index(after: q)
        while i < u.endIndex {
            let end = u[i...].firstIndex(of: UInt8(ascii: "&")) ?? u.endIndex
            let eq = u[i..<end].firstIndex(of: UInt8(ascii: "=")) ?? end
            if u[i..<eq].elementsEqual(wanted) {
                return eq < end ? String(Substring(u[u.index(after: eq)..<end])) : ""
            }
            i = end < u.endIndex ? u.index(after: end) : end
        }
        return nil
    }
}

/// Byte-level helpers for header text (ASCII case rules, RFC 9110 lists), so that a head costs no
/// Character-by-Character work.
enum HTTPBytes {
    static func lower(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }

    static func equalsIgnoringASCIICase<A: StringProtocol, B: StringProtocol>(_ a: A, _ b: B) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        var j = b.utf8.makeIterator()
        for x in a.utf8 {
            guard let y = j.next(), lower(x) == lower(y) else { return false }
        }
        return true
    }

    /// The elements of a comma-separated list, optional whitespace trimmed. Nothing between two commas is no
    /// element, as in `"chunked,"`; whitespace alone is an empty element, which no valid value matches.
    static func listElements(_ v: String) -> [Substring] {
        v.utf8.split(separator: UInt8(ascii: ",")).map { Substring(trimmed($0)) }
    }

    static func isOWS(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }

    static func trimmed(_ s: Substring.UTF8View) -> Substring.UTF8View {
        var s = s
        while let f = s.first, isOWS(f) { s = s.dropFirst() }
        while let l = s.last, isOWS(l) { s = s.dropLast() }
        return s
    }
}
