import DecoderTestSupport
import HTTP1
import ImscopeCore
import Testing

/// Feeds `text` to a parser whole and one byte at a time; both must give the same events.
func events(_ role: HTTPStreamParser.Role, _ text: String, byteAtATime: Bool) -> [String] {
    var parser = HTTPStreamParser(role: role)
    var out: [String] = []
    let bytes = Array(text.utf8)
    let emit: (HTTPEvent) -> Void = { event in
        switch event {
        case .head(let h): out.append(h.isRequest ? "head \(h.method) \(h.uri)" : "head \(h.status)")
        case .body(let b): out.append("body \(String(decoding: b, as: UTF8.self))")
        case .end(let n, let complete): out.append("end \(n)\(complete ? "" : " incomplete")")
        case .problem(let kind, _): out.append("problem \(kind.code)")
        }
    }
    bytes.withUnsafeBytes { all in
        if byteAtATime {
            for i in 0..<all.count { _ = parser.feed(UnsafeRawBufferPointer(rebasing: all[i..<(i + 1)]), emit) }
        } else {
            _ = parser.feed(all, emit)
        }
    }
    parser.close(emit)
    // Body chunks differ by split; join consecutive ones.
    var joined: [String] = []
    for e in out {
        if e.hasPrefix("body "), let last = joined.last, last.hasPrefix("body ") {
            joined[joined.count - 1] = last + e.dropFirst(5)
        } else {
            joined.append(e)
        }
    }
    return joined
}

@Suite struct HTTPStreamParserTests {
    @Test(arguments: [true, false])
    func keepAliveRequestsWithBodies(byteAtATime: Bool) {
        let text =
            "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n"
            + "POST /socket.io/?EIO=4&transport=polling&sid=a HTTP/1.1\r\nContent-Length: 5\r\n\r\n40{}x"
            + "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nT: 1\r\n\r\n"
        #expect(
            events(.request, text, byteAtATime: byteAtATime) == [
                "head GET /socket.io/?EIO=4&transport=polling", "end 0",
                "head POST /socket.io/?EIO=4&transport=polling&sid=a", "body 40{}x", "end 5",
                "head POST /c", "body abcde", "end 5",
            ])
    }

    @Test(arguments: [true, false])
    func responsesUntilCloseAndSwitch(byteAtATime: Bool) {
        let text = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 101 Switching Protocols\r\n\r\n"
        var parser = HTTPStreamParser(role: .response)
        parser.expectResponse(toMethod: "GET")
        parser.expectResponse(toMethod: "GET")
        var seen: [String] = []
        let used = Array(text.utf8 + [0x81, 0x00]).withUnsafeBytes { all in
            parser.feed(all) { event in
                if case .head(let h) = event { seen.append("\(h.status)") }
                if case .end(let n, _) = event { seen.append("end \(n)") }
            }
        }
        #expect(seen == ["200", "end 2", "101", "end 0"])
        #expect(used == text.utf8.count)
        #expect(parser.switchedProtocols)
    }

    @Test func bodyGapKeepsFraming() {
        var parser = HTTPStreamParser(role: .request)
        var seen: [String] = []
        let emit: (HTTPEvent) -> Void = { event in
            switch event {
            case .head(let h): seen.append(h.method)
            case .end(let n, let complete): seen.append("end \(n) \(complete)")
            case .problem(let k, _): seen.append(k.code)
            case .body: break
            }
        }
        Array("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc".utf8).withUnsafeBytes { _ = parser.feed($0, emit) }
        parser.gap(4, emit)
        Array("xyzGET / HTTP/1.1\r\n\r\n".utf8).withUnsafeBytes { _ = parser.feed($0, emit) }
        #expect(seen == ["POST", "http.body_gap", "end 10 false", "GET", "end 0 true"])
    }
}
