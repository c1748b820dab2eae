import ImscopeCore
import Inflate

/// Limits of the WebSocket layer.
public struct WebSocketLimits: Sendable {
    /// Bytes of one message kept (after inflating); the rest is counted, not kept (`ws.message_too_large`).
    public var maxMessageBytes = 16 << 20
    /// Bytes one compressed message may inflate to before inflating stops (`ws.inflate_context_lost` if the
    /// direction keeps its compression context). Inflating past `maxMessageBytes` only to keep the context right
    /// costs CPU, not memory.
    public var maxInflateBytes: UInt64 = 4 << 30
    /// Bytes searched for a provable frame boundary after a gap or at a mid-stream start.
    public var resyncWindow = 64 << 10
    public init() {}
}

/// A complete WebSocket message (or control frame) of one direction.
public struct WebSocketMessage {
    public var opcode: WebSocketOpcode
    /// Sent with permessage-deflate (RSV1).
    public var compressed: Bool
    /// Frames that carried it (1 when unfragmented).
    public var fragments: Int
    /// Length after inflating; larger than `payload.count` when `truncated` or bytes were lost.
    public var length: UInt64
    /// The bytes kept: the whole message, or its beginning when truncated. For close frames, the reason.
    /// Valid only during the callback.
    public var payload: UnsafeRawBufferPointer
    /// Payload bytes on the wire (compressed size).
    public var wireLength: UInt64
    public var truncated: Bool
    /// Bytes of the message lost in gaps (on the wire).
    public var missing: UInt64
    /// Set when a compressed message could not be inflated: `payload` is empty.
    public var inflateFailed: Bool
    public var closeCode: UInt16?
    /// For text messages: whether `payload` is valid UTF-8 (invalid text is reported).
    public var validUTF8: Bool
}

/// What one direction's WebSocket decoder produces.
public enum WebSocketEvent {
    case message(WebSocketMessage)
    case problem(DiagnosticKind, String)
}

/// Permessage-deflate as negotiated for the sender of one direction (RFC 7692 section 7.1).
public struct DeflateParameters: Sendable, Equatable {
    public var enabled: Bool
    /// The sender resets its compression context after each message (`*_no_context_takeover`).
    public var noContextTakeover: Bool
    /// The sender's window (`*_max_window_bits`); inflating always uses a 32 KiB window, which covers any.
    public var maxWindowBits: Int

    public init(enabled: Bool, noContextTakeover: Bool = false, maxWindowBits: Int = 15) {
        self.enabled = enabled
        self.noContextTakeover = noContextTakeover
        self.maxWindowBits = maxWindowBits
    }

    public static let off = DeflateParameters(enabled: false)
}

/// Decodes the frames of one direction of a WebSocket connection into messages, incrementally: any split of the
/// byte stream gives the same events.
///
/// Enforces RFC 6455 section 5 (masking by direction, reserved bits and opcodes, control frame rules,
/// fragmentation with interleaved control frames, close codes, UTF-8 of text) as diagnostics — decoding goes on.
/// Unfragmented, uncompressed frames that lie whole in the bytes fed are passed on without copying (server frames)
/// or with one unmasking copy (client frames); others are gathered into a message buffer bounded by the limits.
///
/// After a gap inside a payload the frame boundaries are still known and decoding stays in step; a gap that hides a
/// boundary (or a stream picked up mid-way, `negotiated == false`) makes the decoder search for a boundary it can
/// prove: a chain of well-formed frames (right masking, known opcodes, minimal length encoding) reaching the end
/// of the bytes seen.
public final class WebSocketStream {
    public let fromClient: Bool
    public let limits: WebSocketLimits
    /// Compression as negotiated; for a stream without a captured handshake, RSV1 messages are tried anyway.
    public var deflate: DeflateParameters
    /// Whether the handshake was seen (otherwise the extensions in use are unknown).
    public let negotiated: Bool

    enum Mode {
        case frames
        case searching(initial: Bool)
        /// Gave up on this direction (nothing recognisable).
        case off
    }

    var mode: Mode
    // The frame in progress.
    var headerBytes: [UInt8] = []
    var frame: WebSocketFrameHeader? = nil
    var remaining: UInt64 = 0
    var payloadOffset: UInt64 = 0
    var skipPayload = false
    // The data message in progress.
    var messageActive = false
    var messageOpcode = WebSocketOpcode.text
    var messageCompressed = false
    var messageFragments = 0
    var messageBuffer: [UInt8] = []
    var messageLength: UInt64 = 0
    var messageWire: UInt64 = 0
    var messageMissing: UInt64 = 0
    var messageInflateFailed = false
    // The control frame in progress (at most 125 bytes).
    var controlBuffer: [UInt8] = []
    var controlMissing: UInt64 = 0
    var scratch: [UInt8] = []
    var inflater: Inflater? = nil
    var contextLost = false
    var searchBuffer: [UInt8] = []
    var searchSkipped: UInt64 = 0
    var warnedMask = false
    var maskViolations = 0

    public init(fromClient: Bool, deflate: DeflateParameters, negotiated: Bool, limits: WebSocketLimits = .init()) {
        self.fromClient = fromClient
        self.deflate = deflate
        self.negotiated = negotiated
        self.limits = limits
        self.mode = negotiated ? .frames : .searching(initial: true)
    }

    /// Whether the decoder is in step with frame boundaries.
    public var inSync: Bool {
        if case .frames = mode { return true }
        return false
    }

    // MARK: - Input

    public func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (WebSocketEvent) -> Void) {
        switch mode {
        case .off:
            return
        case .frames:
            frames(bytes, emit)
        case .searching(let initial):
            search(bytes, initial: initial, emit)
        }
    }

    /// `length` bytes of this direction were lost.
    public func gap(_ length: UInt64, _ emit: (WebSocketEvent) -> Void) {
        switch mode {
        case .off:
            return
        case .searching:
            // What was gathered before the gap is not contiguous with what follows.
            searchSkipped += UInt64(searchBuffer.count) + length
            searchBuffer.removeAll()
            return
        case .frames:
            break
        }
        if frame != nil && headerBytes.isEmpty && length <= remaining {
            // Inside a payload: the boundary is still known.
            remaining -= length
            payloadOffset += length
            if frame!.opcode.isControl {
                controlMissing += length
            } else if !skipPayload {
                messageMissing += length
                messageWire += length
                if messageCompressed {
                    if !messageInflateFailed { loseContext("a gap inside a compressed message", emit) }
                    messageInflateFailed = true
                } else {
                    messageLength += length
                }
            }
            emit(.problem(.wsGap, "\(length) bytes of a \(frame!.opcode.name) frame's payload missing"))
            if remaining == 0 { endFrame(emit) }
            return
        }
        // The gap hides a frame boundary.
        let lostMessage = messageActive
        resetFrame()
        resetMessage()
        if deflate.enabled && !deflate.noContextTakeover { loseContext("a gap between frames", emit) }
        emit(
            .problem(
                .wsLostSync,
                "a gap of \(length) bytes hid a frame boundary"
                    + (lostMessage ? "; the message in progress is lost" : "")
                    + "; searching for the next frame"))
        mode = .searching(initial: false)
        searchSkipped = 0
    }

    /// The connection ended.
    public func close(_ emit: (WebSocketEvent) -> Void) {
        if case .frames = mode, frame != nil || !headerBytes.isEmpty || messageActive {
            emit(.problem(.wsIncomplete, "the connection ended inside a frame or a fragmented message"))
        }
        if case .searching = mode, !searchBuffer.isEmpty {
            emit(.problem(.wsLostSync, "\(searchBuffer.count) bytes at the end were never in step with frames"))
        }
    }

    // MARK: - Frames

    func frames(_ bytes: UnsafeRawBufferPointer, _ emit: (WebSocketEvent) -> Void) {
        var i = 0
        let n = bytes.count
        while i < n {
            if frame == nil {
                if headerBytes.isEmpty {
                    guard let h = WebSocketFrameHeader.parse(UnsafeRawBufferPointer(rebasing: bytes[i...])) else {
                        headerBytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i...]))
                        return
                    }
                    let total = UInt64(h.headerLength) + h.length
                    if h.fin && !h.rsv1 && !h.rsv2 && !h.rsv3 && (h.opcode == .text || h.opcode == .binary)
                        && !messageActive && UInt64(n - i) >= total && h.length <= UInt64(limits.maxMessageBytes)
                        && h.masked == fromClient
                    {
                        let start = i + h.headerLength
                        let payload = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + Int(h.length))])
                        emitWhole(h, payload, emit)
                        i += Int(total)
                        continue
                    }
                    i += h.headerLength
                    if !startFrame(h, emit) { return }
                } else {
                    let need = headerBytes.count < 2 ? 2 : WebSocketFrameHeader.headerLength(headerBytes[1])
                    let take = min(need - headerBytes.count, n - i)
                    headerBytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<(i + take)]))
                    i += take
                    if headerBytes.count >= 2
                        && headerBytes.count == WebSocketFrameHeader.headerLength(headerBytes[1])
                    {
                        let h = headerBytes.withUnsafeBytes { WebSocketFrameHeader.parse($0)! }
                        headerBytes.removeAll(keepingCapacity: true)
                        if !startFrame(h, emit) { return }
                    }
                }
                continue
            }
            let take = Int(min(remaining, UInt64(n - i)))
            if take > 0 { payload(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + take)]), emit) }
            i += take
            remaining -= UInt64(take)
            if remaining == 0 { endFrame(emit) }
        }
    }

    /// An unfragmented, uncompressed data frame that lies whole in the input.
    func emitWhole(_ h: WebSocketFrameHeader, _ raw: UnsafeRawBufferPointer, _ emit: (WebSocketEvent) -> Void) {
        if h.masked {
            unmask(raw, key: h.maskKey, offset: 0)
            scratch.withUnsafeBytes { emitDataMessage(h, UnsafeRawBufferPointer(rebasing: $0[0..<raw.count]), emit) }
        } else {
            emitDataMessage(h, raw, emit)
        }
    }

    func emitDataMessage(_ h: WebSocketFrameHeader, _ payload: UnsafeRawBufferPointer, _ emit: (WebSocketEvent) -> Void)
    {
        let valid = h.opcode == .text ? isValidUTF8(payload) : true
        if !valid { emit(.problem(.wsInvalidUTF8, "text message of \(payload.count) bytes is not valid UTF-8")) }
        emit(
            .message(
                WebSocketMessage(
                    opcode: h.opcode, compressed: false, fragments: 1, length: h.length, payload: payload,
                    wireLength: h.length, truncated: false, missing: 0, inflateFailed: false, closeCode: nil,
                    validUTF8: valid)))
    }

    /// Validates a frame header and prepares for its payload; false when the header makes the stream unusable.
    func startFrame(_ h: WebSocketFrameHeader, _ emit: (WebSocketEvent) -> Void) -> Bool {
        if h.length >> 63 != 0 {
            emit(.problem(.wsLostSync, "frame length with the most significant bit set; searching for the next frame"))
            resetFrame()
            resetMessage()
            mode = .searching(initial: false)
            searchSkipped = 0
            return false
        }
        frame = h
        remaining = h.length
        payloadOffset = 0
        skipPayload = false
        if h.masked != fromClient {
            maskViolations += 1
            if !warnedMask {
                warnedMask = true
                emit(
                    .problem(
                        .wsMaskViolation,
                        fromClient
                            ? "client frame not masked"
                            : "server frame masked"
                                + " (reported once per direction)"))
            }
        }
        let data = !h.opcode.isControl && h.opcode.isKnown
        let rsv1Allowed = data && h.opcode != .continuation && (deflate.enabled || !negotiated)
        if h.rsv2 || h.rsv3 || (h.rsv1 && !rsv1Allowed) {
            emit(.problem(.wsReservedBits, "\(h.opcode.name) frame with RSV bits set that no extension defines"))
        }
        if !h.opcode.isKnown {
            emit(.problem(.wsReservedOpcode, "reserved opcode \(h.opcode.rawValue); \(h.length) payload bytes skipped"))
            skipPayload = true
        } else if h.opcode.isControl {
            if !h.fin || h.length > 125 {
                emit(
                    .problem(
                        .wsBadControlFrame, "\(h.opcode.name) frame \(h.fin ? "" : "fragmented, ")of \(h.length) bytes")
                )
            }
            controlBuffer.removeAll(keepingCapacity: true)
            controlMissing = 0
            if h.length > 125 { skipPayload = true }
        } else if h.opcode == .continuation {
            if !messageActive {
                emit(.problem(.wsBadContinuation, "continuation frame without a message to continue; skipped"))
                skipPayload = true
            } else {
                messageFragments += 1
            }
        } else {
            if messageActive {
                emit(.problem(.wsBadContinuation, "new \(h.opcode.name) message inside a fragmented message"))
                resetMessage()
            }
            messageActive = true
            messageOpcode = h.opcode
            messageCompressed = h.rsv1 && rsv1Allowed
            messageFragments = 1
            if messageCompressed {
                if inflater == nil { inflater = Inflater() }
                if deflate.noContextTakeover || contextLost { inflater!.reset() }
            }
        }
        if remaining == 0 { endFrame(emit) }
        return true
    }

    func payload(_ raw: UnsafeRawBufferPointer, _ emit: (WebSocketEvent) -> Void) {
        defer { payloadOffset += UInt64(raw.count) }
        if skipPayload { return }
        var bytes = raw
        if frame!.masked {
            unmask(raw, key: frame!.maskKey, offset: payloadOffset)
            bytes = scratch.withUnsafeBytes { UnsafeRawBufferPointer(start: $0.baseAddress, count: raw.count) }
        }
        if frame!.opcode.isControl {
            controlBuffer.append(contentsOf: bytes)
            return
        }
        messageWire += UInt64(bytes.count)
        if messageCompressed {
            if messageInflateFailed { return }
            inflate(bytes, emit)
        } else {
            messageLength += UInt64(bytes.count)
            let room = limits.maxMessageBytes - messageBuffer.count
            if room > 0 {
                messageBuffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<min(room, bytes.count)]))
            }
        }
    }

    func inflate(_ bytes: UnsafeRawBufferPointer, _ emit: (WebSocketEvent) -> Void) {
        let result = inflater!.inflate(
            bytes, into: &messageBuffer, keepLimit: limits.maxMessageBytes, produced: &messageLength,
            workLimit: limits.maxInflateBytes)
        switch result {
        case .ok:
            if messageLength >= limits.maxInflateBytes {
                messageInflateFailed = true
                if !deflate.noContextTakeover {
                    loseContext("a message inflating past \(limits.maxInflateBytes) bytes", emit)
                }
            }
        case .failed(let why):
            messageInflateFailed = true
            emit(
                .problem(
                    .wsInflateFailed,
                    "cannot inflate a compressed \(messageOpcode.name) message: \(why)"
                        + (negotiated ? "" : " (its compression context was not captured)")))
            if !deflate.noContextTakeover { contextLost = true }
        }
    }

    func loseContext(_ why: String, _ emit: (WebSocketEvent) -> Void) {
        contextLost = true
        emit(.problem(.wsInflateContextLost, "compression context lost after \(why)"))
    }

    func endFrame(_ emit: (WebSocketEvent) -> Void) {
        guard let h = frame else { return }
        frame = nil
        if skipPayload {
            skipPayload = false
            return
        }
        if h.opcode.isControl {
            emitControl(h, emit)
        } else if h.fin {
            finishMessage(emit)
        }
    }

    func emitControl(_ h: WebSocketFrameHeader, _ emit: (WebSocketEvent) -> Void) {
        var code: UInt16? = nil
        var reasonStart = 0
        if h.opcode == .close {
            if controlBuffer.count == 1 {
                emit(.problem(.wsBadClose, "close frame with a 1-byte payload"))
            } else if controlBuffer.count >= 2 {
                code = UInt16(controlBuffer[0]) << 8 | UInt16(controlBuffer[1])
                reasonStart = 2
                let c = code!
                let valid = (1000...1003).contains(c) || (1007...1014).contains(c) || (3000...4999).contains(c)
                if !valid { emit(.problem(.wsBadClose, "close code \(c) is reserved or not allowed on the wire")) }
            }
        }
        controlBuffer.withUnsafeBytes { all in
            let payload = UnsafeRawBufferPointer(rebasing: all[min(reasonStart, all.count)...])
            let valid = h.opcode == .close ? isValidUTF8(payload) : true
            if !valid { emit(.problem(.wsInvalidUTF8, "close reason is not valid UTF-8")) }
            emit(
                .message(
                    WebSocketMessage(
                        opcode: h.opcode, compressed: false, fragments: 1, length: h.length, payload: payload,
                        wireLength: h.length, truncated: false, missing: controlMissing, inflateFailed: false,
                        closeCode: code, validUTF8: valid)))
        }
        controlBuffer.removeAll(keepingCapacity: true)
    }

    func finishMessage(_ emit: (WebSocketEvent) -> Void) {
        if messageCompressed && !messageInflateFailed {
            // RFC 7692 section 7.2.2: the sender removed the empty stored block's tail; put it back.
            let tail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]
            tail.withUnsafeBytes { inflate($0, emit) }
            if !messageInflateFailed {
                if contextLost && !deflate.noContextTakeover {
                    // This message inflated from a fresh window: the context holds from here on.
                    contextLost = false
                }
            }
        }
        let truncated = messageLength > UInt64(messageBuffer.count) && messageMissing == 0 && !messageInflateFailed
        if truncated {
            emit(
                .problem(
                    .wsMessageTooLarge,
                    "\(messageOpcode.name) message of \(messageLength) bytes"
                        + (messageCompressed
                            ? " inflated from \(messageWire) (ratio \(messageWire > 0 ? messageLength / messageWire : 0):1)"
                            : "") + "; kept the first \(messageBuffer.count)"))
        }
        messageBuffer.withUnsafeBytes { kept in
            var payload = messageInflateFailed ? UnsafeRawBufferPointer(start: nil, count: 0) : kept
            if truncated && messageOpcode == .text { payload = Self.cutToCharacter(payload) }
            var valid = true
            if messageOpcode == .text && messageMissing == 0 && !messageInflateFailed {
                valid = isValidUTF8(payload, allowTruncatedEnd: truncated)
                if !valid {
                    emit(.problem(.wsInvalidUTF8, "text message of \(messageLength) bytes is not valid UTF-8"))
                }
            }
            emit(
                .message(
                    WebSocketMessage(
                        opcode: messageOpcode, compressed: messageCompressed, fragments: messageFragments,
                        length: messageLength, payload: payload, wireLength: messageWire, truncated: truncated,
                        missing: messageMissing, inflateFailed: messageInflateFailed, closeCode: nil,
                        validUTF8: valid)))
        }
        resetMessage()
    }

    /// Text cut at a size limit, without a UTF-8 sequence the cut left incomplete.
    static func cutToCharacter(_ text: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        // Step back over up to three continuation bytes to the lead byte of the last sequence.
        var k = text.count - 1
        var continuations = 0
        while k >= 0 && continuations < 3 && text[k] & 0xC0 == 0x80 {
            k -= 1
            continuations += 1
        }
        guard k >= 0 else { return text }
        let lead = text[k]
        let need = lead < 0xC0 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2
        return continuations + 1 < need ? UnsafeRawBufferPointer(rebasing: text[0..<k]) : text
    }

    func resetFrame() {
        frame = nil
        headerBytes.removeAll(keepingCapacity: true)
        remaining = 0
        skipPayload = false
    }

    func resetMessage() {
        messageActive = false
        messageCompressed = false
        messageFragments = 0
        if messageBuffer.capacity > 1 << 20 {
            messageBuffer = []
        } else {
            messageBuffer.removeAll(keepingCapacity: true)
        }
        messageLength = 0
        messageWire = 0
        messageMissing = 0
        messageInflateFailed = false
    }

    /// Unmasks `raw` into `scratch`, the mask key rotated to `offset` bytes into the payload.
    func unmask(_ raw: UnsafeRawBufferPointer, key: UInt32, offset: UInt64) {
        if scratch.count < raw.count { scratch = [UInt8](repeating: 0, count: max(raw.count, 4096)) }
        let k0 = UInt8(truncatingIfNeeded: key >> 24)
        let k1 = UInt8(truncatingIfNeeded: key >> 16)
        let k2 = UInt8(truncatingIfNeeded: key >> 8)
        let k3 = UInt8(truncatingIfNeeded: key)
        let keys = (k0, k1, k2, k3)
        let phase = Int(offset & 3)
        scratch.withUnsafeMutableBytes { out in
            var word: UInt64 = 0
            withUnsafeMutableBytes(of: &word) { w in
                for j in 0..<8 {
                    switch (phase + j) & 3 {
                    case 0: w[j] = keys.0
                    case 1: w[j] = keys.1
                    case 2: w[j] = keys.2
                    default: w[j] = keys.3
                    }
                }
            }
            let n = raw.count
            var i = 0
            while i + 8 <= n {
                let v = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ word
                out.storeBytes(of: v, toByteOffset: i, as: UInt64.self)
                i += 8
            }
            while i < n {
                let k: UInt8
                switch (phase + i) & 3 {
                case 0: k = keys.0
                case 1: k = keys.1
                case 2: k = keys.2
                default: k = keys.3
                }
                out[i] = raw[i] ^ k
                i += 1
            }
        }
    }

    // MARK: - Finding frame boundaries

    func search(_ bytes: UnsafeRawBufferPointer, initial: Bool, _ emit: (WebSocketEvent) -> Void) {
        searchBuffer.append(contentsOf: bytes)
        let found: Int? = searchBuffer.withUnsafeBytes { findBoundary($0, afterGap: !initial) }
        guard let offset = found else {
            if searchBuffer.count > limits.resyncWindow {
                let drop = searchBuffer.count - limits.resyncWindow / 2
                searchSkipped += UInt64(drop)
                searchBuffer.removeFirst(drop)
            }
            return
        }
        let skipped = searchSkipped + UInt64(offset)
        if initial {
            emit(
                .problem(
                    .wsMidstream,
                    "\(fromClient ? "client" : "server") frames recognised without a handshake"
                        + (skipped > 0 ? " after skipping \(skipped) bytes" : "")))
        } else {
            emit(.problem(.wsResynced, "in step with frames again after skipping \(skipped) bytes"))
        }
        mode = .frames
        let rest = Array(searchBuffer[offset...])
        searchBuffer = []
        searchSkipped = 0
        rest.withUnsafeBytes { frames($0, emit) }
    }

    /// The first offset from which the buffered bytes parse as a provable chain of frames, if any.
    ///
    /// Proof: at least two complete well-formed frames, or — at the very start of what follows a gap or begins the
    /// capture — one complete frame that ends exactly where the bytes seen end.
    func findBoundary(_ buffer: UnsafeRawBufferPointer, afterGap: Bool) -> Int? {
        var o = 0
        while o + 2 <= buffer.count {
            var p = o
            var complete = 0
            var exactEnd = false
            while let h = WebSocketFrameHeader.parse(UnsafeRawBufferPointer(rebasing: buffer[p...])), plausible(h) {
                let end = UInt64(p) + UInt64(h.headerLength) + h.length
                if end > UInt64(buffer.count) { break }
                complete += 1
                p = Int(end)
                if p == buffer.count {
                    exactEnd = true
                    break
                }
            }
            if complete >= 2 || (o == 0 && complete == 1 && exactEnd) { return o }
            o += 1
        }
        return nil
    }

    /// Whether a header could be a real frame of this direction.
    func plausible(_ h: WebSocketFrameHeader) -> Bool {
        guard h.masked == fromClient, h.opcode.isKnown, !h.rsv2, !h.rsv3 else { return false }
        if h.opcode.isControl { return h.fin && h.length <= 125 && !h.rsv1 }
        if h.rsv1 && (h.opcode == .continuation || (negotiated && !deflate.enabled)) { return false }
        // RFC 6455 section 5.2: the minimal number of bytes must encode the length.
        if h.headerLength - (h.masked ? 4 : 0) == 4 && h.length < 126 { return false }
        if h.headerLength - (h.masked ? 4 : 0) == 10 && h.length <= 0xFFFF { return false }
        return h.length <= UInt64(limits.maxMessageBytes) * 4
    }
}
