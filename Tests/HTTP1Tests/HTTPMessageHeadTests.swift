import Testing

@testable import HTTP1

/// The header accessors of `HTTPMessageHead`.
@Suite struct HTTPMessageHeadTests {
    static func head(_ headers: [(String, String)], uri: String = "/") -> HTTPMessageHead {
        HTTPMessageHead(isRequest: true, method: "GET", uri: uri, headers: headers.map { (name: $0.0, value: $0.1) })
    }

    struct ValueCase: Sendable, CustomTestStringConvertible {
        var headers: [[String]]
        var name: String
        var expected: String?
        var testDescription: String { "\(name) in \(headers)" }
    }

    static let valueCases: [ValueCase] = [
        ValueCase(headers: [["Host", "x"]], name: "Host", expected: "x"),
        ValueCase(headers: [["Host", "x"]], name: "host", expected: "x"),
        ValueCase(headers: [["HOST", "x"]], name: "hOsT", expected: "x"),
        ValueCase(headers: [["Host", "x"]], name: "Hos", expected: nil),
        ValueCase(headers: [["Host", "x"]], name: "Host2", expected: nil),
        ValueCase(headers: [], name: "Host", expected: nil),
        ValueCase(headers: [["Accept", "a"], ["Host", "x"], ["accept", "b"]], name: "Accept", expected: "a, b"),
        ValueCase(headers: [["X", ""], ["X", "1"]], name: "x", expected: ", 1"),
        ValueCase(headers: [["Cookie", "a=1; b=2"]], name: "cookie", expected: "a=1; b=2"),
    ]

    @Test(arguments: valueCases)
    func value(_ c: ValueCase) {
        #expect(Self.head(c.headers.map { ($0[0], $0[1]) }).value(c.name) == c.expected)
    }

    struct TokenCase: Sendable, CustomTestStringConvertible {
        var headers: [[String]]
        var name: String
        var token: String
        var expected: Bool
        var testDescription: String { "\(token) in \(name) of \(headers)" }
    }

    static let tokenCases: [TokenCase] = [
        TokenCase(headers: [["Connection", "Upgrade"]], name: "Connection", token: "upgrade", expected: true),
        TokenCase(
            headers: [["Connection", "keep-alive, Upgrade"]], name: "connection", token: "UPGRADE", expected: true),
        TokenCase(
            headers: [["Connection", "keep-alive,\tUpgrade "]], name: "Connection", token: "upgrade", expected: true),
        TokenCase(
            headers: [["Connection", "keep-alive"], ["Connection", "upgrade"]], name: "Connection", token: "upgrade",
            expected: true),
        TokenCase(headers: [["Connection", "upgraded"]], name: "Connection", token: "upgrade", expected: false),
        TokenCase(
            headers: [["Connection", "keep-alive upgrade"]], name: "Connection", token: "upgrade", expected: false),
        TokenCase(headers: [["Upgrade", "websocket"]], name: "Connection", token: "upgrade", expected: false),
        TokenCase(headers: [], name: "Connection", token: "upgrade", expected: false),
    ]

    @Test(arguments: tokenCases)
    func has(_ c: TokenCase) {
        #expect(Self.head(c.headers.map { ($0[0], $0[1]) }).has(c.name, token: c.token) == c.expected)
    }

    struct LengthCase: Sendable, CustomTestStringConvertible {
        var values: [String]
        var expected: Int?
        var testDescription: String { "Content-Length \(values)" }
    }

    /// RFC 9110 section 8.6: `Content-Length = 1*DIGIT`; a list of equal values may be taken as one (RFC 9112
    /// section 6.3); anything else is invalid.
    static let lengthCases: [LengthCase] = [
        LengthCase(values: [], expected: nil),
        LengthCase(values: ["0"], expected: 0),
        LengthCase(values: ["42"], expected: 42),
        LengthCase(values: [" 42\t"], expected: 42),
        LengthCase(values: ["007"], expected: 7),
        LengthCase(values: ["5", "5"], expected: 5),
        LengthCase(values: ["5, 5"], expected: 5),
        LengthCase(values: ["5,5,5"], expected: 5),
        LengthCase(values: ["5", "6"], expected: nil),
        LengthCase(values: ["5, 6"], expected: nil),
        LengthCase(values: ["abc"], expected: nil),
        LengthCase(values: ["-1"], expected: nil),
        LengthCase(values: ["1.5"], expected: nil),
        LengthCase(values: ["0x10"], expected: nil),
        LengthCase(values: [""], expected: nil),
        LengthCase(values: ["99999999999999999999999"], expected: nil),
        // Nothing between commas is no list element; whitespace alone is an empty one, which is not a length.
        LengthCase(values: ["5,"], expected: 5),
        LengthCase(values: [",5"], expected: 5),
        LengthCase(values: ["5, ,5"], expected: nil),
    ]

    @Test(arguments: lengthCases)
    func contentLength(_ c: LengthCase) {
        #expect(Self.head(c.values.map { ("Content-Length", $0) }).contentLength == c.expected)
    }

    /// Signs are not digits (RFC 9110 section 8.6), but Swift's `Int(_: String)` accepts them.
    static let signedLengthCases: [LengthCase] = [
        LengthCase(values: ["+5"], expected: nil),
        LengthCase(values: ["-0"], expected: nil),
    ]

    @Test(arguments: signedLengthCases)
    func contentLengthWithSign(_ c: LengthCase) {
        #expect(Self.head(c.values.map { ("Content-Length", $0) }).contentLength == c.expected)

    }

    struct ChunkedCase: Sendable, CustomTestStringConvertible {
        var values: [String]
        var expected: Bool
        var testDescription: String { "Transfer-Encoding \(values)" }
    }

    static let chunkedCases: [ChunkedCase] = [
        ChunkedCase(values: [], expected: false),
        ChunkedCase(values: ["chunked"], expected: true),
        ChunkedCase(values: ["Chunked"], expected: true),
        ChunkedCase(values: ["gzip, chunked"], expected: true),
        ChunkedCase(values: ["gzip", "chunked"], expected: true),
        ChunkedCase(values: ["chunked, gzip"], expected: false),
        ChunkedCase(values: ["gzip"], expected: false),
        ChunkedCase(values: ["chunked "], expected: true),
        ChunkedCase(values: ["chunked,"], expected: true),
        ChunkedCase(values: ["chunked, "], expected: false),
    ]

    @Test(arguments: chunkedCases)
    func isChunked(_ c: ChunkedCase) {
        #expect(Self.head(c.values.map { ("Transfer-Encoding", $0) }).isChunked == c.expected)
    }

    struct UpgradeCase: Sendable, CustomTestStringConvertible {
        var headers: [[String]]
        var expected: Bool
        var testDescription: String { "\(headers)" }
    }

    static let upgradeCases: [UpgradeCase] = [
        UpgradeCase(headers: [["Upgrade", "websocket"], ["Connection", "Upgrade"]], expected: true),
        UpgradeCase(headers: [["upgrade", "WebSocket"], ["connection", "keep-alive, Upgrade"]], expected: true),
        UpgradeCase(headers: [["Upgrade", "websocket"]], expected: false),
        UpgradeCase(headers: [["Connection", "Upgrade"]], expected: false),
        UpgradeCase(headers: [["Upgrade", "h2c"], ["Connection", "Upgrade, HTTP2-Settings"]], expected: false),
        UpgradeCase(headers: [["Upgrade", "websocket"], ["Connection", "keep-alive"]], expected: false),
    ]

    @Test(arguments: upgradeCases)
    func isWebSocketUpgrade(_ c: UpgradeCase) {
        #expect(Self.head(c.headers.map { ($0[0], $0[1]) }).isWebSocketUpgrade == c.expected)
    }

    struct QueryCase: Sendable, CustomTestStringConvertible {
        var uri: String
        var name: String
        var expected: String?
        var testDescription: String { "\(name) in \(uri)" }
    }

    static let queryCases: [QueryCase] = [
        QueryCase(uri: "/socket.io/?EIO=4&transport=polling&sid=Ab_1", name: "EIO", expected: "4"),
        QueryCase(uri: "/socket.io/?EIO=4&transport=polling&sid=Ab_1", name: "transport", expected: "polling"),
        QueryCase(uri: "/socket.io/?EIO=4&transport=polling&sid=Ab_1", name: "sid", expected: "Ab_1"),
        QueryCase(uri: "/socket.io/?EIO=4&transport=polling", name: "sid", expected: nil),
        QueryCase(uri: "/socket.io/?EIO=4", name: "eio", expected: nil),
        QueryCase(uri: "/socket.io/", name: "EIO", expected: nil),
        QueryCase(uri: "/p?flag&x=1", name: "flag", expected: ""),
        QueryCase(uri: "/p?x=&y=2", name: "x", expected: ""),
        QueryCase(uri: "/p?x=a=b", name: "x", expected: "a=b"),
        QueryCase(uri: "/p?x=%20", name: "x", expected: "%20"),
        QueryCase(uri: "/p?x=1&x=2", name: "x", expected: "1"),
        QueryCase(uri: "/p?", name: "x", expected: nil),
        QueryCase(uri: "/p?&&x=3", name: "x", expected: "3"),
    ]

    @Test(arguments: queryCases)
    func queryParameter(_ c: QueryCase) {
        #expect(Self.head([], uri: c.uri).queryParameter(c.name) == c.expected)
    }
}
