import DecoderTestSupport
import Testing

@testable import HTTP1

/// Request streams (one client direction): framing, tolerated oddities, malformed input and recovery, the upgrade.
@Suite struct HTTPRequestTableTests {
    static let upgrade =
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"

    static let cases: [HTTPCase] = [
        HTTPCase(
            name: "keep-alive: GET, POST with Content-Length, GET",
            role: .request,
            steps: [
                .text(
                    "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                        + "POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                        + "GET /c HTTP/1.1\r\n\r\n")
            ],
            expected: [
                "> GET /a HTTP/1.1 | Host: x", "end 0",
                "> POST /b HTTP/1.1 | Content-Length: 5", "body hello", "end 5",
                "> GET /c HTTP/1.1", "end 0",
            ]),
        HTTPCase(
            name: "Content-Length: 0",
            role: .request,
            steps: [.text("POST /a HTTP/1.1\r\nContent-Length: 0\r\n\r\nGET /b HTTP/1.1\r\n\r\n")],
            expected: [
                "> POST /a HTTP/1.1 | Content-Length: 0", "end 0",
                "> GET /b HTTP/1.1", "end 0",
            ]),
        HTTPCase(
            name: "Content-Length repeated with equal values (two fields)",
            role: .request,
            steps: [
                .text(
                    "POST /a HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\nabcGET /b HTTP/1.1\r\n\r\n")
            ],
            expected: [
                "> POST /a HTTP/1.1 | Content-Length: 3 | content-length: 3", "body abc", "end 3",
                "> GET /b HTTP/1.1", "end 0",
            ]),
        HTTPCase(
            name: "Content-Length as a list of equal values (one field)",
            role: .request,
            steps: [.text("POST /a HTTP/1.1\r\nContent-Length: 3 , 3\r\n\r\nabcGET /b HTTP/1.1\r\n\r\n")],
            expected: [
                "> POST /a HTTP/1.1 | Content-Length: 3 , 3", "body abc", "end 3",
                "> GET /b HTTP/1.1", "end 0",
            ]),
        // RFC 9112 section 6.3 (5): conflicting lengths make the framing invalid, an unrecoverable error. The parser
        // must say so (http.malformed) and look for the next message, not guess a length (here: none, which would
        // make "hello" the start of the next request line).
        HTTPCase(
            name: "Content-Length with conflicting values",
            role: .request,
            steps: [
                .text(
                    "POST /a HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello\r\nGET /b HTTP/1.1\r\n\r\n"
                )
            ],
            expected: [
                "> POST /a HTTP/1.1 | Content-Length: 5 | Content-Length: 6", "! http.malformed",
                "> GET /b HTTP/1.1", "end 0",
            ]),
        HTTPCase(
            name: "chunked with extensions, upper-case hex, several trailers",
            role: .request,
            steps: [
                .text(
                    "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "3;name=value\r\nabc\r\n"
                        + "A ; q=\"a;b\"\r\n0123456789\r\n"
                        + "0;last\r\nX-Trailer: 1\r\nY-Trailer: 2\r\n\r\n"
                        + "GET /d HTTP/1.1\r\n\r\n")
            ],
            expected: [
                "> POST /c HTTP/1.1 | Transfer-Encoding: chunked", "body abc0123456789", "end 13",
                "> GET /d HTTP/1.1", "end 0",
            ]),
        HTTPCase(
            name: "chunked as the last of several codings wins over Content-Length",
            role: .request,
            steps: [
                .text(
                    "POST /c HTTP/1.1\r\nContent-Length: 100\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                        + "2\r\nhi\r\n0\r\n\r\nGET /d HTTP/1.1\r\n\r\n")
            ],
            expected: [
                "> POST /c HTTP/1.1 | Content-Length: 100 | Transfer-Encoding: gzip, chunked", "body hi", "end 2",
                "> GET /d HTTP/1.1", "end 0",
            ]),
        HTTPCase(
            name: "chunked with bare LF line endings",
            role: .request,
            steps: [.text("POST /c HTTP/1.1\nTransfer-Encoding: chunked\n\n2\nhi\n1\n!\n0\n\nGET /d HTTP/1.1\n\n")],
            expected: [
                "> POST /c HTTP/1.1 | Transfer-Encoding: chunked", "body hi!", "end 3",
                "> GET /d HTTP/1.1", "end 0",
            ]),
        HTTPCase(
            name: "obsolete line folding joins continuation lines with a space",
            role: .request,
            steps: [.text("GET / HTTP/1.1\r\nX-Long: one\r\n two\r\n\t three\r\nHost: x\r\n\r\n")],
            expected: ["> GET / HTTP/1.1 | X-Long: one two three | Host: x", "end 0"]),
        HTTPCase(
            name: "bare LF line endings throughout",
            role: .request,
            steps: [.text("GET /a HTTP/1.1\nHost: x\n\nPOST /b HTTP/1.1\nContent-Length: 2\n\nokGET /c HTTP/1.1\n\n")],
            expected: [
                "> GET /a HTTP/1.1 | Host: x", "end 0",
                "> POST /b HTTP/1.1 | Content-Length: 2", "body ok", "end 2",
                "> GET /c HTTP/1.1", "end 0",
            ]),
        HTTPCase(
            name: "empty lines before a request line are skipped (RFC 9112 section 2.2)",
            role: .request,
            steps: [.text("\r\n\r\nGET /a HTTP/1.1\r\n\r\n\r\n\nGET /b HTTP/1.1\r\n\r\n")],
            expected: ["> GET /a HTTP/1.1", "end 0", "> GET /b HTTP/1.1", "end 0"]),
        HTTPCase(
            name: "a header line without a colon is reported, the others kept",
            role: .request,
            steps: [.text("GET /a HTTP/1.1\r\nHost: x\r\nno colon here\r\nAccept: */*\r\n\r\nGET /b HTTP/1.1\r\n\r\n")],
            expected: [
                "! http.malformed", "> GET /a HTTP/1.1 | Host: x | Accept: */*", "end 0",
                "> GET /b HTTP/1.1", "end 0",
            ]),
        HTTPCase(
            name: "a malformed request line (no version), then recovery at the next request",
            role: .request,
            steps: [.text("GET /no-version\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n")],
            expected: ["! http.malformed", "> GET /ok HTTP/1.1 | Host: x", "end 0"]),
        HTTPCase(
            name: "a request line of one word, then recovery",
            role: .request,
            steps: [.text("BOGUS\r\n\r\nPOST /ok HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi")],
            expected: ["! http.malformed", "> POST /ok HTTP/1.1 | Content-Length: 2", "body hi", "end 2"]),
        HTTPCase(
            name: "a bad chunk size, then recovery at the next request",
            role: .request,
            steps: [
                .text(
                    "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnot a body\r\n0\r\n\r\n"
                        + "GET /d HTTP/1.1\r\n\r\n")
            ],
            expected: [
                "> POST /c HTTP/1.1 | Transfer-Encoding: chunked", "! http.malformed", "> GET /d HTTP/1.1", "end 0",
            ]),
        HTTPCase(
            name: "chunk data not followed by CRLF, then recovery",
            role: .request,
            steps: [
                .text(
                    "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\nGET /d HTTP/1.1\r\n\r\n"
                )
            ],
            expected: [
                "> POST /c HTTP/1.1 | Transfer-Encoding: chunked", "body ab", "! http.malformed", "> GET /d HTTP/1.1",
                "end 0",
            ]),
        // The limit at its edge: with maxHeadBytes 64, a head of exactly 64 bytes parses; 65 bytes is too large.
        HTTPCase(
            name: "a head of exactly maxHeadBytes parses",
            role: .request,
            maxHeadBytes: 64,
            steps: [
                .text(
                    "GET / HTTP/1.1\r\nX-Pad: " + String(repeating: "a", count: 37) + "\r\n\r\nGET /b HTTP/1.1\r\n\r\n")
            ],
            expected: [
                "> GET / HTTP/1.1 | X-Pad: " + String(repeating: "a", count: 37), "end 0", "> GET /b HTTP/1.1",
                "end 0",
            ]),
        HTTPCase(
            name: "a head one byte over maxHeadBytes: http.head_too_large, then the next message parses",
            role: .request,
            maxHeadBytes: 64,
            steps: [
                .text(
                    "GET / HTTP/1.1\r\nX-Pad: " + String(repeating: "a", count: 38) + "\r\n\r\nGET /b HTTP/1.1\r\n\r\n")
            ],
            expected: ["! http.head_too_large", "> GET /b HTTP/1.1", "end 0"]),
        HTTPCase(
            name: "a head far over maxHeadBytes: http.head_too_large, then the next message parses",
            role: .request,
            maxHeadBytes: 64,
            steps: [
                .text(
                    "GET / HTTP/1.1\r\n" + String(repeating: "X-Pad: aaaaaaaaaaaaaaaa\r\n", count: 20)
                        + "\r\nPOST /b HTTP/1.1\r\nContent-Length: 1\r\n\r\n!")
            ],
            expected: ["! http.head_too_large", "> POST /b HTTP/1.1 | Content-Length: 1", "body !", "end 1"]),
        HTTPCase(
            name: "the upgrade request stops the parser; resume() continues with the bytes it left",
            role: .request,
            steps: [.text(upgrade + "GET /after HTTP/1.1\r\n\r\n"), .resume],
            expected: [
                "> GET /socket.io/?EIO=4&transport=websocket HTTP/1.1 | Upgrade: websocket | Connection: Upgrade",
                "end 0", "stopped +\(upgrade.utf8.count)", "> GET /after HTTP/1.1", "end 0",
            ]),
        HTTPCase(
            name: "the upgrade request stops the parser before WebSocket frames",
            role: .request,
            steps: [.bytes(Array(upgrade.utf8) + [0x81, 0x82, 1, 2, 3, 4, 5, 6])],
            expected: [
                "> GET /socket.io/?EIO=4&transport=websocket HTTP/1.1 | Upgrade: websocket | Connection: Upgrade",
                "end 0", "stopped +\(upgrade.utf8.count)", "switched",
            ]),
        HTTPCase(
            name: "the connection ends inside a head",
            role: .request,
            steps: [.text("GET / HTTP/1.1\r\nHost")],
            expected: ["! http.incomplete"]),
        HTTPCase(
            name: "the connection ends inside a body",
            role: .request,
            steps: [.text("POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc")],
            expected: ["> POST / HTTP/1.1 | Content-Length: 9", "body abc", "! http.incomplete"]),
    ]

    @Test(arguments: cases, Feed.allCases)
    func request(_ c: HTTPCase, _ feed: Feed) { check(c, feed) }
}
