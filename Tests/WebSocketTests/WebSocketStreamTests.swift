import ImscopeCore
import Testing
import WebSocket

/// RFC 6455 section 5.7 examples, fed whole and one byte at a time.
@Suite struct RFC6455Examples {
    static let cases: [(name: String, fromClient: Bool, bytes: [UInt8], expected: [String])] = [
        ("unmasked text", false, [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f], ["text Hello"]),
        ("masked text", true, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58], ["text Hello"]),
        ("fragmented", false, [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f], ["text Hello x2"]),
        ("ping", false, [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f], ["ping Hello"]),
        (
            "masked pong", true, [0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58],
            ["pong Hello"]
        ),
        ("256 bytes binary", false, [0x82, 0x7E, 0x01, 0x00] + [UInt8](repeating: 7, count: 256), ["binary 256"]),
        (
            "64 KiB binary", false, [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0] + [UInt8](repeating: 1, count: 65536),
            ["binary 65536"]
        ),
    ]

    @Test(arguments: cases.indices, [false, true])
    func example(index: Int, byteAtATime: Bool) {
        let c = Self.cases[index]
        let stream = WebSocketStream(fromClient: c.fromClient, deflate: .off, negotiated: true)
        var seen: [String] = []
        let emit: (WebSocketEvent) -> Void = { event in
            guard case .message(let m) = event else {
                if case .problem(let k, let why) = event { seen.append("\(k.code): \(why)") }
                return
            }
            let text = String(decoding: m.payload, as: UTF8.self)
            switch m.opcode {
            case .binary: seen.append("binary \(m.length)")
            default: seen.append("\(m.opcode.name) \(text)" + (m.fragments > 1 ? " x\(m.fragments)" : ""))
            }
        }
        c.bytes.withUnsafeBytes { all in
            if byteAtATime {
                for i in 0..<all.count { stream.feed(UnsafeRawBufferPointer(rebasing: all[i..<(i + 1)]), emit) }
            } else {
                stream.feed(all, emit)
            }
        }
        #expect(seen == c.expected, "\(c.name)")
    }

    /// RFC 6455 section 1.3: the handshake's example key and accept value.
    @Test func acceptKey() {
        #expect(WebSocketHandshake.accept(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    /// RFC 7692 section 7.2.3.1: "Hello" compressed, twice with context takeover (the second refers to the first).
    @Test(arguments: [false, true])
    func deflateContextTakeover(byteAtATime: Bool) {
        let stream = WebSocketStream(fromClient: false, deflate: DeflateParameters(enabled: true), negotiated: true)
        let first: [UInt8] = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        let second: [UInt8] = [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]
        var texts: [String] = []
        let emit: (WebSocketEvent) -> Void = { event in
            if case .message(let m) = event { texts.append(String(decoding: m.payload, as: UTF8.self)) }
            if case .problem(let k, let why) = event { texts.append("\(k.code): \(why)") }
        }
        (first + second).withUnsafeBytes { all in
            if byteAtATime {
                for i in 0..<all.count { stream.feed(UnsafeRawBufferPointer(rebasing: all[i..<(i + 1)]), emit) }
            } else {
                stream.feed(all, emit)
            }
        }
        #expect(texts == ["Hello", "Hello"])
    }

    /// Client streams of one thread share the buffer whole frames are unmasked into: interleaved, each stream's
    /// messages come out right — whole frames, frames split across feeds (gathered and unmasked where they land,
    /// the key turned by the offset), an empty one, and (fed whole) one that grows the buffer.
    @Test(arguments: [1, 3, 1000, 100_000])
    func sharedUnmaskBuffer(split: Int) {
        let shared = UnmaskBuffer()
        let streams = (0..<2).map { _ in
            WebSocketStream(fromClient: true, deflate: .off, negotiated: true, unmaskInto: shared)
        }
        let texts = [["Hello", "", String(repeating: "abcdefg", count: 2000)], ["World", "12345", "x"]]
        var seen: [[String]] = [[], []]
        for k in 0..<3 {
            for s in 0..<2 {
                let bytes = frame(Op.text, texts[s][k], mask: [key1, key2, key3][(k + s) % 3])
                bytes.withUnsafeBytes { all in
                    var i = 0
                    while i < all.count {
                        let end = min(all.count, i + split)
                        streams[s].feed(UnsafeRawBufferPointer(rebasing: all[i..<end])) { event in
                            if case .message(let m) = event {
                                seen[s].append(String(decoding: m.payload, as: UTF8.self))
                            }
                        }
                        i = end
                    }
                }
            }
        }
        #expect(seen == texts)
    }
}
