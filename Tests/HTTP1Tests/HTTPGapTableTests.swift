import DecoderTestSupport
import Testing

@testable import HTTP1

/// Gaps (bytes lost in TCP reassembly) at every kind of place: inside a body of known length the parser stays in
/// step; elsewhere it says it lost sync and picks up at the next start line.
@Suite struct HTTPGapTableTests {
    static let cases: [HTTPCase] = [
        HTTPCase(
            name: "a gap inside a body of known length: in step, http.body_gap, end incomplete",
            role: .request,
            steps: [
                .text("POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"), .gap(4),
                .text("hijGET /b HTTP/1.1\r\n\r\n"),
            ],
            expected: [
                "> POST /a HTTP/1.1 | Content-Length: 10", "body abc", "! http.body_gap", "body hij",
                "end 10 incomplete",
                "> GET /b HTTP/1.1", "end 0",
            ]),
        HTTPCase(
            name: "two gaps inside one body",
            role: .request,
            steps: [
                .text("POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\na"), .gap(2), .text("de"), .gap(3),
                .text("ij"), .text("GET /b HTTP/1.1\r\n\r\n"),
            ],
            expected: [
                "> POST /a HTTP/1.1 | Content-Length: 10", "body a", "! http.body_gap", "body de", "! http.body_gap",
                "body ij", "end 10 incomplete", "> GET /b HTTP/1.1", "end 0",
            ]),
        HTTPCase(
            name: "a gap of exactly the rest of a body ends the message",
            role: .request,
            steps: [
                .text("POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"), .gap(7), .text("GET /b HTTP/1.1\r\n\r\n"),
            ],
            expected: [
                "> POST /a HTTP/1.1 | Content-Length: 10", "body abc", "! http.body_gap", "end 10 incomplete",
                "> GET /b HTTP/1.1", "end 0",
            ]),
        HTTPCase(
            name: "a gap of a whole body",
            role: .response,
            steps: [
                .request("GET"), .request("GET"), .text("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), .gap(5),
                .text("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            ],
            expected: [
                "< 200 OK | Content-Length: 5", "! http.body_gap", "end 5 incomplete",
                "< 200 OK | Content-Length: 0", "end 0",
            ]),
        HTTPCase(
            name: "a gap past the end of a body: the message ends, sync is lost, found again at the next request",
            role: .request,
            steps: [
                .text("POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"), .gap(20),
                .text("x: lost header\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
            ],
            expected: [
                "> POST /a HTTP/1.1 | Content-Length: 10", "body abc", "end 10 incomplete", "! http.lost_sync",
                "> GET /b HTTP/1.1", "end 0",
            ]),
        HTTPCase(
            name: "a gap in a request head: http.lost_sync, resync at the next request line",
            role: .request,
            steps: [
                .text("GET /a HTTP/1.1\r\nHo"), .gap(10),
                .text("ost\r\nAccept: */*\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"),
            ],
            expected: ["! http.lost_sync", "> POST /b HTTP/1.1 | Content-Length: 2", "body hi", "end 2"]),
        HTTPCase(
            name: "a gap in a response head: http.lost_sync, resync at the next status line",
            role: .response,
            steps: [
                .request("GET"), .request("GET"), .text("HTTP/1.1 200 OK\r\nContent-"), .gap(10),
                .text("\r\n\r\nbody line\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
            ],
            expected: ["! http.lost_sync", "< 200 OK | Content-Length: 2", "body hi", "end 2"]),
        HTTPCase(
            name: "a gap between messages, the next bytes starting a message: nothing lost that matters",
            role: .request,
            steps: [.text("GET /a HTTP/1.1\r\n\r\n"), .gap(30), .text("GET /c HTTP/1.1\r\n\r\n")],
            expected: ["> GET /a HTTP/1.1", "end 0", "> GET /c HTTP/1.1", "end 0"]),
        // The gap took the start of a message: the bytes after it are skipped, and the parser must say so.
        HTTPCase(
            name: "a gap between messages, the next bytes inside a message: http.lost_sync, then resync",
            role: .request,
            steps: [
                .text("GET /a HTTP/1.1\r\n\r\n"), .gap(20), .text("Accept: */*\r\n\r\nGET /c HTTP/1.1\r\n\r\n"),
            ],
            expected: ["> GET /a HTTP/1.1", "end 0", "! http.lost_sync", "> GET /c HTTP/1.1", "end 0"]),
        HTTPCase(
            name: "a gap inside a chunked body: http.lost_sync, resync",
            role: .request,
            steps: [
                .text("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"), .gap(3),
                .text("\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
            ],
            expected: [
                "> POST /a HTTP/1.1 | Transfer-Encoding: chunked", "body ab", "end 2 incomplete", "! http.lost_sync",
                "> GET /b HTTP/1.1",
                "end 0",
            ]),
        HTTPCase(
            name: "a gap inside an until-close body: counted, the body incomplete",
            role: .response,
            steps: [.request("GET"), .text("HTTP/1.1 200 OK\r\n\r\nabc"), .gap(4), .text("hij")],
            expected: ["< 200 OK", "body abchij", "end 10 incomplete"]),
        HTTPCase(
            name: "a gap after the parser switched protocols is not HTTP's business",
            role: .response,
            steps: [
                .request("GET"), .text("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"), .gap(100),
            ],
            expected: ["< 101 Switching Protocols | Upgrade: websocket", "end 0", "switched"]),
    ]

    @Test(arguments: cases, Feed.allCases)
    func gap(_ c: HTTPCase, _ feed: Feed) { check(c, feed) }
}
