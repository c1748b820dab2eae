import DecoderTestSupport
import ImscopeCore
import Testing

@testable import HTTP1

// MARK: - HTTP scripts

/// One step of an HTTP script.
enum HTTPStep: Sendable {
    /// Bytes of the stream (text, sent as UTF-8).
    case text(String)
    /// Raw bytes of the stream.
    case bytes([UInt8])
    /// `gap(_:)`.
    case gap(UInt64)
    /// `expectResponse(toMethod:)` (response parsers).
    case request(String)
    /// `resume()`, then the bytes the parser had not consumed are fed again (an upgrade that did not happen).
    case resume
}

/// A table row: a parser role and settings, a script, and the events it must produce in every feed.
///
/// Events are rendered as text: `> GET /uri HTTP/1.1 | Name: value` (request head), `< 200 OK | Name: value`
/// (response head), `body ...` (consecutive body chunks joined), `end N` / `end N incomplete`, `! code` (a
/// problem), `stopped +N` (a `feed` consumed only N of the bytes of its step), and at the very end `switched` if the
/// parser has stopped for a protocol switch. Every script ends with `close(_:)`.
struct HTTPCase: Sendable, CustomTestStringConvertible {
    var name: String
    var role: HTTPStreamParser.Role
    var maxHeadBytes: Int? = nil
    var steps: [HTTPStep]
    var expected: [String]
    var knownIssue: KnownIssue? = nil
    var testDescription: String { name }
}

func render(_ head: HTTPMessageHead) -> String {
    var s = head.isRequest ? "> \(head.method) \(head.uri) \(head.version)" : "< \(head.status) \(head.reason)"
    if !head.isRequest && head.version != "HTTP/1.1" { s += " (\(head.version))" }
    for (name, value) in head.headers { s += " | \(name): \(value)" }
    return s
}

/// Runs a script in one feed; returns the rendered events.
func run(_ c: HTTPCase, _ feed: Feed) -> [String] {
    var parser = HTTPStreamParser(role: c.role)
    if let m = c.maxHeadBytes { parser.maxHeadBytes = m }
    var out: [String] = []
    let emit: (HTTPEvent) -> Void = { event in
        switch event {
        case .head(let h): out.append(render(h))
        case .body(let b):
            let text = String(decoding: b, as: UTF8.self)
            if let last = out.last, last.hasPrefix("body ") {
                out[out.count - 1] = last + text
            } else {
                out.append("body " + text)
            }
        case .end(let n, let complete): out.append("end \(n)" + (complete ? "" : " incomplete"))
        case .problem(let kind, _): out.append("! \(kind.code)")
        }
    }
    var unconsumed: [UInt8] = []
    var bytesSteps = 0
    func feedBytes(_ bytes: [UInt8]) {
        let pieces = feed.pieces(bytes.count, step: bytesSteps)
        bytesSteps += 1
        var used = 0
        bytes.withUnsafeBytes { all in
            for r in pieces {
                let piece = UnsafeRawBufferPointer(rebasing: all[r])
                let n = parser.feed(piece, emit)
                // After a short count the parser takes nothing more; keep feeding to check that.
                if used == r.lowerBound { used += n } else { #expect(n == 0, "feed after a stop consumed \(n)") }
            }
        }
        if used < bytes.count { out.append("stopped +\(used)") }
        unconsumed = Array(bytes[used...])
    }
    for step in c.steps {
        switch step {
        case .text(let s): feedBytes(Array(s.utf8))
        case .bytes(let b): feedBytes(b)
        case .gap(let n): parser.gap(n, emit)
        case .request(let method): parser.expectResponse(toMethod: method)
        case .resume:
            parser.resume()
            feedBytes(unconsumed)
        }
    }
    parser.close(emit)
    if parser.switchedProtocols { out.append("switched") }
    return out
}

/// Runs and verifies a case in one feed, with its known issue, if any, marked as such.
func check(_ c: HTTPCase, _ feed: Feed) {
    let verify = {
        let got = run(c, feed)
        #expect(got == c.expected, "\(c.name), fed \(feed)")
    }
    if let known = c.knownIssue, known.feeds.contains(feed) {
        withKnownIssue(Comment(rawValue: known.bug)) { verify() }
    } else {
        verify()
    }
}
