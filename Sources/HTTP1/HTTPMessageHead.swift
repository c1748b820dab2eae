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
        for (n, v) in headers where n.utf8.count == name.utf8.count && n.lowercased() == name.lowercased() {
            result = result.map { $0 + ", " + v } ?? v
        }
        return result
    }

    /// Whether a comma-separated header holds `token` (case-insensitive), as in `Connection: keep-alive, Upgrade`.
    public func has(_ name: String, token: String) -> Bool {
        guard let v = value(name) else { return false }
        let wanted = token.lowercased()
        return v.split(separator: ",").contains { $0.trimming(" \t").lowercased() == wanted }
    }

    /// `Content-Length`, when present and valid.
    public var contentLength: Int? {
        guard let v = value("Content-Length") else { return nil }
        let parts = v.split(separator: ",").map { $0.trimming(" \t") }
        guard let first = parts.first, !first.isEmpty, first.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let n = Int(first), parts.allSatisfy({ $0 == first })
        else { return nil }
        return n
    }

    /// Whether the body uses chunked transfer coding (the last coding is `chunked`).
    public var isChunked: Bool {
        guard let v = value("Transfer-Encoding") else { return false }
        return v.split(separator: ",").last?.trimming(" \t").lowercased() == "chunked"
    }

    /// Whether this is a WebSocket upgrade request (or a response accepting one).
    public var isWebSocketUpgrade: Bool {
        has("Upgrade", token: "websocket") && has("Connection", token: "upgrade")
    }

    /// The query parameter `name` of the request target, percent-decoding not applied.
    public func queryParameter(_ name: String) -> String? {
        guard let q = uri.firstIndex(of: "?") else { return nil }
        for pair in uri[uri.index(after: q)...].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if kv.first.map(String.init) == name { return kv.count > 1 ? String(kv[1]) : "" }
        }
        return nil
    }
}
