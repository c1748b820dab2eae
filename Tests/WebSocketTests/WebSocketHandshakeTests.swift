import HTTP1
import Testing

@testable import WebSocket

/// `WebSocketHandshake`: the accept key (RFC 6455 section 4.2.2) and the permessage-deflate parameters the server
/// agreed (RFC 7692 section 7.1).
@Suite struct WebSocketHandshakeTests {
    /// RFC 6455 section 1.3, and two more computed with Python (`base64(sha1(key + GUID))`).
    @Test(arguments: [
        ("dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        (" dGhlIHNhbXBsZSBub25jZQ== ", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ("x3JJHMbDL1EzLkh9GBhXDw==", "HSmrc0sMlYUkAGmm5OPpG2HaGWk="),
        ("AQIDBAUGBwgJCgsMDQ4PEA==", "C/0nmHhBztSRGR1CwL6Tf4ZjwpY="),
    ])
    func acceptKey(_ key: String, _ accept: String) {
        #expect(WebSocketHandshake.accept(forKey: key) == accept)
    }

    static func request(key: String?) -> HTTPMessageHead {
        var h: [(name: String, value: String)] = [("Upgrade", "websocket"), ("Connection", "Upgrade")]
        if let key { h.append(("Sec-WebSocket-Key", key)) }
        return HTTPMessageHead(isRequest: true, method: "GET", uri: "/socket.io/?EIO=4&transport=websocket", headers: h)
    }

    static func response(accept: String?, extensions: String? = nil) -> HTTPMessageHead {
        var h: [(name: String, value: String)] = [("Upgrade", "websocket"), ("Connection", "Upgrade")]
        if let accept { h.append(("sec-websocket-accept", accept)) }
        if let extensions { h.append(("Sec-WebSocket-Extensions", extensions)) }
        return HTTPMessageHead(isRequest: false, status: 101, reason: "Switching Protocols", headers: h)
    }

    @Test func acceptChecked() {
        let key = "dGhlIHNhbXBsZSBub25jZQ=="
        let good = WebSocketHandshake(
            request: Self.request(key: key), response: Self.response(accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo= "))
        #expect(good.acceptValid == true)
        #expect(good.expectedAccept == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(good.clientDeflate == .off && good.serverDeflate == .off)
        let bad = WebSocketHandshake(request: Self.request(key: key), response: Self.response(accept: "AAAA"))
        #expect(bad.acceptValid == false)
        #expect(bad.expectedAccept == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        let noAccept = WebSocketHandshake(request: Self.request(key: key), response: Self.response(accept: nil))
        #expect(noAccept.acceptValid == nil)
        let noKey = WebSocketHandshake(request: Self.request(key: nil), response: Self.response(accept: "AAAA"))
        #expect(noKey.acceptValid == nil)
    }

    @Test func deflateFromTheResponse() {
        let h = WebSocketHandshake(
            request: Self.request(key: "dGhlIHNhbXBsZSBub25jZQ=="),
            response: Self.response(
                accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
                extensions: "permessage-deflate; server_no_context_takeover; client_max_window_bits=12"))
        #expect(h.serverDeflate == DeflateParameters(enabled: true, noContextTakeover: true))
        #expect(h.clientDeflate == DeflateParameters(enabled: true, maxWindowBits: 12))
    }

    struct ExtensionCase: Sendable, CustomTestStringConvertible {
        var header: String?
        var client: DeflateParameters
        var server: DeflateParameters
        var testDescription: String { header.map { "\"\($0)\"" } ?? "no header" }
    }

    static let on = DeflateParameters(enabled: true)

    static let extensionCases: [ExtensionCase] = [
        ExtensionCase(header: nil, client: .off, server: .off),
        ExtensionCase(header: "", client: .off, server: .off),
        ExtensionCase(header: "x-webkit-deflate-frame", client: .off, server: .off),
        ExtensionCase(header: "permessage-deflate-x", client: .off, server: .off),
        ExtensionCase(header: "permessage-deflate", client: on, server: on),
        ExtensionCase(header: "permessage-deflate;", client: on, server: on),
        ExtensionCase(
            header: "permessage-deflate; server_no_context_takeover", client: on,
            server: DeflateParameters(enabled: true, noContextTakeover: true)),
        ExtensionCase(
            header: "permessage-deflate; client_no_context_takeover",
            client: DeflateParameters(enabled: true, noContextTakeover: true), server: on),
        ExtensionCase(
            header: "permessage-deflate;client_no_context_takeover;server_no_context_takeover",
            client: DeflateParameters(enabled: true, noContextTakeover: true),
            server: DeflateParameters(enabled: true, noContextTakeover: true)),
        ExtensionCase(
            header: "permessage-deflate; client_max_window_bits",
            client: DeflateParameters(enabled: true, maxWindowBits: 15),
            server: on),
        ExtensionCase(
            header: "permessage-deflate; client_max_window_bits=10; server_max_window_bits=12",
            client: DeflateParameters(enabled: true, maxWindowBits: 10),
            server: DeflateParameters(enabled: true, maxWindowBits: 12)),
        ExtensionCase(
            header: "permessage-deflate; client_max_window_bits=\"10\"",
            client: DeflateParameters(enabled: true, maxWindowBits: 10), server: on),
        ExtensionCase(
            header: "permessage-deflate ; server_max_window_bits = 9 ;\tserver_no_context_takeover", client: on,
            server: DeflateParameters(enabled: true, noContextTakeover: true, maxWindowBits: 9)),
        ExtensionCase(
            header: "PerMessage-Deflate; Server_No_Context_Takeover", client: on,
            server: DeflateParameters(enabled: true, noContextTakeover: true)),
        ExtensionCase(header: "permessage-deflate; unknown_param=1", client: on, server: on),
        ExtensionCase(
            header: "x-webkit-deflate-frame, permessage-deflate; server_no_context_takeover", client: on,
            server: DeflateParameters(enabled: true, noContextTakeover: true)),
        ExtensionCase(
            header: "permessage-deflate; server_max_window_bits=10, permessage-deflate", client: on,
            server: DeflateParameters(enabled: true, maxWindowBits: 10)),
    ]

    @Test(arguments: extensionCases)
    func deflateParameters(_ c: ExtensionCase) {
        let (client, server) = WebSocketHandshake.deflateParameters(c.header)
        #expect(client == c.client)
        #expect(server == c.server)
    }

    /// A parameter that is only "=" (from a peer or a damaged capture) must not crash the decoder.
    @Test func bareEqualsSignDoesNotTrap() async {
        await #expect(processExitsWith: .success) {
            _ = WebSocketHandshake.deflateParameters("permessage-deflate; =")
        }

    }
}
