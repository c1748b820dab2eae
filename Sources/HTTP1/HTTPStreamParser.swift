import ImscopeCore

/// What the HTTP parser of one direction produces.
public enum HTTPEvent {
    /// A request or response head.
    case head(HTTPMessageHead)
    /// Body bytes (de-chunked), valid during the call only.
    case body(UnsafeRawBufferPointer)
    /// The message ended; `complete` is false when bytes of its body were lost in a gap.
    case end(bodyLength: Int, complete: Bool)
    case problem(DiagnosticKind, String)
}

/// Parses HTTP/1.x messages from one direction of a connection, incrementally: any split of the byte stream gives
/// the same events.
///
/// Bodies: `Content-Length`, chunked (RFC 9112 section 7.1, trailers skipped), or — for responses with neither —
/// until the connection closes. Responses to `HEAD`, 1xx, 204 and 304 have no body; the response parser learns the
/// request methods through ``expectResponse(toMethod:)``. After a message head that switches protocols (a `101`
/// response, or a request the caller marks as upgrading), the parser stops and ``feed(_:_:)`` returns how many
/// bytes it consumed, so the caller can hand the rest to the next protocol.
///
/// Limits: a head is at most `maxHeadBytes` (64 KiB); past that, `http.head_too_large` and a resync.
public struct HTTPStreamParser {
    public enum Role: Sendable { case request, response }

    enum State {
        case head
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        /// The message head switched protocols: the parser takes no more bytes.
        case switched
        /// A gap broke the framing: look for the next start line.
        case lost
    }

    public let role: Role
    public var maxHeadBytes = 64 << 10
    var state = State.head
    var line: [UInt8] = []
    var bodyLength = 0
    var bodyComplete = true
    var pendingMethods: [String] = []
    var reportedLost = false

    public init(role: Role) { self.role = role }

    /// Whether the parser has stopped because its stream switched protocols.
    public var switchedProtocols: Bool {
        if case .switched = state { return true }
        return false
    }

    /// Whether a message is in progress (for "ended in the middle" reports).
    public var inMessage: Bool {
        switch state {
        case .head: return !line.isEmpty
        case .switched, .lost: return false
        default: return true
        }
    }

    /// Tells the response parser that a request with `method` was sent (responses come in request order).
    public mutating func expectResponse(toMethod method: String) { pendingMethods.append(method) }

    /// Takes up HTTP again after a switch that did not happen (the server refused the upgrade).
    public mutating func resume() {
        if case .switched = state { state = .head }
    }
    var switchPending = false

    /// For a response parser: stop at the start of a response while no request is waiting for one (`feed`
    /// returns what it consumed), so that a response the capture shows before its request is paired with it.
    public var holdForRequest = false

    /// Whether the parser stopped before a response because no request waits for one.
    public var waitingForRequest: Bool {
        if case .head = state { return role == .response && holdForRequest && line.isEmpty && pendingMethods.isEmpty }
        return false
    }

    /// Feeds bytes; returns how many were consumed (all of them unless the stream switched protocols).
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (HTTPEvent) -> Void) -> Int {
        var i = 0
        let n = bytes.count
        while i < n {
            switch state {
            case .switched:
                return i
            case .lost:
                return resync(bytes, from: i, emit)
            case .head:
                // A response waits for its request when asked to (the capture may show it first).
                if role == .response && holdForRequest && line.isEmpty && pendingMethods.isEmpty { return i }
                // Collect the head up to the blank line.
                var j = i
                var found = -1
                while j < n {
                    if bytes[j] == 0x0A {
                        let lineCount = line.count + (j - i)
                        if lineCount >= 1 && endsHead(bytes, i, j) {
                            found = j
                            break
                        }
                    }
                    j += 1
                }
                let end = found >= 0 ? found + 1 : n
                if found >= 0 && line.count + (end - i) > maxHeadBytes {
                    emit(.problem(.httpHeadTooLarge, "message head longer than \(maxHeadBytes) bytes"))
                    line.removeAll()
                    enterLost(reported: true)
                    i = end
                    continue
                }
                if line.isEmpty && found >= 0 {
                    // Whole head in this buffer: parse in place.
                    parseHead(UnsafeRawBufferPointer(rebasing: bytes[i..<end]), emit)
                } else {
                    line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<end]))
                    if found >= 0 {
                        let head = line
                        line.removeAll(keepingCapacity: true)
                        head.withUnsafeBytes { parseHead($0, emit) }
                    } else if line.count > maxHeadBytes {
                        emit(.problem(.httpHeadTooLarge, "message head longer than \(maxHeadBytes) bytes"))
                        line.removeAll()
                        enterLost(reported: true)
                    }
                }
                i = end
            case .body(let remaining):
                let take = min(remaining, n - i)
                emitBody(bytes, i, take, emit)
                i += take
                if take == remaining {
                    finishMessage(emit)
                } else {
                    state = .body(remaining: remaining - take)
                }
            case .untilClose:
                emitBody(bytes, i, n - i, emit)
                i = n
            case .chunkSize, .chunkDataEnd, .trailers:
                guard let nl = firstNewline(bytes, from: i) else {
                    line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<n]))
                    if line.count > 4096 { fail("chunk framing line longer than 4096 bytes", emit) }
                    return n
                }
                line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<nl]))
                i = nl + 1
                if line.last == 0x0D { line.removeLast() }
                let text = line
                line.removeAll(keepingCapacity: true)
                handleChunkLine(text, emit)
            case .chunkData(let remaining):
                let take = min(remaining, n - i)
                emitBody(bytes, i, take, emit)
                i += take
                state = take == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - take)
            }
        }
        return i
    }

    /// Bytes were lost. Inside a body of known length the parser stays in step; elsewhere it resynchronises.
    public mutating func gap(_ length: UInt64, _ emit: (HTTPEvent) -> Void) {
        switch state {
        case .body(let remaining) where UInt64(remaining) > length:
            bodyComplete = false
            bodyLength += Int(length)
            state = .body(remaining: remaining - Int(length))
            emit(.problem(.httpBodyGap, "\(length) bytes of the body missing"))
        case .body(let remaining):
            bodyComplete = false
            bodyLength += remaining
            if UInt64(remaining) == length {
                emit(.problem(.httpBodyGap, "\(length) bytes of the body missing"))
                finishMessage(emit)
            } else {
                finishMessage(emit)
                loseSync(emit)
            }
        case .untilClose:
            bodyComplete = false
            bodyLength += Int(clamping: length)
        case .switched:
            break
        case .head where line.isEmpty:
            // Between messages: the next bytes should start a message; if they do not, that is reported.
            enterLost(reported: false)
        case .chunkSize, .chunkData, .chunkDataEnd, .trailers:
            // The chunk framing is lost: the message ends here, incomplete.
            bodyComplete = false
            finishMessage(emit)
            loseSync(emit)
        default:
            loseSync(emit)
        }
    }

    /// The connection closed: ends a body that runs until close, reports a message cut short.
    public mutating func close(_ emit: (HTTPEvent) -> Void) {
        if case .untilClose = state {
            finishMessage(emit)
            return
        }
        if inMessage { emit(.problem(.httpIncomplete, "the connection ended inside an HTTP message")) }
    }

    // MARK: - Internals

    mutating func loseSync(_ emit: (HTTPEvent) -> Void) {
        let report = !reportedLost
        enterLost(reported: true)
        if report { emit(.problem(.httpLostSync, "a gap broke the HTTP framing; skipping to the next message")) }
    }

    mutating func fail(_ message: String, _ emit: (HTTPEvent) -> Void) {
        emit(.problem(.httpMalformed, message))
        enterLost(reported: true)
    }

    /// Abandons the message in progress and looks for the next start line; `reported` says whether the reason was
    /// already told (otherwise skipping bytes raises `http.lost_sync`).
    mutating func enterLost(reported: Bool) {
        state = .lost
        line.removeAll()
        bodyLength = 0
        bodyComplete = true
        switchPending = false
        reportedLost = reported
        lostCarry.removeAll()
        lostAtLineStart = true
    }

    /// In the lost state: finds the next start line (at the start of a line), also when it is split across feeds,
    /// and parses on from there. Returns the bytes of `bytes` consumed (as `feed` does).
    mutating func resync(_ bytes: UnsafeRawBufferPointer, from i: Int, _ emit: (HTTPEvent) -> Void) -> Int {
        var combined = lostCarry
        combined.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i...]))
        let carried = lostCarry.count
        let found = combined.withUnsafeBytes { findStartLine($0, atLineStart: lostAtLineStart) }
        guard let start = found else {
            // Bytes that may still become a start line (a prefix of "GET " at a line start) are not yet skipped.
            let mayStart = lostAtLineStart && combined.withUnsafeBytes { isStartPrefix($0) }
            if !reportedLost && combined.count > 0 && !mayStart {
                reportedLost = true
                emit(.problem(.httpLostSync, "bytes that do not start an HTTP message; skipping to the next one"))
            }
            let keep = min(combined.count, 16)
            if combined.count > keep { lostAtLineStart = combined[combined.count - keep - 1] == 0x0A }
            lostCarry = Array(combined[(combined.count - keep)...])
            return bytes.count
        }
        if start > 0 && !reportedLost {
            emit(.problem(.httpLostSync, "skipped \(start) bytes to the next HTTP message"))
        }
        state = .head
        line.removeAll(keepingCapacity: true)
        lostCarry.removeAll()
        reportedLost = false
        let used = combined.withUnsafeBytes { feed(UnsafeRawBufferPointer(rebasing: $0[start...]), emit) }
        // Map what was consumed of `combined` back to `bytes`.
        return max(i, i + start + used - carried)
    }

    /// Whether `bytes` are the beginning of a start line cut by the end of the bytes seen.
    func isStartPrefix(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let patterns =
            role == .request
            ? ["GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT "] : ["HTTP/1."]
        return patterns.contains { p in bytes.count < p.utf8.count && p.utf8.starts(with: bytes) }
    }

    var lostCarry: [UInt8] = []
    var lostAtLineStart = true

    /// Whether the newline at `j` ends the head: the line before it (possibly partly in `line`) is empty.
    func endsHead(_ bytes: UnsafeRawBufferPointer, _ i: Int, _ j: Int) -> Bool {
        // Look back over an optional CR to the previous LF.
        func byte(at k: Int) -> UInt8? {
            if k >= i { return bytes[k] }
            let idx = line.count - (i - k)
            return idx >= 0 ? line[idx] : nil
        }
        var k = j - 1
        if byte(at: k) == 0x0D { k -= 1 }
        return byte(at: k) == 0x0A
    }

    func firstNewline(_ bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
        var k = from
        while k < bytes.count {
            if bytes[k] == 0x0A { return k }
            k += 1
        }
        return nil
    }

    /// The offset of a request or status line start in `bytes` that begins a line (position 0 does when
    /// `atLineStart`).
    func findStartLine(_ bytes: UnsafeRawBufferPointer, atLineStart: Bool) -> Int? {
        let patterns: [[UInt8]] =
            role == .request
            ? ["GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT "].map { Array($0.utf8) }
            : [Array("HTTP/1.".utf8)]
        var k = 0
        while k < bytes.count {
            if k == 0 ? atLineStart : bytes[k - 1] == 0x0A {
                for p in patterns where k + p.count <= bytes.count {
                    var match = true
                    for (o, b) in p.enumerated() where bytes[k + o] != b {
                        match = false
                        break
                    }
                    if match { return k }
                }
            }
            k += 1
        }
        return nil
    }

    mutating func emitBody(_ bytes: UnsafeRawBufferPointer, _ from: Int, _ count: Int, _ emit: (HTTPEvent) -> Void) {
        guard count > 0 else { return }
        bodyLength += count
        emit(.body(UnsafeRawBufferPointer(rebasing: bytes[from..<(from + count)])))
    }

    mutating func finishMessage(_ emit: (HTTPEvent) -> Void) {
        emit(.end(bodyLength: bodyLength, complete: bodyComplete))
        bodyLength = 0
        bodyComplete = true
        if switchPending {
            switchPending = false
            state = .switched
        } else {
            state = .head
        }
    }

    mutating func handleChunkLine(_ text: [UInt8], _ emit: (HTTPEvent) -> Void) {
        switch state {
        case .chunkDataEnd:
            if !text.isEmpty { return fail("chunk data not followed by CRLF", emit) }
            state = .chunkSize
        case .trailers:
            if text.isEmpty { finishMessage(emit) }
        default:
            var size = 0
            var digits = 0
            for b in text {
                let v: Int
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): v = Int(b - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): v = Int(b - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): v = Int(b - UInt8(ascii: "A") + 10)
                default: v = -1
                }
                if v < 0 { break }
                size = size * 16 + v
                digits += 1
                if digits > 15 { return fail("chunk size too large", emit) }
            }
            if digits == 0 { return fail("bad chunk size line", emit) }
            state = size == 0 ? .trailers : .chunkData(remaining: size)
        }
    }

    mutating func parseHead(_ raw: UnsafeRawBufferPointer, _ emit: (HTTPEvent) -> Void) {
        // Split into lines on the LF byte, tolerating bare LF; skip empty lines before a start line (RFC 9112
        // section 2.2). Lines stay byte ranges: only the pieces kept become Strings.
        var lines: [Range<Int>] = []
        var lineStart = 0
        for k in 0...raw.count where k == raw.count || raw[k] == 0x0A {
            var lineEnd = k
            if lineEnd > lineStart && raw[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            let l = lineStart..<lineEnd
            lineStart = k + 1
            if lines.isEmpty && l.isEmpty { continue }
            lines.append(l)
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard let start = lines.first else { return }
        func text(_ r: Range<Int>) -> String {
            String(decoding: UnsafeRawBufferPointer(rebasing: raw[r]), as: UTF8.self)
        }
        func find(_ byte: UInt8, in r: Range<Int>) -> Int? { r.first { raw[$0] == byte } }
        func trimmed(_ r: Range<Int>) -> Range<Int> {
            var (lo, hi) = (r.lowerBound, r.upperBound)
            while lo < hi && HTTPBytes.isOWS(raw[lo]) { lo += 1 }
            while hi > lo && HTTPBytes.isOWS(raw[hi - 1]) { hi -= 1 }
            return lo..<hi
        }
        var head = HTTPMessageHead(isRequest: role == .request)
        // The start line in at most three parts split on single spaces, the last keeping any further spaces.
        var parts: [Range<Int>] = []
        var partStart = start.lowerBound
        for k in start where raw[k] == 0x20 && parts.count < 2 {
            parts.append(partStart..<k)
            partStart = k + 1
        }
        parts.append(partStart..<start.upperBound)
        let httpSlash: [UInt8] = Array("HTTP/".utf8)
        func isHTTPVersion(_ r: Range<Int>) -> Bool { r.count >= 5 && zip(raw[r], httpSlash).allSatisfy { $0 == $1 } }
        if role == .request {
            guard parts.count == 3, isHTTPVersion(parts[2]) else {
                return fail("not an HTTP request line: \(text(start).prefix(80))", emit)
            }
            head.method = text(parts[0])
            head.uri = text(parts[1])
            head.version = text(parts[2])
        } else {
            guard parts.count >= 2, isHTTPVersion(parts[0]), parts[1].count == 3,
                raw[parts[1]].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
            else {
                return fail("not an HTTP status line: \(text(start).prefix(80))", emit)
            }
            head.version = text(parts[0])
            head.status = raw[parts[1]].reduce(0) { $0 * 10 + Int($1 - 0x30) }
            head.reason = parts.count > 2 ? text(parts[2]) : ""
        }
        for l in lines.dropFirst() {
            if let f = l.first.map({ raw[$0] }), HTTPBytes.isOWS(f), !head.headers.isEmpty {  // obsolete line folding
                head.headers[head.headers.count - 1].value += " " + text(trimmed(l))
                continue
            }
            guard let colon = find(UInt8(ascii: ":"), in: l) else {
                emit(.problem(.httpMalformed, "header line without a colon: \(text(l).prefix(80))"))
                continue
            }
            head.headers.append((text(l.lowerBound..<colon), text(trimmed(colon + 1..<l.upperBound))))
        }
        emit(.head(head))
        if head.value("Content-Length") != nil && head.contentLength == nil && !head.isChunked {
            return fail("Content-Length is invalid or has conflicting values (RFC 9112 section 6.3)", emit)
        }
        // What follows the head.
        if role == .response {
            if head.status >= 100 && head.status < 200 {
                if head.status == 101 {
                    state = .switched
                    _ = pendingMethods.isEmpty ? nil : pendingMethods.removeFirst()
                    emit(.end(bodyLength: 0, complete: true))
                } else {
                    emit(.end(bodyLength: 0, complete: true))
                    state = .head  // interim response: the final one follows
                }
                return
            }
            let method = pendingMethods.isEmpty ? "" : pendingMethods.removeFirst()
            if method == "HEAD" || head.status == 204 || head.status == 304 {
                finishMessage(emit)
            } else if head.isChunked {
                state = .chunkSize
            } else if let length = head.contentLength {
                if length == 0 { finishMessage(emit) } else { state = .body(remaining: length) }
            } else {
                state = .untilClose
            }
        } else {
            // An upgrade request: the parser stops after it until the caller knows the server's answer.
            if head.isWebSocketUpgrade { switchPending = true }
            if head.isChunked {
                state = .chunkSize
            } else if let length = head.contentLength, length > 0 {
                state = .body(remaining: length)
            } else {
                finishMessage(emit)
            }
        }
    }
}
