import HTTP1
import ImscopeCore

/// What an HTTP request says about Engine.IO: a Socket.IO path (`/socket.io/`) or an `EIO=` parameter, and the
/// transport, sid and protocol version its query names.
public struct EngineIORequest: Sendable {
    public var transport: String?
    public var sid: String?
    public var version: Int?

    /// Nil when the request is not an Engine.IO one.
    public init?(_ head: HTTPMessageHead) {
        let path = Array("/socket.io/".utf8)
        let uri = Array(head.uri.utf8)
        let hasPath =
            uri.count >= path.count
            && (0...uri.count - path.count).contains { uri[$0..<$0 + path.count].elementsEqual(path) }
        guard hasPath || head.queryParameter("EIO") != nil else { return nil }
        transport = head.queryParameter("transport")
        sid = head.queryParameter("sid")
        version = head.queryParameter("EIO").flatMap { Int($0) }
    }
}

/// A long-polling request waiting for its response: its method and what it says of its session.
public struct PollingRequest: Sendable {
    public var method: String
    public var sid: String?
    public var version: Int?
    public var jsonp: Bool
}

/// A complete long-polling body to decode as an Engine.IO payload, or why it cannot be.
public enum PollingBody {
    /// The body of a POST (client to server) or of a GET's response, with the request it belongs to and the
    /// response's `Content-Encoding`.
    case payload(PollingRequest, [UInt8], encoding: String?)
    /// Bytes of it were lost, or it is larger than ``EngineIOLimits/maxPollingBody``.
    case incomplete
}

/// The long-polling exchange of one connection: pairs each response with the request it answers (in order, as
/// HTTP/1.1 does) and gathers the bodies that carry Engine.IO payloads (POST requests, and responses to GETs).
/// Fed the connection's HTTP events; bounded by ``EngineIOLimits``.
public struct EngineIOPolling {
    /// ``EngineIOLimits/maxPollingBody``.
    public let maxBodyBytes: Int
    let maxPending: Int
    /// The Engine.IO view of each request waiting for its response (nil: not a polling request).
    var pending: [PollingRequest?] = []
    var currentRequest: PollingRequest? = nil
    var currentResponse: PollingRequest? = nil
    var requestBody: [UInt8] = []
    var responseBody: [UInt8] = []

    public init(limits: EngineIOLimits) {
        maxBodyBytes = limits.maxPollingBody
        maxPending = limits.maxPendingPolls
    }

    /// A request head: a polling request unless it is not Engine.IO or asks for the WebSocket transport.
    public mutating func request(_ head: HTTPMessageHead) {
        if pending.count >= maxPending { pending.removeFirst() }
        guard let info = EngineIORequest(head), info.transport != "websocket" else {
            pending.append(nil)
            currentRequest = nil
            return
        }
        let request = PollingRequest(
            method: head.method, sid: info.sid, version: info.version, jsonp: head.queryParameter("j") != nil)
        pending.append(request)
        currentRequest = request
        requestBody.removeAll(keepingCapacity: requestBody.capacity <= 16 << 10)
    }

    /// A final response's head: it answers the oldest request waiting.
    public mutating func response() {
        currentResponse = pending.isEmpty ? nil : pending.removeFirst()
        responseBody.removeAll(keepingCapacity: responseBody.capacity <= 16 << 10)
    }

    public mutating func body(_ dir: Direction, _ bytes: UnsafeRawBufferPointer) {
        if dir == .c2s {
            guard currentRequest != nil, requestBody.count + bytes.count <= maxBodyBytes else { return }
            requestBody.append(contentsOf: bytes)
        } else {
            guard currentResponse != nil, responseBody.count + bytes.count <= maxBodyBytes else { return }
            responseBody.append(contentsOf: bytes)
        }
    }

    /// A message ended (for a response, only a final one: `status` 200 and up). Returns its body when it carries
    /// an Engine.IO payload. Only a successful response does ("400 Bad Request" for a closed session does not).
    /// An empty body is returned too: it is a payload, a broken one (the reference parsers decode an empty payload
    /// as an error).
    public mutating func end(
        _ dir: Direction, status: Int, bodyLength: Int, complete: Bool, encoding: String?
    ) -> PollingBody? {
        if dir == .s2c && status >= 300 { currentResponse = nil }
        let request = dir == .c2s ? currentRequest : currentResponse
        if dir == .c2s { currentRequest = nil } else { currentResponse = nil }
        guard let request else { return nil }
        // Payloads travel in POST bodies (client to server) and GET responses; a POST is answered "ok".
        if dir == .c2s ? request.method != "POST" : request.method != "GET" { return nil }
        let body = dir == .c2s ? requestBody : responseBody
        guard complete, body.count == bodyLength else { return .incomplete }
        return .payload(request, body, encoding: encoding)
    }
}
