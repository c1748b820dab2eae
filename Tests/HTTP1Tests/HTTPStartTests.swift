import ImscopeCore
import Testing

@testable import HTTP1

/// `HTTPConnection.looksLikeHTTP`: whether a connection's first bytes in a direction are HTTP, are not, or are too
/// few to tell — what the choice of a connection's protocol rests on.
@Suite struct HTTPStartTests {
    struct StartCase: Sendable, CustomTestStringConvertible {
        var dir: Direction
        var bytes: [UInt8]
        var expected: Bool?
        var testDescription: String {
            "\(dir) \(String(decoding: bytes.prefix(40), as: UTF8.self).debugDescription) -> \(expected.map(String.init) ?? "nil")"
        }

        init(_ dir: Direction, _ text: String, _ expected: Bool?) {
            self.init(dir, Array(text.utf8), expected)
        }

        init(_ dir: Direction, _ bytes: [UInt8], _ expected: Bool?) {
            self.dir = dir
            self.bytes = bytes
            self.expected = expected
        }
    }

    static let cases: [StartCase] = [
        // Requests: any method, then the line must end with the HTTP/1 version.
        StartCase(.c2s, "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: a\r\n\r\n", true),
        StartCase(.c2s, "POST /x HTTP/1.0\n", true),
        StartCase(.c2s, "RPC_IN_DATA /rpc/rpcproxy.dll?h:593 HTTP/1.1\r\n", true),
        StartCase(.c2s, "PROPFIND /dav/ HTTP/1.1\r\n", true),
        StartCase(.c2s, "M-SEARCH * HTTP/1.1\r\n", true),
        StartCase(.c2s, "CONNECT example.org:443 HTTP/1.1\r\n", true),
        StartCase(.c2s, "GET http://example.org/ HTTP/1.1\r\n", true),
        StartCase(.c2s, "OPTIONS sip:probe@edge.test SIP/2.0\r\n", false),
        StartCase(.c2s, "DESCRIBE rtsp://cam/stream RTSP/1.0\r\n", false),
        StartCase(.c2s, "NICK me\r\n", false),
        StartCase(.c2s, "EHLO mail.example.org\r\n", false),
        StartCase(.c2s, "GET /\r\n", false),  // HTTP/0.9: no version
        StartCase(.c2s, "GET / HTTP/2.0\r\n", false),
        StartCase(.c2s, "GET / HTTP/1.x\r\n", false),
        StartCase(.c2s, "get / HTTP/1.1\r\n", false),
        StartCase(.c2s, "GET  HTTP/1.1\r\n", false),
        StartCase(.c2s, "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n", false),
        StartCase(.c2s, [0x16, 0x03, 0x01, 0x00, 0xD4, 0x01], false),  // TLS ClientHello
        StartCase(.c2s, [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D], false),  // a masked WebSocket frame
        StartCase(.c2s, "GET /x HTTP/1.1\u{0}\r\n", false),
        StartCase(.c2s, String(repeating: "A", count: 33) + " / HTTP/1.1\r\n", false),  // a method of 33 letters
        // Too few to tell: a method or a line not ended yet.
        StartCase(.c2s, "", nil),
        StartCase(.c2s, "G", nil),
        StartCase(.c2s, "RPC_IN", nil),
        StartCase(.c2s, "GET /socket.io/?EIO=4", nil),
        StartCase(.c2s, "NICK me", nil),
        StartCase(.c2s, "GET /" + String(repeating: "a", count: HTTPConnection.maxStartLineGuess), false),
        // Responses: the status line's version.
        StartCase(.s2c, "HTTP/1.1 101 Switching Protocols\r\n", true),
        StartCase(.s2c, "HTTP/1.0 200 OK\r\n", true),
        StartCase(.s2c, "HTTP/1.", true),
        StartCase(.s2c, "HTTP/", nil),
        StartCase(.s2c, "H", nil),
        StartCase(.s2c, "", nil),
        StartCase(.s2c, "SIP/2.0 200 OK\r\n", false),
        StartCase(.s2c, "SSH-2.0-OpenSSH_8.9p1\r\n", false),
        StartCase(.s2c, "220 mail.example.org ESMTP\r\n", false),
        StartCase(.s2c, "HTTP/2 200\r\n", false),
        StartCase(.s2c, [0x81, 0x05, 0x68, 0x65, 0x6C, 0x6C, 0x6F], false),
    ]

    @Test(arguments: cases)
    func start(_ c: StartCase) {
        #expect(c.bytes.withUnsafeBytes { HTTPConnection.looksLikeHTTP(c.dir, $0) } == c.expected)
    }

    /// Every prefix of a request line is undecided until its newline, and HTTP from there; the same for a status
    /// line until `HTTP/1.` is whole.
    @Test(arguments: [
        (Direction.c2s, "PATCH /api/v1/items/7?x=1 HTTP/1.1\r\n", 36), (.s2c, "HTTP/1.1 204 No Content\r\n", 7),
    ])
    func prefixes(dir: Direction, line: String, decidedAt: Int) {
        let bytes = Array(line.utf8)
        for cut in 0...bytes.count {
            let got = Array(bytes[0..<cut]).withUnsafeBytes { HTTPConnection.looksLikeHTTP(dir, $0) }
            #expect(got == (cut < decidedAt ? nil : true), "cut at \(cut)")
        }
    }
}
