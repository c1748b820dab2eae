import CByteScan
import Capture
import Foundation
import IMProtocol
import ImscopeCore
import JSONScan
import Records
import Rendering
import SocketIO
import Testing

@Suite struct RendererTests {
    @Test(arguments: [
        ("plain", "\"plain\""),
        ("quote \" and \\ backslash", "\"quote \\\" and \\\\ backslash\""),
        ("line\nfeed\ttab\r", "\"line\\nfeed\\ttab\\r\""),
        ("\u{01}\u{1f}", "\"\\u0001\\u001f\""),
        ("中文 ✓", "\"中文 ✓\""),
        ("", "\"\""),
    ])
    func jsonStrings(input: String, expected: String) {
        let out = OutputBuffer(fd: -1)
        out.appendJSONString(input)
        #expect(String(decoding: out.bytes, as: UTF8.self) == expected)
    }

    /// A connection's rendered head is used again only while transport, version and sid stay the same: the records
    /// equal those rendered without one, as the three change in turn.
    @Test func renderedHeadFollowsTheSession() {
        let changes: [(Transport, Int, String?)] = [
            (.websocket, 4, "abc"), (.websocket, 4, "abc"), (.websocket, 3, "abc"), (.polling, 3, "abc"),
            (.polling, 3, nil), (.polling, 3, "x\"y"), (.polling, 3, "x\"y"), (.websocket, 4, "abc"),
            // Canonically equivalent, spelt differently: é precomposed, then as e and a combining accent.
            (.websocket, 4, "caf\u{E9}"), (.websocket, 4, "cafe\u{301}"),
        ]
        /// The records rendered by one renderer (keeping its heads), or each by a renderer of its own (none kept).
        func render(fresh: Bool) -> [UInt8] {
            let out = OutputBuffer(fd: -1)
            var renderer = JSONLRenderer(out: out)
            Array("2[\"chat\",{}]".utf8).withUnsafeBytes { raw in
                SocketIOSession().text(raw, fromClient: true, frame: 1, ts: Timestamp(nanoseconds: 0), validUTF8: true)
                {
                    event in
                    guard case .message(let message) = event else { return }
                    for (transport, version, sid) in changes {
                        if fresh { renderer = JSONLRenderer(out: out) }
                        renderer.emitSIO(
                            RecordPlace(ts: Timestamp(nanoseconds: 0), frame: 1, conn: 1, dir: .c2s), transport,
                            sid: sid, version: version, message: message, im: nil)
                    }
                }
            }
            return out.bytes
        }
        // Bytes, not Strings: `==` on Strings would take the two spellings of "café" as equal.
        let plain = render(fresh: true)
        #expect(render(fresh: false) == plain)
        #expect(String(decoding: plain, as: UTF8.self).contains("\"sid\":\"x\\\"y\""))
    }

    /// Integers as decimal text, at the edges of the one-digit path and of 64 bits (a messageType can be any of them).
    @Test func integers() {
        let values: [Int64] = [
            .min, .min + 1, -100, -10, -9, -1, 0, 1, 9, 10, 99, 100, 12_345, 1_790_000_000_373, .max,
        ]
        for value in values {
            let out = OutputBuffer(fd: -1, threshold: 4)
            out.append(byte: UInt8(ascii: "x"))
            out.append(int: value)
            #expect(String(decoding: out.bytes, as: UTF8.self) == "x\(value)")
        }
    }

    /// Strings with nothing to escape are written in one piece: every length, into a buffer that must grow.
    @Test func jsonStringsWithoutEscapes() {
        for length in 0..<80 {
            let text = String(repeating: "é", count: length / 2) + String(repeating: "a", count: length - length / 2)
            let out = OutputBuffer(fd: -1, threshold: 4)
            out.append(byte: UInt8(ascii: "x"))
            out.appendJSONString(text)
            #expect(String(decoding: out.bytes, as: UTF8.self) == "x\"" + text + "\"")
        }
    }

    /// Every byte that needs escaping, at every position of the scan (the first word tested in Swift, then 32- or
    /// 16-byte blocks and the tail in C), next to bytes that must pass (high bytes, where a signed compare would see
    /// a control character; and two specials side by side, where the word test's borrow could flag the wrong one),
    /// against a byte-by-byte escaper.
    @Test(arguments: [UInt8(0x22), 0x5C, 0x00, 0x01, 0x0A, 0x1F])
    func jsonStringEscapesAtEveryPosition(special: UInt8) {
        func reference(_ bytes: [UInt8]) -> [UInt8] {
            var s: [UInt8] = [0x22]
            for b in bytes {
                switch b {
                case 0x22: s += Array("\\\"".utf8)
                case 0x5C: s += Array("\\\\".utf8)
                case 0x0A: s += Array("\\n".utf8)
                case 0x0D: s += Array("\\r".utf8)
                case 0x09: s += Array("\\t".utf8)
                case 0..<0x20: s += Array(("\\u00" + (b < 16 ? "0" : "") + String(b, radix: 16)).utf8)
                default: s.append(b)
                }
            }
            return s + [0x22]
        }
        for length in [1, 7, 8, 9, 15, 16, 17, 24, 39, 40, 41, 47, 48, 56, 71, 72, 73, 100] {
            for position in 0..<length {
                for neighbour: UInt8 in [0x61, 0x00, 0x22, 0x21, 0x23, 0x5B, 0x5D, 0x20, 0x7F, 0x80, 0x9F, 0xFF] {
                    var bytes = [UInt8](repeating: 0x61, count: length)
                    for i in stride(from: 1, to: length, by: 5) { bytes[i] = 0xE4 }
                    bytes[position] = special
                    if position + 1 < length { bytes[position + 1] = neighbour }
                    let out = OutputBuffer(fd: -1, threshold: 4)
                    bytes.withUnsafeBytes { out.appendJSONString(utf8: $0) }
                    #expect(out.bytes == reference(bytes), "\(bytes)")
                }
            }
        }
    }

    /// The copy whose line-break check decides whether copied JSON must be compacted, at every position and block
    /// length.
    @Test func lineBreakAtEveryPosition() {
        for length in [0, 1, 15, 16, 17, 31, 32, 33, 64, 65, 100] {
            let clean = [UInt8](repeating: 0x8A, count: length)
            for position in 0..<length {
                for b: UInt8 in [0x0A, 0x0D] {
                    var bytes = clean
                    bytes[position] = b
                    #expect(copied(bytes) == (bytes, true), "\(length) \(position)")
                }
            }
            #expect(copied(clean) == (clean, false), "\(length)")
        }
    }

    /// `copyReportingLineBreak` into a buffer with guard bytes around it: what it copied (nothing outside the
    /// room given), and what it reported.
    func copied(_ bytes: [UInt8]) -> ([UInt8], Bool) {
        var room = [UInt8](repeating: 0xEE, count: bytes.count + 64)
        let found = room.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { copyReportingLineBreak($0, to: dst.baseAddress! + 32) }
        }
        #expect(room[..<32].allSatisfy { $0 == 0xEE } && room[(32 + bytes.count)...].allSatisfy { $0 == 0xEE })
        return (Array(room[32..<(32 + bytes.count)]), found)
    }

    /// Every instruction-set variant of the C scans this CPU runs (AVX2, SSE2) gives what the byte loop gives (the
    /// copy: the bytes, and whether one is a line feed or a carriage return), for every byte value at every
    /// position of blocks and tails, for lengths around the word (8) and vector
    /// (16, 32) sizes where the last load overlaps the one before (the run-time choice tests only the best one).
    @Test func byteScanVariantsAgree() {
        let top = Int(imscope_bytescan_level())
        for length in [1, 2, 7, 8, 9, 15, 16, 17, 23, 31, 32, 33, 47, 64, 70] {
            for position in 0..<length {
                for value in 0...255 {
                    var bytes = [UInt8](repeating: 0x61, count: length)
                    bytes[position] = UInt8(value)
                    bytes.withUnsafeBytes { raw in
                        let special = imscope_find_json_string_special_level(raw.baseAddress, length, 0)
                        let lineBreak = value == 0x0A || value == 0x0D
                        for level in 0...max(1, top) where level <= top {
                            #expect(
                                imscope_find_json_string_special_level(raw.baseAddress, length, Int32(level)) == special
                            )
                            var copy = [UInt8](repeating: 0, count: length)
                            let found = copy.withUnsafeMutableBytes {
                                imscope_copy_line_break_level($0.baseAddress, raw.baseAddress, length, Int32(level))
                            }
                            #expect((found != 0) == lineBreak && copy == bytes)
                        }
                    }
                    #expect(
                        bytes.withUnsafeBytes { imscope_find_json_string_special_level($0.baseAddress, length, 0) }
                            == ((value == 0x22 || value == 0x5C || value < 0x20) ? position : length))
                }
            }
        }
    }

    /// WebSocket unmasking: every variant XORs byte `i` with byte `i % 4` of the pattern (RFC 6455 section 5.3),
    /// for lengths around the word and vector sizes, from unaligned starts, into another buffer and in place.
    @Test func unmaskVariantsAgree() {
        let top = Int(imscope_bytescan_level())
        let pattern: UInt32 = 0xA1B2_C3D4
        let keyBytes: [UInt8] = [0xD4, 0xC3, 0xB2, 0xA1]  // its bytes, lowest first
        for length in [0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100] {
            for start in 0..<3 {
                let source = (0..<(length + start)).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
                let expected = (0..<length).map { source[start + $0] ^ keyBytes[$0 % 4] }
                for level in 0...max(1, top) where level <= max(1, top) {
                    var out = [UInt8](repeating: 0, count: length + 1)
                    source.withUnsafeBytes { src in
                        out.withUnsafeMutableBytes {
                            imscope_unmask_level(
                                $0.baseAddress, src.baseAddress! + start, length, pattern, Int32(level))
                        }
                    }
                    #expect(Array(out[0..<length]) == expected, "level \(level), length \(length), start \(start)")
                    #expect(out[length] == 0, "level \(level) wrote past the end")
                    var inPlace = source
                    inPlace.withUnsafeMutableBytes {
                        imscope_unmask_level(
                            $0.baseAddress! + start, $0.baseAddress! + start, length, pattern, Int32(level))
                    }
                    #expect(Array(inPlace[start...]) == expected, "level \(level) in place, length \(length)")
                }
            }
        }
    }

    @Test func base64AndGrowth() {
        let out = OutputBuffer(fd: -1, threshold: 4)
        for input in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
            Array(input.utf8).withUnsafeBytes { out.appendBase64($0) }
            out.append(byte: UInt8(ascii: " "))
        }
        #expect(String(decoding: out.bytes, as: UTF8.self) == " Zg== Zm8= Zm9v Zm9vYg== Zm9vYmE= Zm9vYmFy ")
    }

    @Test(arguments: [
        (Timestamp(nanoseconds: 1_700_000_000_123_456_000, precision: 6), "1700000000.123456"),
        (Timestamp(nanoseconds: 1_700_000_000_000_000_001, precision: 9), "1700000000.000000001"),
        (Timestamp(nanoseconds: 5_000, precision: 6), "0.000005"),
        (Timestamp(nanoseconds: 1_790_000_000_999_999_999, precision: 9), "1790000000.999999999"),
        (Timestamp(nanoseconds: 1_790_000_000_999_999_999, precision: 6), "1790000000.999999"),
        (Timestamp(nanoseconds: 1_790_000_000_100_000_000, precision: 9), "1790000000.100000000"),
        (Timestamp(nanoseconds: 1_790_000_000_010_203_000, precision: 6), "1790000000.010203"),
        (Timestamp(nanoseconds: -1_500_000_000, precision: 6), "-1.500000"),
    ])
    func timestamps(ts: Timestamp, expected: String) {
        let out = OutputBuffer(fd: -1)
        out.appendTimestamp(ts)
        #expect(String(decoding: out.bytes, as: UTF8.self) == expected)
    }

    /// How the JSONL record shows the packets the reference parsers disagree on: an event named by a number is
    /// that number as text; an event without a name shows its payload whole, as `data`; a reserved name is shown as
    /// any other; a placeholder naming no attachment stays as sent.
    @Test(arguments: [
        (#"2[1,"a",{}]"#, [] as [String], #""sio":{"type":"EVENT","nsp":"/","event":"1","args":["a",{}]}"#),
        (#"2[-2.5]"#, [], #""sio":{"type":"EVENT","nsp":"/","event":"-2.5","args":[]}"#),
        (#"2[true,"foo"]"#, [], #""sio":{"type":"EVENT","nsp":"/","data":[true,"foo"]}"#),
        (#"2/admin,{}"#, [], #""sio":{"type":"EVENT","nsp":"/admin","data":{}}"#),
        (#"2["connect"]"#, [], #""sio":{"type":"EVENT","nsp":"/","event":"connect","args":[]}"#),
        (#"0/admin,"invalid""#, [], #""sio":{"type":"CONNECT","nsp":"/admin","data":"invalid"}"#),
        (
            #"51-["hello",{"_placeholder":true,"num":"splice"}]"#, ["world"],
            #""sio":{"type":"BINARY_EVENT","nsp":"/","event":"hello","args":[{"_placeholder":true,"num":"splice"}],"#
                + #""attachments":1}"#
        ),
        (
            #"51-["a",{"_placeholder":true,"num":0,"x":1}]"#, ["world"],
            #""sio":{"type":"BINARY_EVENT","nsp":"/","event":"a","args":[{"_binary":"d29ybGQ="}],"attachments":1}"#
        ),
    ])
    func disputedPackets(packet: String, attachments: [String], expected: String) {
        let out = OutputBuffer(fd: -1)
        let renderer = JSONLRenderer(out: out)
        let session = SocketIOSession()
        let place = RecordPlace(ts: Timestamp(nanoseconds: 0), frame: 1, conn: 1, dir: .c2s)
        let emit: (SocketIOEvent) -> Void = { event in
            guard case .message(let message) = event else { return }
            renderer.emitSIO(place, .websocket, sid: nil, version: 4, message: message, im: nil)
        }
        Array(packet.utf8).withUnsafeBytes { session.text($0, fromClient: true, frame: 1, ts: place.ts, emit) }
        for a in attachments {
            Array(a.utf8).withUnsafeBytes { session.binary($0, fromClient: true, frame: 1, ts: place.ts, emit) }
        }
        let record = String(decoding: out.bytes, as: UTF8.self)
        #expect(record.contains(expected), "\(record)")
    }

    /// Milliseconds rounded to the microsecond, half away from zero (they were cut before: 1.2345678 ms was
    /// 1.234), with no sign on a latency that rounds to zero.
    @Test(arguments: [
        (Int64(1_234_567), "1.235"), (1_234_499, "1.234"), (1_234_500, "1.235"), (1_234_000, "1.234"),
        (999_999_600, "1000.000"), (0, "0.000"), (499, "0.000"), (500, "0.001"), (-1_234_500, "-1.235"),
        (-499, "0.000"), (-1_234_499, "-1.234"), (Int64.min, "-9223372036854.776"),
    ])
    func milliseconds(ns: Int64, expected: String) {
        let out = OutputBuffer(fd: -1)
        out.appendMilliseconds(nanoseconds: ns)
        #expect(String(decoding: out.bytes, as: UTF8.self) == expected)
    }

    /// An ACK's `latencyMs` is its time after the request's, rounded to the microsecond, in both renderers.
    @Test(arguments: [
        (Int64(1_517_499), "1.517"), (1_517_500, "1.518"), (1_517_999, "1.518"), (-2_000_600, "-2.001"),
    ])
    func ackLatencyIsRounded(delta: Int64, expected: String) throws {
        let request = Timestamp(nanoseconds: 1_790_000_000_000_000_000)
        let answer = Timestamp(nanoseconds: request.nanoseconds + delta)
        let jsonl = OutputBuffer(fd: -1)
        let text = OutputBuffer(fd: -1)
        let session = SocketIOSession()
        for (side, packet, ts) in [(true, #"21["a"]"#, request), (false, #"31[]"#, answer)] {
            Array(packet.utf8).withUnsafeBytes { raw in
                session.text(raw, fromClient: side, frame: side ? 1 : 2, ts: ts, validUTF8: true) { event in
                    guard case .message(let message) = event, message.answers != nil else { return }
                    let place = RecordPlace(ts: ts, frame: 2, conn: 1, dir: .s2c)
                    JSONLRenderer(out: jsonl).emitSIO(
                        place, .websocket, sid: nil, version: 4, message: message, im: nil)
                    TextRenderer(out: text, color: false).emitSIO(
                        place, .websocket, sid: nil, version: 4, message: message, im: nil)
                }
            }
        }
        let record = String(decoding: jsonl.bytes, as: UTF8.self)
        #expect(record.contains("\"ack\":{\"frame\":1,\"latencyMs\":\(expected)}"), "\(record)")
        #expect(String(decoding: text.bytes, as: UTF8.self).contains("(\(expected) ms after frame 1)"))
    }

    /// The text timeline's time column is 13 wide, and wider when the time needs it (a nanosecond capture longer
    /// than 1 000 s, a packet dated long before the first): it used to trap there.
    @Test(arguments: [
        (Int64(0), UInt8(6), "     0.000000"), (1_500_000_000_000, 9, "1500.000000000"),
        (184_280_746_024_785_000, 6, "184280746.024785"), (-3_000_000_000, 6, "    -3.000000"),
        (Int64.min / 2, 9, "-4611686018.427387904"),
    ])
    func timeColumn(relative: Int64, precision: UInt8, expected: String) {
        let out = OutputBuffer(fd: -1)
        let renderer = TextRenderer(out: out, color: false)
        let origin = Timestamp(nanoseconds: 1_000_000_000_000_000_000, precision: precision)
        renderer.begin(origin: origin)
        let diagnostic = Diagnostic(
            .captureReadError, "x", ts: Timestamp(nanoseconds: origin.nanoseconds &+ relative, precision: precision),
            frame: 2)
        renderer.emit(Record(diagnostic))
        #expect(String(decoding: out.bytes, as: UTF8.self).hasPrefix(expected + "  "))
    }

    @Test(arguments: [(UInt64(0), 1, "0"), (42, 5, "00042"), (UInt64.max, 1, "18446744073709551615")])
    func digits(value: UInt64, width: Int, expected: String) {
        let out = OutputBuffer(fd: -1)
        out.appendDigits(value, minWidth: width)
        #expect(String(decoding: out.bytes, as: UTF8.self) == expected)
    }

    /// The digit count is worked out from the bit length: every power of ten and of two and their neighbours,
    /// at several widths.
    @Test func digitsAtPowersOfTen() {
        var values: [UInt64] = [0, UInt64.max]
        for k in 0..<64 { values += [1 << k, (1 << k) - 1] }
        var p: UInt64 = 1
        for _ in 0..<20 {
            values += [p - 1, p, p + 1]
            let (next, overflow) = p.multipliedReportingOverflow(by: 10)
            if overflow { break }
            p = next
        }
        for v in values {
            for width in [0, 1, 2, 3, 10, 21, 25] {
                let out = OutputBuffer(fd: -1)
                out.appendDigits(v, minWidth: width)
                let plain = String(v)
                let expected = String(repeating: "0", count: max(0, width - plain.count)) + plain
                #expect(String(decoding: out.bytes, as: UTF8.self) == expected, "\(v) width \(width)")
            }
        }
    }

    /// JSON sent pretty-printed is copied without the whitespace between its tokens, so the record stays one line;
    /// the same JSON sent compact is copied as it is. Line breaks at the start, the middle and the end of blocks of
    /// 32 bytes, where the copy checks them.
    @Test(arguments: [
        "2[\"chat\",{\n  \"a\": [1,\r\n 2],\n  \"s\": \"x  y\"\n}]",
        "2[\"chat\",{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":\n[1,2],\"s\":\"x  y\"}]",
        "2[\"chat\",{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":[1,2],\"s\":\"x  y\"\r}]",
    ])
    func prettyPrintedJSONStaysOnOneLine(text: String) {
        // By scalar: "\r\n" is one Character.
        let kept = text.unicodeScalars.filter { $0 != "\n" && $0 != "\r" && $0 != " " }
        let compact = String(String.UnicodeScalarView(kept)).replacingOccurrences(of: "xy", with: "x  y")
        for (sent, expected) in [(text, compact), (compact, compact)] {
            let out = OutputBuffer(fd: -1)
            let renderer = JSONLRenderer(out: out)
            Array(sent.utf8).withUnsafeBytes { raw in
                SocketIOSession().text(raw, fromClient: true, frame: 1, ts: Timestamp(nanoseconds: 0), validUTF8: true)
                { event in
                    guard case .message(let message) = event else { return }
                    renderer.emitSIO(
                        RecordPlace(ts: Timestamp(nanoseconds: 0), frame: 1, conn: 1, dir: .c2s), .websocket, sid: nil,
                        version: 4, message: message, im: nil)
                }
            }
            let line = String(decoding: out.bytes, as: UTF8.self)
            let args = String(compact.dropFirst("2[\"chat\",".count).dropLast())
            #expect(line.contains("\"args\":[\(args)]"), "\(line)")
            #expect(
                line.unicodeScalars.filter { $0 == "\n" || $0 == "\r" }.count == 1 && line.hasSuffix("\n"), "\(line)")
        }
    }

    /// The `im` object of a `sio` record, whichever field comes first (a text field written with its key in one
    /// piece must not keep the comma when it is the first), with text fields as sent, escaped or numbers.
    @Test(arguments: [
        (
            #"{"messageType":2,"msgId":"m1","fromId":"u1","content":"hi"}"#,
            ["messageType", "typeName", "msgId", "fromId"]
        ),
        (#"{"msgId":"m1","fromId":"u1","destId":"u2"}"#, ["msgId", "fromId", "destId"]),
        (#"{"msgId":"m\"1","fromId":17,"destId":"ué2"}"#, ["msgId", "fromId", "destId"]),
        (#"{"fromId":"u1","fromType":1}"#, ["fromId", "fromType", "fromTypeName"]),
        (#"{"content":{"a":1}}"#, ["warnings"]),
        (#"{"messageType":-9223372036854775808,"fromType":-1}"#, ["messageType", "fromType"]),
    ])
    func imObjectStartsWithAnyField(argument: String, keys: [String]) throws {
        let decoder = IMDecoder(
            table: try MessageTypeTable.builtin("v2"), others: [try MessageTypeTable.builtin("v1")])
        let out = OutputBuffer(fd: -1)
        let renderer = JSONLRenderer(out: out)
        let text = "2[\"chat\"," + argument + "]"
        Array(text.utf8).withUnsafeBytes { raw in
            SocketIOSession().text(raw, fromClient: true, frame: 1, ts: Timestamp(nanoseconds: 0), validUTF8: true) {
                event in
                guard case .message(let message) = event, let elements = message.packet.elements else { return }
                let im = decoder.decode(
                    UnsafeRawBufferPointer(rebasing: raw[elements[1]]), upstream: true,
                    members: message.packet.argumentMembers)
                renderer.emitSIO(
                    RecordPlace(ts: Timestamp(nanoseconds: 0), frame: 1, conn: 1, dir: .c2s), .websocket, sid: nil,
                    version: 4, message: message, im: im)
            }
        }
        let record = try JSONSerialization.jsonObject(with: Data(out.bytes)) as? [String: Any]
        let im = try #require(record?["im"] as? [String: Any], "\(String(decoding: out.bytes, as: UTF8.self))")
        for key in keys { #expect(im[key] != nil, "\(key) in \(im)") }
        let sent = try JSONSerialization.jsonObject(with: Data(argument.utf8)) as? [String: Any] ?? [:]
        for key in ["msgId", "fromId", "destId"] where sent[key] != nil {
            #expect("\(im[key]!)" == "\(sent[key]!)", "\(key)")
        }
    }

    @Test func jsonArrayFormat() {
        let out = OutputBuffer(fd: -1)
        let renderer = JSONLRenderer(out: out, array: true)
        renderer.emit(Record(Diagnostic(.tcpMalformed, "x")))
        renderer.emit(Record(Diagnostic(.tcpMalformed, "y")))
        renderer.finish()
        let text = String(decoding: out.bytes, as: UTF8.self)
        #expect(text.hasPrefix("[\n{"))
        #expect(text.hasSuffix("}\n]\n"))
        #expect(text.components(separatedBy: "},\n{").count == 2)
    }
}
