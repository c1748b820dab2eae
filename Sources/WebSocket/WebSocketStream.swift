import CByteScan
import ImscopeCore
import Inflate
import UTF8Validation

/// Decodes the frames of one direction of a WebSocket connection into messages, incrementally: any split of the
/// byte stream gives the same events.
///
/// Enforces RFC 6455 section 5 (masking by direction, reserved bits and opcodes, control frame rules,
/// fragmentation with interleaved control frames, close codes, UTF-8 of text) as diagnostics — decoding goes on.
/// Unfragmented, uncompressed frames that lie whole in the bytes fed are passed on without copying (server frames)
/// or with one unmasking copy into the thread's ``UnmaskBuffer`` (client frames); others are gathered, unmasked
/// where they land, into a message buffer bounded by the limits.
///
/// After a gap inside a payload the frame boundaries are still known and decoding stays in step; a gap that hides a
/// boundary (or a stream picked up mid-way, `negotiated == false`) makes the decoder search for a boundary it can
/// prove: a chain of well-formed frames (right masking, known opcodes, minimal length encoding) reaching the end
/// of the bytes seen.
public final class WebSocketStream {
    enum Mode {
        case frames
        case searching(initial: Bool)
        /// Gave up on this direction (nothing recognisable).
        case off
    }

    // What every packet touches comes first, in the object's first two cache lines: with many streams the objects
    // are out of the cache, and each line touched costs a miss (Docs/performance.md).
    var mode: Mode
    public let fromClient: Bool
    var skipPayload = false
    /// A data message is in progress.
    var messageActive = false
    /// A close frame was sent in this direction: a data frame after it breaks RFC 6455 section 5.5.1.
    var closeSeen = false
    /// Bytes fed and lost so far: the stream position of the next byte.
    public private(set) var fedPosition: UInt64 = 0
    /// Position of `bytes[0]` of the `frames` call in progress, and just past the message being emitted.
    var frameBase: UInt64 = 0
    var messageEnd: UInt64 = 0
    // The frame in progress.
    var remaining: UInt64 = 0
    var payloadOffset: UInt64 = 0
    var frame: WebSocketFrameHeader? = nil
    var headerBytes: [UInt8] = []
    let unmasked: UnmaskBuffer
    public let limits: WebSocketLimits
    /// Compression as negotiated; for a stream without a captured handshake, RSV1 messages are tried anyway.
    public var deflate: DeflateParameters
    /// Whether the handshake was seen (otherwise the extensions in use are unknown).
    public let negotiated: Bool
    // The rest of the data message in progress.
    var messageOpcode = WebSocketOpcode.text
    var messageCompressed = false
    var messageFragments = 0
    var messageBuffer: [UInt8] = []
    var messageLength: UInt64 = 0
    var messageWire: UInt64 = 0
    var messageMissing: UInt64 = 0
    var messageInflateFailed = false
    /// Inflating stopped at `maxInflateBytes`: the message is truncated there.
    var messageInflateStopped = false
    // The control frame in progress (at most 125 bytes, unless it breaks that rule).
    var controlBuffer: [UInt8] = []
    var controlMissing: UInt64 = 0
    var inflater: Inflater? = nil
    var contextLost = false
    var searchBuffer: [UInt8] = []
    var searchBase = 0
    var searchSkipped: UInt64 = 0
    var candidates: [Candidate] = []
    var scannedUpTo = 0
    var warnedMask = false
    var warnedAfterClose = false
    var maskViolations = 0
    /// Without a handshake: the first byte fed is the direction's first byte (the connection's start was captured),
    /// so frames, if this is WebSocket at all, begin there — only a chain from it is searched for.
    public private(set) var startKnown: Bool
    /// The chain from the first byte of a ``startKnown`` stream broke before it was proved: these bytes are not
    /// WebSocket frames from their start. The stream then searches on as a stream picked up mid-way would.
    public private(set) var startNotFrames = false

    /// `startKnown` (when not `negotiated`): the first byte fed is the direction's first byte.
    public init(
        fromClient: Bool, deflate: DeflateParameters, negotiated: Bool, limits: WebSocketLimits = .init(),
        unmaskInto: UnmaskBuffer = UnmaskBuffer(), startKnown: Bool = false
    ) {
        self.unmasked = unmaskInto
        self.fromClient = fromClient
        self.deflate = deflate
        self.negotiated = negotiated
        self.limits = limits
        self.mode = negotiated ? .frames : .searching(initial: true)
        self.startKnown = startKnown && !negotiated
    }

    /// Whether the decoder is in step with frame boundaries.
    public var inSync: Bool {
        if case .frames = mode { return true }
        return false
    }

    // MARK: - Input

    /// Stream position of search position 0.
    var searchOrigin: UInt64 = 0

    public func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (WebSocketEvent) -> Void) {
        let base = fedPosition
        fedPosition += UInt64(bytes.count)
        switch mode {
        case .off:
            return
        case .frames:
            frameBase = base
            frames(bytes, emit)
        case .searching(let initial):
            search(bytes, initial: initial, emit)
        }
    }

    /// `length` bytes of this direction were lost.
    public func gap(_ length: UInt64, _ emit: (WebSocketEvent) -> Void) {
        fedPosition += length
        messageEnd = fedPosition
        switch mode {
        case .off:
            return
        case .searching:
            // What was gathered before the gap is not contiguous with what follows.
            startKnown = false
            let skipped = searchSkipped + UInt64(searchBuffer.count) + length
            resetSearch(origin: fedPosition)
            searchSkipped = skipped
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
        resetSearch(origin: fedPosition)
    }

    /// The connection ended.
    public func close(_ emit: (WebSocketEvent) -> Void) {
        if case .frames = mode, frame != nil || !headerBytes.isEmpty || messageActive {
            emit(.problem(.wsIncomplete, "the connection ended inside a frame or a fragmented message"))
        }
        if case .searching(let initial) = mode, !searchBuffer.isEmpty {
            // The end of the stream is a boundary too: a single whole frame ending there is proof enough.
            if let start = searchBuffer.withUnsafeBytes({ findBoundary($0, final: true) }) {
                accept(start, initial: initial, emit)
                if frame != nil || !headerBytes.isEmpty || messageActive {
                    emit(.problem(.wsIncomplete, "the connection ended inside a frame or a fragmented message"))
                }
                return
            }
            emit(.problem(.wsLostSync, "\(searchBuffer.count) bytes at the end were never in step with frames"))
        }
    }

    // MARK: - Frames

    func frames(_ bytes: UnsafeRawBufferPointer, _ emit: (WebSocketEvent) -> Void) {
        let base = frameBase
        var i = 0
        let n = bytes.count
        while i < n {
            if frame == nil {
                if headerBytes.isEmpty {
                    guard let h = WebSocketFrameHeader.parse(UnsafeRawBufferPointer(rebasing: bytes[i...])) else {
                        headerBytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i...]))
                        return
                    }
                    let (total, overflow) = UInt64(h.headerLength).addingReportingOverflow(h.length)
                    if !overflow && h.fin && !h.rsv1 && !h.rsv2 && !h.rsv3 && (h.opcode == .text || h.opcode == .binary)
                        && !messageActive && UInt64(n - i) >= total && h.length <= UInt64(limits.maxMessageBytes)
                        && h.masked == fromClient && !closeSeen
                    {
                        let start = i + h.headerLength
                        let payload = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + Int(h.length))])
                        messageEnd = base + UInt64(i) + total
                        emitWhole(h, payload, emit)
                        i += Int(total)
                        continue
                    }
                    i += h.headerLength
                    messageEnd = base + UInt64(i)
                    if !startFrame(h, emit) {
                        searchOrigin = base + UInt64(i)
                        search(UnsafeRawBufferPointer(rebasing: bytes[i...]), initial: false, emit)
                        return
                    }
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
                        messageEnd = base + UInt64(i)
                        if !startFrame(h, emit) {
                            searchOrigin = base + UInt64(i)
                            search(UnsafeRawBufferPointer(rebasing: bytes[i...]), initial: false, emit)
                            return
                        }
                    }
                }
                continue
            }
            let take = Int(min(remaining, UInt64(n - i)))
            if take > 0 { payload(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + take)]), emit) }
            i += take
            remaining -= UInt64(take)
            if remaining == 0 {
                messageEnd = base + UInt64(i)
                endFrame(emit)
            }
        }
    }

    /// An unfragmented, uncompressed data frame that lies whole in the input.
    func emitWhole(_ h: WebSocketFrameHeader, _ raw: UnsafeRawBufferPointer, _ emit: (WebSocketEvent) -> Void) {
        if h.masked {
            let p = unmasked.room(raw.count)
            unmask(raw, into: p, key: h.maskKey, offset: 0)
            emitDataMessage(h, UnsafeRawBufferPointer(start: p, count: raw.count), emit)
            unmasked.shrink()
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
                    validUTF8: valid, endPosition: messageEnd)))
    }

    /// Validates a frame header and prepares for its payload; false when the header makes the stream unusable.
    func startFrame(_ h: WebSocketFrameHeader, _ emit: (WebSocketEvent) -> Void) -> Bool {
        if h.length >> 63 != 0 {
            emit(.problem(.wsLostSync, "frame length with the most significant bit set; searching for the next frame"))
            resetFrame()
            resetMessage()
            mode = .searching(initial: false)
            resetSearch(origin: messageEnd)
            return false
        }
        frame = h
        remaining = h.length
        payloadOffset = 0
        skipPayload = false
        // RFC 6455 section 5.5.1 forbids data frames after a close. A second close is not flagged: the Socket.IO 4
        // Python client answers the server's close with one (Captures/eio3-polling-upgrade-sll.pcap).
        if closeSeen && !h.opcode.isControl && !warnedAfterClose {
            warnedAfterClose = true
            emit(
                .problem(
                    .wsFrameAfterClose,
                    "\(h.opcode.name) frame after this direction's close frame; decoded anyway (reported once per "
                        + "direction)"))
        }
        if h.opcode == .close { closeSeen = true }
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
                // Decoded anyway, as tshark does: a peer that breaks the rule still said what it said (its close
                // code and reason). The payload kept is bounded like a data message's.
                emit(
                    .problem(
                        .wsBadControlFrame,
                        "\(h.opcode.name) frame \(h.fin ? "" : "fragmented, ")of \(h.length) bytes"
                            + (h.length > 125 ? " (at most 125 allowed)" : "") + "; decoded anyway"))
            }
            controlBuffer.removeAll(keepingCapacity: true)
            controlMissing = 0
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
        if !skipPayload && data && !messageCompressed {
            // Room for the whole frame at once (within the limit), so that a large message is not copied again each
            // time its buffer grows; a power of two, as growing makes it, so that the heap does not fragment into
            // blocks of every size the frames happen to have (Docs/performance.md).
            let keep = min(
                UInt64(messageBuffer.count) &+ min(h.length, UInt64(Int32.max)), UInt64(limits.maxMessageBytes))
            if keep > UInt64(messageBuffer.capacity) {
                messageBuffer.reserveCapacity(
                    Int(min(1 << (64 - (keep - 1).leadingZeroBitCount), UInt64(limits.maxMessageBytes))))
            }
        }
        if remaining == 0 { endFrame(emit) }
        return true
    }

    func payload(_ raw: UnsafeRawBufferPointer, _ emit: (WebSocketEvent) -> Void) {
        defer { payloadOffset += UInt64(raw.count) }
        if skipPayload { return }
        let masked = frame!.masked
        if frame!.opcode.isControl {
            // At most 125 bytes, unless the frame breaks that rule (then bounded like a data message).
            let room = max(125, limits.maxMessageBytes) - controlBuffer.count
            if room > 0 {
                appendUnmasked(
                    UnsafeRawBufferPointer(rebasing: raw[0..<min(room, raw.count)]), to: &controlBuffer, masked: masked)
            }
            return
        }
        messageWire += UInt64(raw.count)
        if messageCompressed {
            if messageInflateFailed || messageInflateStopped { return }
            if masked {
                let p = unmasked.room(raw.count)
                unmask(raw, into: p, key: frame!.maskKey, offset: payloadOffset)
                inflate(UnsafeRawBufferPointer(start: p, count: raw.count), emit)
                unmasked.shrink()
            } else {
                inflate(raw, emit)
            }
        } else {
            messageLength += UInt64(raw.count)
            let room = limits.maxMessageBytes - messageBuffer.count
            if room > 0 {
                appendUnmasked(
                    UnsafeRawBufferPointer(rebasing: raw[0..<min(room, raw.count)]), to: &messageBuffer, masked: masked)
            }
        }
    }

    func inflate(_ bytes: UnsafeRawBufferPointer, _ emit: (WebSocketEvent) -> Void) {
        let result = inflater!.inflate(
            bytes, into: &messageBuffer, keepLimit: limits.maxMessageBytes, produced: &messageLength,
            workLimit: limits.maxInflateBytes)
        switch result {
        case .ok:
            if messageLength >= limits.maxInflateBytes && !messageInflateStopped {
                // Inflating stops here; the message is reported truncated at this length.
                messageInflateStopped = true
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
        // Only an oversized control frame (a violation already reported) can be cut at the size limit.
        let truncated = controlMissing == 0 && h.length > UInt64(controlBuffer.count)
        if truncated {
            emit(
                .problem(
                    .wsMessageTooLarge,
                    "\(h.opcode.name) frame of \(h.length) bytes; kept the first \(controlBuffer.count)"))
        }
        if h.opcode == .close && controlMissing > 0 {
            // Bytes of the payload were lost: the code and reason cannot be placed.
            controlBuffer.removeAll()
        } else if h.opcode == .close {
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
            var payload = UnsafeRawBufferPointer(rebasing: all[min(reasonStart, all.count)...])
            if truncated && h.opcode == .close { payload = Self.cutToCharacter(payload) }
            let valid = h.opcode == .close ? isValidUTF8(payload) : true
            if !valid { emit(.problem(.wsInvalidUTF8, "close reason is not valid UTF-8")) }
            emit(
                .message(
                    WebSocketMessage(
                        opcode: h.opcode, compressed: false, fragments: 1, length: h.length, payload: payload,
                        wireLength: h.length, truncated: truncated, missing: controlMissing, inflateFailed: false,
                        closeCode: code, validUTF8: valid, endPosition: messageEnd)))
        }
        if controlBuffer.capacity > Self.keptCapacity {
            controlBuffer = []
        } else {
            controlBuffer.removeAll(keepingCapacity: true)
        }
    }

    func finishMessage(_ emit: (WebSocketEvent) -> Void) {
        if messageCompressed && !messageInflateFailed && !messageInflateStopped {
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
        let truncated =
            (messageLength > UInt64(messageBuffer.count) || messageInflateStopped) && messageMissing == 0
            && !messageInflateFailed
        if truncated {
            emit(
                .problem(
                    .wsMessageTooLarge,
                    "\(messageOpcode.name) message of \(messageInflateStopped ? "at least " : "")\(messageLength) bytes"
                        + (messageCompressed
                            ? " inflated from \(messageWire) (ratio \(messageWire > 0 ? messageLength / messageWire : 0):1)"
                            : "") + "; kept the first \(messageBuffer.count)"
                        + (messageInflateStopped ? "; inflating stopped at the --ws-max-inflate limit" : "")))
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
                        validUTF8: valid, endPosition: messageEnd)))
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
        // Per-connection buffers go back to nothing after a large message, so memory follows the connections
        // open, not the largest message each one ever carried.
        if messageBuffer.capacity > Self.keptCapacity {
            messageBuffer = []
        } else {
            messageBuffer.removeAll(keepingCapacity: true)
        }
        messageLength = 0
        messageWire = 0
        messageMissing = 0
        messageInflateFailed = false
        messageInflateStopped = false
    }

    /// Capacity a per-connection buffer keeps between messages.
    static let keptCapacity = 16 << 10

    /// Unmasks `raw` into `dst` (which may be `raw` itself), the mask key rotated to `offset` bytes into the payload
    /// (in C, 16 or 32 bytes at a time, much cheaper than a word loop in Swift: Docs/performance.md).
    func unmask(_ raw: UnsafeRawBufferPointer, into dst: UnsafeMutableRawPointer, key: UInt32, offset: UInt64) {
        guard let src = raw.baseAddress else { return }
        // The key with its first byte lowest (it is read big-endian from the header), turned to `offset`.
        let inOrder = key.byteSwapped
        let turn = UInt32(offset & 3) * 8
        let pattern = turn == 0 ? inOrder : inOrder >> turn | inOrder << (32 - turn)
        imscope_unmask(dst, src, raw.count, pattern)
    }

    /// Appends the payload bytes `raw` of the frame in progress to `buffer`, unmasked there when `masked` (one
    /// copy into the buffer, then a pass over bytes still in cache, where unmasking into a buffer first and
    /// copying from it wrote them twice).
    func appendUnmasked(_ raw: UnsafeRawBufferPointer, to buffer: inout [UInt8], masked: Bool) {
        let start = buffer.count
        buffer.append(contentsOf: raw)
        guard masked, !raw.isEmpty else { return }
        buffer.withUnsafeMutableBytes { all in
            let landed = all.baseAddress! + start
            unmask(
                UnsafeRawBufferPointer(start: landed, count: raw.count), into: landed, key: frame!.maskKey,
                offset: payloadOffset)
        }
    }

    // MARK: - Finding frame boundaries

    /// A position from which the bytes seen might be a chain of frames: `next` is where its next header starts
    /// and `complete` how many whole frames it has so far. Positions count from the start of `searchBuffer`'s
    /// stream (`searchBase` is the position of `searchBuffer[0]`).
    struct Candidate {
        var start: Int
        var next: Int
        var complete: Int
        /// A whole frame on the chain showed content: text in valid UTF-8, or a close with a valid code.
        var strong = false
    }

    func search(_ bytes: UnsafeRawBufferPointer, initial: Bool, _ emit: (WebSocketEvent) -> Void) {
        searchBuffer.append(contentsOf: bytes)
        let found: Int? = searchBuffer.withUnsafeBytes { findBoundary($0, final: false) }
        guard let start = found else {
            if startKnown && candidates.isEmpty {
                // The chain from the first byte broke: not frames from the start. The bytes are kept and searched
                // from the next feed on as those of a stream picked up mid-way (the caller may give up first).
                startKnown = false
                startNotFrames = true
                scannedUpTo = searchBase
                return
            }
            trimSearch()
            return
        }
        accept(start, initial: initial, emit)
    }

    /// Takes the chain that starts at stream position `start` and decodes from there.
    func accept(_ start: Int, initial: Bool, _ emit: (WebSocketEvent) -> Void) {
        let offset = start - searchBase
        let skipped = searchSkipped + UInt64(offset)
        if initial && startKnown {
            emit(
                .problem(
                    .wsMidstream,
                    "\(fromClient ? "client" : "server") frames from the connection's first byte, without an HTTP "
                        + "upgrade"))
        } else if initial {
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
        let restPosition = searchOrigin + UInt64(start)
        resetSearch(origin: fedPosition)
        frameBase = restPosition
        rest.withUnsafeBytes { frames($0, emit) }
    }

    func resetSearch(origin: UInt64) {
        searchOrigin = origin
        searchBuffer = []
        searchBase = 0
        searchSkipped = 0
        candidates = []
        scannedUpTo = 0
    }

    /// The start of the first chain proved by the bytes seen, if any.
    ///
    /// Every position is a candidate until a header along its chain is implausible (right masking for the
    /// direction, a known opcode, no undefined reserved bits, control frames short and whole, the minimal length
    /// encoding, text in valid UTF-8). A candidate is proved when its chain covers every byte seen and holds two
    /// whole frames of which one shows content (text in valid UTF-8, a close with a valid code), or four whole
    /// frames; at the end of the stream (`final`), one whole frame that shows content and ends exactly at the end.
    /// At the first byte after a gap (or of the capture), one whole frame that shows content and ends exactly where
    /// the bytes seen end is enough: segment boundaries are evidence too. The proved candidate must be the first one
    /// still alive. From a known start (``startKnown``) the first byte is the only candidate.
    func findBoundary(_ buffer: UnsafeRawBufferPointer, final: Bool) -> Int? {
        let end = searchBase + buffer.count
        var alive: [Candidate] = []
        alive.reserveCapacity(candidates.count + 4)
        for var c in candidates where follow(&c, buffer) { alive.append(c) }
        while scannedUpTo < end {
            if startKnown && scannedUpTo > 0 {
                // From a known start only the chain from the first byte counts.
                scannedUpTo = end
                break
            }
            var c = Candidate(start: scannedUpTo, next: scannedUpTo, complete: 0)
            if follow(&c, buffer) { alive.append(c) }
            scannedUpTo += 1
        }
        candidates = alive
        guard let first = alive.first else { return nil }
        if first.complete >= 2 && first.strong || first.complete >= 4 { return first.start }
        // A chain that starts at the first byte after the gap (or of the capture) and whose whole frames, one at
        // least showing content, end exactly where the bytes seen end: the sender's writes line up with frames,
        // as they do in IM traffic, and waiting for a second message would put this one after the replies to it.
        if first.start == 0 && first.complete >= 1 && first.strong && first.next == end { return first.start }
        if final && first.complete >= 1 && first.strong && first.next == end { return first.start }
        return nil
    }

    /// Follows a candidate's chain over the bytes seen; false when it breaks.
    func follow(_ c: inout Candidate, _ buffer: UnsafeRawBufferPointer) -> Bool {
        let end = searchBase + buffer.count
        while c.next < end {
            let rest = UnsafeRawBufferPointer(rebasing: buffer[(c.next - searchBase)...])
            guard let h = WebSocketFrameHeader.parse(rest) else { return plausiblePrefix(rest) }
            guard plausible(h) else { return false }
            let frameEnd = c.next + h.headerLength + Int(h.length)
            if frameEnd > end { return true }
            if !c.strong {
                let payloadStart = c.next - searchBase + h.headerLength
                let payload = UnsafeRawBufferPointer(rebasing: buffer[payloadStart..<(payloadStart + Int(h.length))])
                switch showsContent(h, payload) {
                case .some(true): c.strong = true
                case .some(false): return false
                case .none: break
                }
            }
            c.next = frameEnd
            c.complete += 1
        }
        return true
    }

    /// Whether a whole frame's payload shows it is real (true), shows it is not (false: text that is not UTF-8, a
    /// close with a code no endpoint sends), or cannot tell (nil: binary, continuation, compressed, ping, pong).
    func showsContent(_ h: WebSocketFrameHeader, _ raw: UnsafeRawBufferPointer) -> Bool? {
        guard h.opcode == .text && h.fin && h.length > 0 || h.opcode == .close else { return nil }
        var bytes = Array(raw)
        if h.masked {
            for k in 0..<bytes.count { bytes[k] ^= UInt8(truncatingIfNeeded: h.maskKey >> (24 - 8 * (k & 3))) }
        }
        if h.rsv1 {
            // A compressed text: proof if it inflates on its own to valid UTF-8; no answer if it does not (it may
            // refer to a context the capture missed).
            bytes += [0x00, 0x00, 0xFF, 0xFF]
            var text: [UInt8] = []
            var produced: UInt64 = 0
            let result = bytes.withUnsafeBytes {
                Inflater().inflate($0, into: &text, keepLimit: 1 << 16, produced: &produced, workLimit: 1 << 16)
            }
            guard case .ok = result, !text.isEmpty else { return nil }
            return text.withUnsafeBytes { isValidUTF8($0, allowTruncatedEnd: produced > UInt64(text.count)) }
                ? true : nil
        }
        if h.opcode == .close {
            guard bytes.count >= 2 else { return bytes.isEmpty ? nil : false }
            let code = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
            let valid = (1000...1003).contains(code) || (1007...1014).contains(code) || (3000...4999).contains(code)
            return valid && bytes.withUnsafeBytes { isValidUTF8(UnsafeRawBufferPointer(rebasing: $0[2...])) }
        }
        return bytes.withUnsafeBytes { isValidUTF8($0) }
    }

    /// Whether the first bytes of a header cut by the end of the bytes seen could begin a frame.
    func plausiblePrefix(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let b0 = bytes.first else { return true }
        let opcode = WebSocketOpcode(rawValue: b0)
        guard opcode.isKnown, b0 & 0x30 == 0 else { return false }
        if opcode.isControl && (b0 & 0x80 == 0 || b0 & 0x40 != 0) { return false }
        guard bytes.count >= 2 else { return true }
        guard (bytes[1] & 0x80 != 0) == fromClient else { return false }
        return !opcode.isControl || bytes[1] & 0x7F <= 125
    }

    /// Keeps the search within its window: bytes before the first live candidate are dropped; past four windows
    /// the oldest bytes go even so (they are counted as skipped).
    func trimSearch() {
        let keepFrom = candidates.first?.start ?? max(searchBase, searchBase + searchBuffer.count - 14)
        var drop = keepFrom - searchBase
        if searchBuffer.count - drop > 4 * limits.resyncWindow {
            drop = searchBuffer.count - limits.resyncWindow
            let newBase = searchBase + drop
            candidates = candidates.filter { $0.start >= newBase }
        }
        guard drop > 0 else { return }
        searchBuffer.removeFirst(drop)
        searchBase += drop
        searchSkipped += UInt64(drop)
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
