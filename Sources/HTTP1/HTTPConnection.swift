import ImscopeCore

/// Bounds of one HTTP/1.1 connection's decoding; hitting one yields a diagnostic or a documented fallback, never
/// unbounded memory. (`Docs/user-guide.md`, "Limits", lists them with the other layers'.)
public struct HTTPLimits: Sendable {
    /// Bytes a message head may take (`http.head_too_large` past it, and a resync).
    public var maxHeadBytes = 64 << 10
    /// Bytes kept while one direction waits for the other: client bytes after an upgrade request until its response
    /// (the rest counted as lost), or server bytes that came before the request they answer (past it they are
    /// decoded without waiting).
    public var maxHeldBytes = 1 << 20

    public init() {}
}

/// What an HTTP/1.1 connection produces, both directions together.
public enum HTTPConnectionEvent {
    /// A request (`c2s`) or response (`s2c`) head; its body and end follow.
    case head(Direction, HTTPMessageHead)
    /// Body bytes (de-chunked), valid during the call only.
    case body(Direction, UnsafeRawBufferPointer)
    /// A message ended, with the head it began with; `complete` is false when bytes of its body were lost.
    case end(Direction, HTTPMessageHead, bodyLength: Int, complete: Bool)
    case problem(Direction, DiagnosticKind, String)
    /// The server accepted the WebSocket upgrade `request` with `response`: from here on both directions carry
    /// WebSocket frames, and the connection takes no more bytes. `clientBytes` (valid during the call) are the client
    /// bytes that followed the request, after `clientGap` bytes lost, to be decoded as frames first.
    case upgraded(
        request: HTTPMessageHead, response: HTTPMessageHead, clientGap: UInt64, clientBytes: UnsafeRawBufferPointer)
    /// Server bytes that followed the response of an ``upgraded(request:response:clientGap:clientBytes:)``.
    case serverFrames(UnsafeRawBufferPointer)
    /// The server answered the upgrade request with `response` and stayed with HTTP.
    case upgradeRefused(HTTPMessageHead)
    /// The server switched to a protocol other than WebSocket: the connection takes no more bytes.
    case switchedElsewhere
}

/// The HTTP/1.1 exchange of one TCP connection, both directions: pairs responses with requests (a response the
/// capture shows before its request waits for it), holds the client's bytes after a WebSocket upgrade request until
/// the server answers, and says whether the connection switched to WebSocket.
///
/// Fed each direction's reassembled bytes in capture order (``feed(_:_:_:)``, ``gap(_:_:_:)``, ``close(_:)``);
/// emits ``HTTPConnectionEvent``s. After ``HTTPConnectionEvent/upgraded(request:response:clientGap:clientBytes:)``
/// or ``HTTPConnectionEvent/switchedElsewhere`` the caller stops feeding it.
public final class HTTPConnection {
    public let limits: HTTPLimits
    var request = HTTPStreamParser(role: .request)
    var response = HTTPStreamParser(role: .response)
    var requestHead: HTTPMessageHead? = nil
    var responseHead: HTTPMessageHead? = nil
    /// The last upgrade request, until its response comes.
    var upgradeRequest: HTTPMessageHead? = nil
    /// Client bytes that followed an upgrade request before the server answered (bounded by `maxHeldBytes`), and
    /// the bytes lost among them.
    var parked: [UInt8] = []
    var parkedGap: UInt64 = 0
    /// Server bytes waiting for the request they answer.
    var heldResponse: [UInt8] = []
    var releaseAfterRequest = false
    /// Whether the connection switched to WebSocket.
    var upgraded = false

    /// `startSeen`: the connection's start was captured, so every response has its request in the capture (a
    /// response seen first waits for it).
    public init(startSeen: Bool, limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
        request.maxHeadBytes = limits.maxHeadBytes
        response.maxHeadBytes = limits.maxHeadBytes
        response.holdForRequest = startSeen
    }

    /// Whether the first bytes of direction `dir` are HTTP: a status line's `HTTP/1.` from the server; from the
    /// client a request line, `METHOD SP target SP HTTP/1.x` (any method: WebDAV's, RPC over HTTP's; SIP's and
    /// RTSP's lines, alike but for the version, are not HTTP). Nil when the bytes are too few to tell: a prefix of
    /// `HTTP/1.`, or of a request line whose end has not come yet (within ``maxStartLineGuess`` bytes).
    public static func looksLikeHTTP(_ dir: Direction, _ bytes: UnsafeRawBufferPointer) -> Bool? {
        let n = bytes.count
        if dir == .s2c {
            let status: StaticString = "HTTP/1."
            let pattern = UnsafeRawBufferPointer(start: status.utf8Start, count: status.utf8CodeUnitCount)
            if bytes.starts(with: pattern) { return true }
            return n < pattern.count && pattern.starts(with: bytes) ? nil : false
        }
        // The method: upper-case letters, digits, '_' and '-', then a space.
        var i = 0
        while i < n && i <= 32 {
            let b = bytes[i]
            guard b >= 0x41 && b <= 0x5A || b >= 0x30 && b <= 0x39 || b == 0x5F || b == 0x2D else { break }
            i += 1
        }
        if i == n && i <= 32 { return nil }
        guard i > 0, i <= 32, bytes[i] == 0x20 else { return false }
        // The line's end: the version before it.
        var end = i + 1
        while end < n && bytes[end] != 0x0A {
            guard bytes[end] >= 0x20 || bytes[end] == 0x0D || bytes[end] == 0x09 else { return false }
            end += 1
        }
        if end == n { return n < maxStartLineGuess ? nil : false }
        if end > 0 && bytes[end - 1] == 0x0D { end -= 1 }
        let version: StaticString = " HTTP/1."
        guard end - (i + 1) >= version.utf8CodeUnitCount + 2 else { return false }
        let at = end - version.utf8CodeUnitCount - 1
        let pattern = UnsafeRawBufferPointer(start: version.utf8Start, count: version.utf8CodeUnitCount)
        return UnsafeRawBufferPointer(rebasing: bytes[at..<(end - 1)]).elementsEqual(pattern)
            && bytes[end - 1] >= 0x30 && bytes[end - 1] <= 0x39
    }

    /// Bytes of a request line waited for before the first bytes of a connection are taken as not HTTP.
    public static let maxStartLineGuess = 8192

    public func feed(
        _ dir: Direction, _ bytes: UnsafeRawBufferPointer, _ emit: (HTTPConnectionEvent) -> Void
    ) {
        if dir == .c2s {
            if upgradeRequest != nil {
                park(bytes)
            } else {
                feedRequest(bytes, emit)
            }
        } else {
            feedResponse(bytes, emit)
        }
    }

    public func gap(_ dir: Direction, _ length: UInt64, _ emit: (HTTPConnectionEvent) -> Void) {
        if dir == .c2s {
            if upgradeRequest != nil {
                parkedGap += length
                return
            }
            request.gap(length) { event in self.event(event, .c2s, emit) }
        } else {
            giveUpHold(emit)
            response.gap(length) { event in self.event(event, .s2c, emit) }
        }
    }

    /// The connection ended: held bytes are decoded, messages in progress end.
    public func close(_ emit: (HTTPConnectionEvent) -> Void) {
        giveUpHold(emit)
        request.close { event in self.event(event, .c2s, emit) }
        response.close { event in self.event(event, .s2c, emit) }
    }

    func feedRequest(_ bytes: UnsafeRawBufferPointer, _ emit: (HTTPConnectionEvent) -> Void) {
        let used = request.feed(bytes) { event in self.event(event, .c2s, emit) }
        if used < bytes.count { park(UnsafeRawBufferPointer(rebasing: bytes[used...])) }
        if releaseAfterRequest {
            releaseAfterRequest = false
            releaseResponse(emit)
        }
    }

    func feedResponse(_ bytes: UnsafeRawBufferPointer, _ emit: (HTTPConnectionEvent) -> Void) {
        if !heldResponse.isEmpty {
            holdResponse(bytes)
            return
        }
        let used = response.feed(bytes) { event in self.event(event, .s2c, emit) }
        if used < bytes.count && response.waitingForRequest {
            holdResponse(UnsafeRawBufferPointer(rebasing: bytes[used...]))
            return
        }
        guard response.switchedProtocols else { return }
        // The server switched protocols: the rest of its bytes are WebSocket frames, or not for us.
        if upgraded {
            emit(.serverFrames(UnsafeRawBufferPointer(rebasing: bytes[used...])))
        } else {
            emit(.switchedElsewhere)
        }
    }

    /// Keeps server bytes that came before the request they answer (a capture that reordered the two directions),
    /// up to `maxHeldBytes`; past that they are decoded anyway.
    func holdResponse(_ bytes: UnsafeRawBufferPointer) {
        heldResponse.append(contentsOf: bytes)
        if heldResponse.count > limits.maxHeldBytes { response.holdForRequest = false }
    }

    /// Decodes held server bytes without waiting for requests any more (a gap, or the end of the connection).
    func giveUpHold(_ emit: (HTTPConnectionEvent) -> Void) {
        guard !heldResponse.isEmpty else { return }
        response.holdForRequest = false
        releaseResponse(emit)
    }

    /// Feeds held server bytes once a request came (or the hold was given up).
    func releaseResponse(_ emit: (HTTPConnectionEvent) -> Void) {
        guard !heldResponse.isEmpty else { return }
        let held = heldResponse
        heldResponse = []
        held.withUnsafeBytes { feedResponse($0, emit) }
    }

    func park(_ bytes: UnsafeRawBufferPointer) {
        let room = limits.maxHeldBytes - parked.count
        if bytes.count <= room {
            parked.append(contentsOf: bytes)
        } else {
            parked.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<room]))
            parkedGap += UInt64(bytes.count - room)
        }
    }

    func event(_ event: HTTPEvent, _ dir: Direction, _ emit: (HTTPConnectionEvent) -> Void) {
        switch event {
        case .head(let head):
            if dir == .c2s {
                requestHead = head
                response.expectResponse(toMethod: head.method)
                if head.isWebSocketUpgrade { upgradeRequest = head }
                if !heldResponse.isEmpty { releaseAfterRequest = true }
            } else {
                responseHead = head
            }
            emit(.head(dir, head))
        case .body(let bytes):
            emit(.body(dir, bytes))
        case .end(let bodyLength, let complete):
            guard let head = dir == .c2s ? requestHead : responseHead else { return }
            if dir == .c2s { requestHead = nil } else { responseHead = nil }
            emit(.end(dir, head, bodyLength: bodyLength, complete: complete))
            if dir == .s2c && (head.status >= 200 || head.status == 101) { finishUpgrade(head, emit) }
        case .problem(let kind, let message):
            emit(.problem(dir, kind, message))
        }
    }

    /// The final response to a request: if it answered an upgrade request, switch to WebSocket or go back to HTTP.
    func finishUpgrade(_ response: HTTPMessageHead, _ emit: (HTTPConnectionEvent) -> Void) {
        guard let upgrade = upgradeRequest else { return }
        upgradeRequest = nil
        let held = parked
        parked = []
        let heldGap = parkedGap
        parkedGap = 0
        if response.status == 101 && response.has("Upgrade", token: "websocket") {
            upgraded = true
            held.withUnsafeBytes { bytes in
                emit(.upgraded(request: upgrade, response: response, clientGap: heldGap, clientBytes: bytes))
            }
        } else if response.status == 101 {
            emit(.switchedElsewhere)
        } else {
            emit(.upgradeRefused(response))
            request.resume()
            if heldGap > 0 { request.gap(heldGap) { event in self.event(event, .c2s, emit) } }
            held.withUnsafeBytes { feedRequest($0, emit) }
        }
    }
}
