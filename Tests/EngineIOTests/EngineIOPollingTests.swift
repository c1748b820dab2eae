import DecoderTestSupport
import EngineIO
import HTTP1
import ImscopeCore
import Testing

/// A polling body carried one way: in a `POST` (client to server) or in the response to a `GET`.
enum PollingWay: Sendable, CaseIterable, CustomStringConvertible {
    case post, getResponse
    var description: String { self == .post ? "POST body" : "GET response" }
}

/// Carries `body` through an ``EngineIOPolling`` as an HTTP exchange of protocol `version` (its bytes handed over
/// as `feed` cuts them), and decodes the payload it yields: the packets as `render` shows them, then "! problem" for
/// a fault (an incomplete body is "! incomplete").
func polled(
    _ body: [UInt8], version: Int, jsonp: Bool = false, way: PollingWay, feed: Feed,
    render: (EngineIOPacket) -> String = render
) -> [String] {
    var polling = EngineIOPolling(limits: EngineIOLimits())
    let uri = "/socket.io/?EIO=\(version)&transport=polling&sid=s1" + (jsonp ? "&j=0" : "")
    let dir: Direction = way == .post ? .c2s : .s2c
    polling.request(HTTPMessageHead(isRequest: true, method: way == .post ? "POST" : "GET", uri: uri))
    if way == .getResponse {
        _ = polling.end(.c2s, status: 0, bodyLength: 0, complete: true, encoding: nil)
        polling.response()
    }
    body.withUnsafeBytes { bytes in
        for piece in feed.pieces(bytes.count, step: 0) {
            polling.body(dir, UnsafeRawBufferPointer(rebasing: bytes[piece]))
        }
    }
    switch polling.end(dir, status: way == .post ? 0 : 200, bodyLength: body.count, complete: true, encoding: nil) {
    case nil:
        return ["(no payload)"]
    case .incomplete:
        return ["! incomplete"]
    case .payload(let request, let gathered, _):
        var out: [String] = []
        let problem = gathered.withUnsafeBytes { bytes in
            EngineIOPayload.decodePayload(bytes, version: request.version ?? 4, jsonp: request.jsonp) { p in
                out.append(render(p))
            }
        }
        if let problem { out.append("! \(problem)") }
        return out
    }
}

/// "type:data", binary data as two-digit hex.
func render(_ p: EngineIOPacket) -> String {
    if p.binary { return "\(p.type.name):b " + hex(p.data) }
    return "\(p.type.name):" + String(decoding: p.data, as: UTF8.self)
}

/// The long-polling exchange: bodies gathered however they are cut, and an empty body handed on as the broken
/// payload it is.
@Suite struct EngineIOPollingTests {
    @Test(arguments: PollingWay.allCases, Feed.allCases)
    func bodiesAreGatheredWhole(way: PollingWay, feed: Feed) {
        let body = Array("4hello\u{1e}2\u{1e}4world".utf8)
        #expect(polled(body, version: 4, way: way, feed: feed) == ["message:hello", "ping:", "message:world"])
    }

    /// The reference parsers decode an empty payload as an error (engine.io-parser 2.2.1 and 5.2.2); it was let
    /// through without a word.
    @Test(arguments: [3, 4], PollingWay.allCases)
    func emptyBodyIsABrokenPayload(version: Int, way: PollingWay) {
        #expect(polled([], version: version, way: way, feed: .whole) == ["! empty payload"])
    }

    /// A `GET` carries no payload in its request, a `POST` none in its response ("ok").
    @Test func postResponseAndGetRequestCarryNone() {
        var polling = EngineIOPolling(limits: EngineIOLimits())
        polling.request(HTTPMessageHead(isRequest: true, method: "GET", uri: "/socket.io/?EIO=4&transport=polling"))
        #expect(polling.end(.c2s, status: 0, bodyLength: 0, complete: true, encoding: nil) == nil)
        polling.request(HTTPMessageHead(isRequest: true, method: "POST", uri: "/socket.io/?EIO=4&transport=polling"))
        #expect(polling.end(.c2s, status: 0, bodyLength: 0, complete: true, encoding: nil) != nil)
        polling.response()
        polling.response()
        #expect(polling.end(.s2c, status: 200, bodyLength: 0, complete: true, encoding: nil) == nil)
    }
}
