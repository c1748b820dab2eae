import Crypto
import HTTP1
import ImscopeCore

/// What the opening handshake (RFC 6455 section 4) settled: whether the server's accept key is right, and the
/// permessage-deflate parameters of each direction as the server's response agreed them.
public struct WebSocketHandshake: Sendable, Equatable {
    /// Whether `Sec-WebSocket-Accept` equals base64(SHA-1(key + GUID)); nil when either header is missing.
    public var acceptValid: Bool?
    /// The expected accept value (for the diagnostic).
    public var expectedAccept: String?
    /// Compression of client-to-server messages (the client compresses them).
    public var clientDeflate: DeflateParameters
    /// Compression of server-to-client messages.
    public var serverDeflate: DeflateParameters

    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    public init(request: HTTPMessageHead, response: HTTPMessageHead) {
        if let key = request.value("Sec-WebSocket-Key"), let accept = response.value("Sec-WebSocket-Accept") {
            let expected = Self.accept(forKey: key)
            expectedAccept = expected
            acceptValid = accept.trimming(" \t") == expected
        } else {
            acceptValid = nil
            expectedAccept = nil
        }
        (clientDeflate, serverDeflate) = Self.deflateParameters(response.value("Sec-WebSocket-Extensions"))
    }

    /// base64(SHA-1(key + the RFC 6455 GUID)).
    public static func accept(forKey key: String) -> String {
        let digest = Insecure.SHA1.hash(data: Array((key.trimming(" \t") + guid).utf8))
        return Base64.encode(Array(digest))
    }

    /// Reads the permessage-deflate offer the server accepted (RFC 7692 section 7.1), if any.
    public static func deflateParameters(_ header: String?) -> (client: DeflateParameters, server: DeflateParameters) {
        guard let header else { return (.off, .off) }
        for offer in header.split(separator: ",") {
            let params = offer.split(separator: ";").map { $0.trimming(" \t") }
            guard params.first?.lowercased() == "permessage-deflate" else { continue }
            var client = DeflateParameters(enabled: true)
            var server = DeflateParameters(enabled: true)
            for p in params.dropFirst() {
                let kv = p.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map {
                    $0.trimming(" \t\"")
                }
                guard let name = kv.first, !name.isEmpty else { continue }
                let bits = kv.count > 1 ? Int(kv[1]) ?? 15 : 15
                switch name.lowercased() {
                case "server_no_context_takeover": server.noContextTakeover = true
                case "client_no_context_takeover": client.noContextTakeover = true
                case "server_max_window_bits": server.maxWindowBits = bits
                case "client_max_window_bits": client.maxWindowBits = bits
                default: break
                }
            }
            return (client, server)
        }
        return (.off, .off)
    }
}
