import DecoderTestSupport
import Testing

@testable import HTTP1

/// Response streams (one server direction): bodies by request method and status, interim responses, until-close
/// bodies, the 101 switch, malformed input and recovery.
@Suite struct HTTPResponseTableTests {
    static let switching = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"

    static let cases: [HTTPCase] = [
        HTTPCase(
            name: "keep-alive: Content-Length, chunked, 204",
            role: .response,
            steps: [
                .request("GET"), .request("GET"), .request("DELETE"),
                .text(
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                        + "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\n4:ab\r\n0\r\nT: v\r\n\r\n"
                        + "HTTP/1.1 204 No Content\r\n\r\n"),
            ],
            expected: [
                "< 200 OK | Content-Length: 2", "body ok", "end 2",
                "< 200 OK | Transfer-Encoding: chunked", "body 4:ab", "end 4",
                "< 204 No Content", "end 0",
            ]),
        HTTPCase(
            name: "a response to HEAD has no body, whatever its Content-Length",
            role: .response,
            steps: [
                .request("HEAD"), .request("GET"),
                .text("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
            ],
            expected: [
                "< 200 OK | Content-Length: 10", "end 0",
                "< 200 OK | Content-Length: 2", "body ok", "end 2",
            ]),
        HTTPCase(
            name: "204 and 304 have no body, whatever their headers",
            role: .response,
            steps: [
                .request("GET"), .request("GET"), .request("GET"),
                .text(
                    "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"
                        + "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n!"),
            ],
            expected: [
                "< 204 No Content | Content-Length: 5", "end 0",
                "< 304 Not Modified | Transfer-Encoding: chunked", "end 0",
                "< 200 OK | Content-Length: 1", "body !", "end 1",
            ]),
        HTTPCase(
            name: "100-continue before the final response; interim responses take no request method",
            role: .response,
            steps: [
                .request("HEAD"), .request("POST"),
                .text(
                    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
                        + "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
                        + "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nid"),
            ],
            expected: [
                // An interim (1xx) response is a message of its own: it ends at once, with no body.
                "< 100 Continue", "end 0", "< 200 OK | Content-Length: 10", "end 0",
                "< 100 Continue", "end 0", "< 102 Processing", "end 0", "< 201 Created | Content-Length: 2", "body id",
                "end 2",
            ]),
        HTTPCase(
            name: "a body until the connection closes, ended by close()",
            role: .response,
            steps: [
                .request("GET"), .text("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of this\r\nHTTP/1.1 is body"),
            ],
            expected: ["< 200 OK | Connection: close", "body all of this\r\nHTTP/1.1 is body", "end 29"]),
        HTTPCase(
            name: "an HTTP/1.0 response without a length runs until close",
            role: .response,
            steps: [.request("GET"), .text("HTTP/1.0 200 OK\r\n\r\nold")],
            expected: ["< 200 OK (HTTP/1.0)", "body old", "end 3"]),
        HTTPCase(
            name: "obsolete line folding and bare LF in a response",
            role: .response,
            steps: [.request("GET"), .text("HTTP/1.1 200 OK\nX-A: 1\n  2\nContent-Length: 0\n\n")],
            expected: ["< 200 OK | X-A: 1 2 | Content-Length: 0", "end 0"]),
        HTTPCase(
            name: "a status line without a reason phrase",
            role: .response,
            steps: [.request("GET"), .text("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n")],
            expected: ["< 200  | Content-Length: 0", "end 0"]),
        HTTPCase(
            name: "101 stops the response parser; feed returns the bytes consumed",
            role: .response,
            steps: [.request("GET"), .bytes(Array(switching.utf8) + [0x81, 0x02, 0x34, 0x30])],
            expected: [
                "< 101 Switching Protocols | Upgrade: websocket | Connection: Upgrade", "end 0",
                "stopped +\(switching.utf8.count)", "switched",
            ]),
        HTTPCase(
            name: "101 after a keep-alive response in the same bytes",
            role: .response,
            steps: [
                .request("GET"), .request("GET"),
                .bytes(Array(("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + switching).utf8) + [0x81, 0x00]),
            ],
            expected: [
                "< 200 OK | Content-Length: 2", "body ok", "end 2",
                "< 101 Switching Protocols | Upgrade: websocket | Connection: Upgrade", "end 0",
                "stopped +\(40 + switching.utf8.count)", "switched",
            ]),
        HTTPCase(
            name: "a malformed status line, then recovery at the next status line",
            role: .response,
            steps: [
                .request("GET"), .request("GET"),
                .text("HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
            ],
            expected: ["! http.malformed", "< 200 OK | Content-Length: 2", "body hi", "end 2"]),
        // RFC 9112 section 4: status-code = 3DIGIT; Int(String) also takes a sign.
        HTTPCase(
            name: "a signed status code is malformed",
            role: .response,
            steps: [.request("GET"), .request("GET"), .text("HTTP/1.1 +99 OK\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")],
            expected: ["! http.malformed", "< 204 No Content", "end 0"]),
        HTTPCase(
            name: "a response that is not HTTP, then recovery",
            role: .response,
            steps: [.request("GET"), .text("SSH-2.0-OpenSSH\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")],
            expected: ["! http.malformed", "< 204 No Content", "end 0"]),
        HTTPCase(
            name: "Content-Length with conflicting values in a response",
            role: .response,
            steps: [
                .request("GET"), .request("GET"),
                .text(
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok\r\n"
                        + "HTTP/1.1 204 No Content\r\n\r\n"),
            ],
            expected: [
                "< 200 OK | Content-Length: 2 | Content-Length: 3", "! http.malformed", "< 204 No Content", "end 0",
            ]),
    ]

    @Test(arguments: cases, Feed.allCases)
    func response(_ c: HTTPCase, _ feed: Feed) { check(c, feed) }
}
