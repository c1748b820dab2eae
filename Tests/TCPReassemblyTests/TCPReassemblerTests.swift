import Capture
import ImscopeCore
import Testing

@testable import TCPReassembly

// Each case is a script of segments (by stream offset; see `Pkt`) and the streams, gaps, closes and diagnostics it
// must produce. Every case runs twice: as written, and with every data segment split into 1-byte segments; both
// must give the same streams and gaps. `verify` also checks, for every direction of every connection, that the
// bytes delivered plus the bytes missing are exactly how far the stream advanced, and that the counters agree with
// what the sink received.

let T0 = Tuple.v4()
let T1 = Tuple.v4(clientPort: 40001, isnC: 2000, isnS: 6000)
let T2 = Tuple.v4(clientPort: 40002, isnC: 3000, isnS: 7000)

func hs(t: Int = 0, ms: Int64? = nil, label: String? = nil) -> [Step] { Step.handshake(t: t, ms: ms, label: label) }

// MARK: - Order

let orderCases: [Case] = [
    Case(
        name: "in order, with handshake",
        steps: hs() + [
            .c(0, "GET /socket.io/"),
            .s(0, "HTTP/1.1 101", ack: 15),
            .c(15, "ping", ack: 12),
            .s(12, "pong", ack: 19),
            .finishAll,
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("GET /socket.io/ping")], .s2c(1): [.text("HTTP/1.1 101pong")]],
            closes: [1: .endOfCapture], clients: [1: "10.0.0.1:40000"], handshake: [1: true])),
    Case(
        name: "in order over IPv6",
        tuples: [
            Tuple(
                client: Endpoint(address: IPAddress(hi: 0x2001_0db8_0000_0000, lo: 1), port: 40000),
                server: Endpoint(address: IPAddress(hi: 0x2001_0db8_0000_0000, lo: 2), port: 9092), isnC: 1, isnS: 2)
        ],
        steps: hs() + [.c(0, "hello"), .s(0, "world", ack: 5), .finishAll],
        expect: Expect(
            streams: [.c2s(1): [.text("hello")], .s2c(1): [.text("world")]], closes: [1: .endOfCapture],
            clients: [1: "[2001:db8::1]:40000"])),
    Case(
        name: "mid-stream pickup: first packet from the server, roles from port 9092",
        // The client's port (1234) is lower than the server's: the port rule must win over the lower-port rule.
        tuples: [.v4(client: 0x0A00_0003, clientPort: 1234)],
        steps: [
            .s(0, "late reply", ack: 0),
            .c(0, "next request", ack: 10),
            .s(10, "!", ack: 12),
            .finishAll,
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("next request")], .s2c(1): [.text("late reply!")]], closes: [1: .endOfCapture],
            diagnostics: ["tcp.midstream": 1], clients: [1: "10.0.0.3:1234"], handshake: [1: false])),
    Case(
        name: "mid-stream: a segment that starts before the first one seen, within the reorder window, moves the start",
        steps: [.c(5, "world", label: "first"), .c(0, "helloworld!", label: "earlier"), .finishAll],
        expect: Expect(
            streams: [.c2s(1): [.text("helloworld!")]], closes: [1: .endOfCapture], diagnostics: ["tcp.midstream": 1],
            retransmitted: [.c2s(1): 5], dataAt: [.c2s(1): ["earlier", "earlier", "earlier"]])),
    Case(
        name: "mid-stream: after the reorder window the start is settled; an earlier segment delivers only what is new",
        steps: [.c(5, "world", label: "first")] + (0..<8).map { _ in .s(0, ack: 5) }
            + [.s(0, ack: 5, label: "8th"), .c(0, "helloworld!", label: "earlier"), .finishAll],
        expect: Expect(
            streams: [.c2s(1): [.text("world!")]], closes: [1: .endOfCapture], diagnostics: ["tcp.midstream": 1],
            retransmitted: [.c2s(1): 10], dataAt: [.c2s(1): ["first", "earlier"]])),
    Case(
        name: "mid-stream: a FIN seen before the last data segment of its direction",
        steps: [.s(0, "hello", ack: 0), .c(3, ack: 5, .fin), .c(0, "abc", ack: 5), .s(5, ack: 4, .fin), .c(4, ack: 6)]
            + (0..<4).map { _ in .c(4, ack: 6) } + [.c(4, ack: 6, label: "window")],
        expect: Expect(
            streams: [.c2s(1): [.text("abc")], .s2c(1): [.text("hello")]], closes: [1: .fin],
            diagnostics: ["tcp.midstream": 1], closeAt: [1: "window"])),
    Case(
        name: "mid-stream: the answer captured before its request: the client's bytes go out first, each at its packet",
        steps: [
            .s(0, "HTTP/1.1 101", ack: 3, label: "answer"), .c(0, "GET", ack: 0, label: "request"), .finishAll,
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("GET")], .s2c(1): [.text("HTTP/1.1 101")]], closes: [1: .endOfCapture],
            diagnostics: ["tcp.midstream": 1], dataAt: [.c2s(1): ["request"], .s2c(1): ["answer"]])),
    Case(
        name: "SYN not captured, SYN-ACK seen: its sender is the server",
        steps: [.s(-1, ack: 0, .syn), .c(0, ack: 0), .c(0, "hi"), .s(0, "ho", ack: 2), .finishAll],
        expect: Expect(
            streams: [.c2s(1): [.text("hi")], .s2c(1): [.text("ho")]], closes: [1: .endOfCapture],
            clients: [1: "10.0.0.1:40000"], handshake: [1: true])),
    Case(
        name: "SYN-ACK captured before its SYN: one connection, with its handshake",
        steps: [
            .s(-1, ack: 0, .syn, label: "SYN-ACK"), .c(-1, ack: nil, .syn), .c(0, ack: 0), .c(0, "hi"),
            .s(0, "ho", ack: 2), .tracked(1), .finishAll,
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("hi")], .s2c(1): [.text("ho")]], closes: [1: .endOfCapture],
            clients: [1: "10.0.0.1:40000"], handshake: [1: true])),
    Case(
        name: "SYN-ACK captured before its SYN, the client's data before the SYN too",
        steps: [
            .s(-1, ack: 0, .syn), .c(0, "hi", ack: 0), .c(-1, ack: nil, .syn), .s(0, "ho", ack: 2), .finishAll,
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("hi")], .s2c(1): [.text("ho")]], closes: [1: .endOfCapture],
            clients: [1: "10.0.0.1:40000"], handshake: [1: true])),
    Case(
        name: "a SYN after a SYN-ACK that acknowledged another sequence number opens a new connection",
        steps: [.s(-1, ack: 5, .syn)] + hs() + [.c(0, "hi"), .finishAll],
        expect: Expect(
            streams: [.c2s(2): [.text("hi")]], closes: [1: .timeout, 2: .endOfCapture], handshake: [2: true])),
    Case(
        name: "data on the SYN (TCP Fast Open)",
        steps: [.c(-1, "GET", ack: nil, .syn), .s(-1, ack: 3, .syn), .c(3, " /", ack: 0), .finishAll],
        expect: Expect(streams: [.c2s(1): [.text("GET /")]], closes: [1: .endOfCapture])),
    Case(
        name: "mid-stream pickup on no server port (--any-port): the lower port is the server",
        tuples: [.v4(clientPort: 6000, serverPort: 5000)],
        anyPort: true,
        steps: [.s(0, "from 5000"), .c(0, "from 6000", ack: 9), .finishAll],
        expect: Expect(
            streams: [.c2s(1): [.text("from 6000")], .s2c(1): [.text("from 5000")]], closes: [1: .endOfCapture],
            diagnostics: ["tcp.midstream": 1], clients: [1: "10.0.0.1:6000"])),
    Case(
        name: "a connection on no server port is ignored",
        tuples: [.v4(clientPort: 6000, serverPort: 5000)],
        steps: hs() + [.c(0, "not ours"), .finishAll],
        expect: Expect()),
    Case(
        name: "a lone RST opens nothing",
        steps: [.s(0, ack: 0, .rst), .tracked(0), .finishAll],
        expect: Expect()),
    Case(
        name: "reorder: the later segment first, then the hole fills",
        steps: hs() + [.c(5, "world"), .buffered(5), .c(0, "hello"), .buffered(0), .s(0, ack: 10), .finishAll],
        expect: Expect(streams: [.c2s(1): [.text("helloworld")]], closes: [1: .endOfCapture])),
    Case(
        name: "reorder: three segments in reverse order",
        steps: hs() + [.c(10, "!!!"), .c(5, "world"), .c(0, "hello"), .s(0, ack: 13), .finishAll],
        expect: Expect(streams: [.c2s(1): [.text("helloworld!!!")]], closes: [1: .endOfCapture])),
    Case(
        name: "sequence numbers wrap around 2^32, with a reorder across the wrap",
        // Client data starts at 0xFFFFFFF1 and its 32 bytes end at 0x11; the server's starts at 0xFFFFFFFF.
        tuples: [.v4(isnC: 0xFFFF_FFF0, isnS: 0xFFFF_FFFE)],
        steps: hs() + [
            .c(0, "0123456789abcdefghijklmnopqrstuv"),
            .s(0, "wrap!", ack: 32),
            .c(36, "BBBB", ack: 5),
            .c(32, "AAAA", ack: 5),
            .s(5, ack: 40),
            .finishAll,
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("0123456789abcdefghijklmnopqrstuvAAAABBBB")], .s2c(1): [.text("wrap!")]],
            closes: [1: .endOfCapture])),
    Case(
        name: "a segment more than 1 GiB away is ignored",
        steps: hs() + [.c(0, "hello"), .c(0x6000_0000, "far"), .c(5, "world"), .finishAll],
        expect: Expect(
            streams: [.c2s(1): [.text("helloworld")]], closes: [1: .endOfCapture],
            diagnostics: ["tcp.out_of_window": 1])),
]

// MARK: - Overlaps and retransmissions

let overlapCases: [Case] = [
    Case(
        name: "overlap: new segment covers the tail of a held one, same bytes",
        steps: hs() + [.c(0, "hello"), .c(10, "KLMNOPQRST"), .c(15, "PQRSTUVWXY"), .c(5, "abcde"), .finishAll],
        expect: Expect(
            streams: [.c2s(1): [.text("helloabcdeKLMNOPQRSTUVWXY")]], closes: [1: .endOfCapture],
            retransmitted: [.c2s(1): 5])),
    Case(
        name: "overlap: new segment covers the tail of a held one, different bytes (first arrival wins, warned once)",
        steps: hs() + [
            .c(0, "hello"), .c(10, "KLMNOPQRST"), .c(15, "pqrstUVWXY"), .c(12, "mn"), .c(5, "abcde"), .finishAll,
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("helloabcdeKLMNOPQRSTUVWXY")]], closes: [1: .endOfCapture],
            diagnostics: ["tcp.overlap_conflict": 1], retransmitted: [.c2s(1): 7])),
    Case(
        name: "overlap: new segment covers the head of a held one, same bytes",
        steps: hs() + [.c(0, "hel"), .c(10, "KLMNOPQRST"), .c(5, "abcdeKLMNO"), .c(3, "lo"), .finishAll],
        expect: Expect(
            streams: [.c2s(1): [.text("helloabcdeKLMNOPQRST")]], closes: [1: .endOfCapture],
            retransmitted: [.c2s(1): 5])),
    Case(
        name: "overlap: new segment covers the head of a held one, different bytes (first arrival wins)",
        steps: hs() + [.c(0, "hel"), .c(10, "KLMNOPQRST"), .c(5, "abcdeklmno"), .c(3, "lo"), .finishAll],
        expect: Expect(
            streams: [.c2s(1): [.text("helloabcdeKLMNOPQRST")]], closes: [1: .endOfCapture],
            diagnostics: ["tcp.overlap_conflict": 1], retransmitted: [.c2s(1): 5])),
    Case(
        name: "overlap: new segment covers a held one on both sides",
        steps: hs() + [.c(0, "he"), .c(10, "KLM"), .c(5, "abcdeKLMNOPQ"), .c(2, "llo"), .finishAll],
        expect: Expect(
            streams: [.c2s(1): [.text("helloabcdeKLMNOPQ")]], closes: [1: .endOfCapture],
            retransmitted: [.c2s(1): 3])),
    Case(
        name: "overlap: the segment that fills the hole covers the head of a held one, same bytes",
        steps: hs() + [.c(0, "hello"), .c(10, "KLMNOPQRST"), .c(5, "abcdeKLMNO"), .finishAll],
        expect: Expect(
            streams: [.c2s(1): [.text("helloabcdeKLMNOPQRST")]], closes: [1: .endOfCapture],
            retransmitted: [.c2s(1): 5])
    ),
    Case(
        name: "overlap: the segment that fills the hole covers the head of a held one, different bytes",
        // As given, the held bytes and the new ones are both in hand: the difference must be reported. One byte at
        // a time, the held bytes are delivered before the differing ones arrive, so there is nothing to compare.
        steps: hs() + [.c(0, "hello"), .c(10, "KLMNOPQRST"), .c(5, "abcdeklmno"), .finishAll],
        expect: Expect(
            streams: [.c2s(1): [.text("helloabcdeKLMNOPQRST")]], closes: [1: .endOfCapture],
            diagnostics: ["tcp.overlap_conflict": 1], diagnosticsByteAtATime: [:], retransmitted: [.c2s(1): 5])
    ),
    Case(
        name: "overlap: new segment spans two held segments and the hole between them",
        steps: hs() + [
            .c(0, "he"), .c(10, "KL"), .c(14, "OP"), .c(8, "ijKLmnOPqr"), .c(2, "llo"), .c(5, "fgh"), .finishAll,
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("hellofghijKLmnOPqr")]], closes: [1: .endOfCapture],
            retransmitted: [.c2s(1): 4])),
    Case(
        name: "overlap conflicts are reported once per direction",
        steps: hs() + [
            .c(0, "a"), .c(5, "XYZ"), .c(5, "xyz"), .c(6, "q"),
            .s(0, "A", ack: 1), .s(5, "XYZ", ack: 1), .s(6, "q", ack: 1),
            .c(1, "bcde", ack: 1), .s(1, "BCDE", ack: 8),
            .finishAll,
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("abcdeXYZ")], .s2c(1): [.text("ABCDEXYZ")]], closes: [1: .endOfCapture],
            diagnostics: ["tcp.overlap_conflict": 2])),
    Case(
        name: "retransmission of delivered data is counted, not delivered twice",
        steps: hs() + [
            .c(0, "hello"),
            .c(0, "hello"),
            .c(5, "world"),
            .c(3, "loworld!!"),
            .c(0, "HELLO"),  // different bytes for delivered ones: delivered bytes are final
            .s(0, ack: 12),
            .finishAll,
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("helloworld!!")]], closes: [1: .endOfCapture], retransmitted: [.c2s(1): 17])),
]

// MARK: - Gaps

let gapCases: [Case] = [
    Case(
        name: "gap: a segment never arrives, the peer ACKs past it, 8 more packets follow",
        // Declared at the 8th packet (nothing held after it), placed where the bytes after the hole came.
        steps: hs() + [
            .c(0, "0123456789", label: "first"),
            // .c(10, "ABCDEFGHIJ") is lost
            .c(20, "KLMNOPQRST", label: "after hole"),
            .s(0, ack: 30),
            .s(0, "1", ack: 30), .s(1, "2", ack: 30), .s(2, "3", ack: 30), .s(3, "4", ack: 30),
            .s(4, "5", ack: 30), .s(5, "6", ack: 30), .s(6, "7", ack: 30), .buffered(10),
            .s(7, "8", ack: 30, label: "8th"),
            .buffered(0),
            .c(30, "tail", ack: 8, label: "tail"),
            .finishAll,
        ],
        expect: Expect(
            streams: [
                .c2s(1): [.text("0123456789"), .gap(10), .text("KLMNOPQRSTtail")], .s2c(1): [.text("12345678")],
            ],
            closes: [1: .endOfCapture], diagnostics: ["tcp.gap": 1], gapsAt: [.c2s(1): ["after hole"]],
            dataAt: [.c2s(1): ["first", "after hole", "tail"]])),
    Case(
        name: "gap: the ACK was captured before the data it acknowledges: nothing is lost",
        steps: hs() + [.c(0, "hello"), .s(0, ack: 10), .s(0, ack: 10), .c(5, "world"), .finishAll],
        expect: Expect(streams: [.c2s(1): [.text("helloworld")]], closes: [1: .endOfCapture])),
    Case(
        name: "gap: two holes acknowledged past by one ACK are both declared after 8 packets",
        steps: hs() + [
            .c(0, "0123456789"),
            .c(20, "KLMNOPQRST", label: "second"),
            .c(40, "klmnopqrst", label: "third"),
            .s(0, ack: 50),
            .s(0, "1", ack: 50), .s(1, "2", ack: 50), .s(2, "3", ack: 50), .s(3, "4", ack: 50),
            .s(4, "5", ack: 50), .s(5, "6", ack: 50), .s(6, "7", ack: 50), .buffered(20),
            .s(7, "8", ack: 50, label: "8th"),
            .buffered(0),
            .finishAll,
        ],
        expect: Expect(
            streams: [
                .c2s(1): [.text("0123456789"), .gap(10), .text("KLMNOPQRST"), .gap(10), .text("klmnopqrst")],
                .s2c(1): [.text("12345678")],
            ],
            closes: [1: .endOfCapture], diagnostics: ["tcp.gap": 2], gapsAt: [.c2s(1): ["second", "third"]])
    ),
    Case(
        name: "gap: late data for a hole already declared missing is not delivered (tcp.data_after_close)",
        steps: hs() + [
            .c(0, "0123456789"),
            .c(20, "KLMNOPQRST"),
            .s(0, ack: 30),
            .s(0, "1", ack: 30), .s(1, "2", ack: 30), .s(2, "3", ack: 30), .s(3, "4", ack: 30),
            .s(4, "5", ack: 30), .s(5, "6", ack: 30), .s(6, "7", ack: 30), .s(7, "8", ack: 30),
            .c(10, "ABCDEFGHIJ", ack: 8),  // the lost segment, too late
            .finishAll,
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("0123456789"), .gap(10), .text("KLMNOPQRST")], .s2c(1): [.text("12345678")]],
            closes: [1: .endOfCapture], diagnostics: ["tcp.gap": 1, "tcp.data_after_close": 1],
            diagnosticsByteAtATime: ["tcp.gap": 1, "tcp.data_after_close": 10], retransmitted: [.c2s(1): 10])
    ),
    Case(
        name: "gap: packets of another connection do not count toward the 8",
        tuples: [T0, T1],
        steps: hs(ms: 0) + hs(t: 1) + [
            .c(0, "hello", label: "hello"), .c(10, "later", label: "later"), .s(0, ack: 15),
            .c(0, "1", t: 1), .c(1, "2", t: 1), .c(2, "3", t: 1), .c(3, "4", t: 1),
            .c(4, "5", t: 1), .c(5, "6", t: 1), .c(6, "7", t: 1), .c(7, "8", t: 1), .c(8, "9", t: 1),
            .buffered(5),
            .finishAll,
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("hello"), .gap(5), .text("later")], .c2s(2): [.text("123456789")]],
            closes: [1: .endOfCapture, 2: .endOfCapture], diagnostics: ["tcp.gap": 1],
            gapsAt: [.c2s(1): ["later"]], dataAt: [.c2s(1): ["hello", "later"]])),
    Case(
        name: "gap: one second later, a packet of another connection declares it",
        tuples: [T0, T1],
        steps: hs(ms: 0) + [.c(0, "hello"), .c(10, "later", label: "later"), .s(0, ack: 15, ms: 10)]
            + hs(t: 1, ms: 1100, label: "T1 SYN") + [.buffered(0), .finishAll],
        expect: Expect(
            streams: [.c2s(1): [.text("hello"), .gap(5), .text("later")]],
            closes: [1: .endOfCapture, 2: .endOfCapture], diagnostics: ["tcp.gap": 1],
            gapsAt: [.c2s(1): ["later"]])),
    Case(
        name: "gap before an acknowledged FIN that rides on held data: declared once the reorder window passed",
        steps: hs(ms: 0) + [
            .c(0, "hello"),
            .c(10, "later", .fin, label: "later"),
            .s(0, ack: 16, .fin, label: "server FIN"),
            .c(16, ack: 1),
            .buffered(5),
            .s(1, ack: 16, ms: 1000, label: "1 s later"),
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("hello"), .gap(5), .text("later")]], closes: [1: .fin],
            diagnostics: ["tcp.gap": 1], gapsAt: [.c2s(1): ["later"]], closeAt: [1: "1 s later"])),
    Case(
        name: "a FIN acknowledged before the last data segment arrives: the segment is delivered, then the close",
        steps: hs() + [
            .c(0, "hello"),
            .c(10, ack: 0, .fin),
            .s(0, ack: 11, .fin),
            .c(5, "world", ack: 1, label: "late data"),
            .c(11, ack: 1, label: "last ACK"),
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("helloworld")]], closes: [1: .fin], closeAt: [1: "late data"])),
    Case(
        name: "gap: with 7 packets after the ACK the hole is still waiting (declared at the end)",
        steps: hs() + [
            .c(0, "0123456789"),
            .c(20, "KLMNOPQRST", label: "held"),
            .s(0, ack: 30),
            .s(0, "1", ack: 30), .s(1, "2", ack: 30), .s(2, "3", ack: 30), .s(3, "4", ack: 30),
            .s(4, "5", ack: 30), .s(5, "6", ack: 30), .s(6, "7", ack: 30),
            .buffered(10),
            .finishAll,
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("0123456789"), .gap(10), .text("KLMNOPQRST")], .s2c(1): [.text("1234567")]],
            closes: [1: .endOfCapture], diagnostics: ["tcp.gap": 1], gapsAt: [.c2s(1): ["held"]])),
    Case(
        name: "gap: declared after one second of capture time",
        steps: hs(ms: 0) + [
            .c(0, "hello"),
            .c(10, "later", label: "later"),
            .s(0, ack: 15, ms: 10),
            .s(0, ack: 15, ms: 900),
            .buffered(5),
            .s(0, ack: 15, ms: 1010, label: "1s"),
            .buffered(0),
            .finishAll,
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("hello"), .gap(5), .text("later")]], closes: [1: .endOfCapture],
            diagnostics: ["tcp.gap": 1], gapsAt: [.c2s(1): ["later"]])),
    Case(
        name: "gap at end of capture: data held after the hole, placed where it came",
        steps: hs() + [.c(0, "hello", label: "hello"), .c(10, "later", label: "later"), .finishAll],
        expect: Expect(
            streams: [.c2s(1): [.text("hello"), .gap(5), .text("later")]], closes: [1: .endOfCapture],
            diagnostics: ["tcp.gap": 1], gapsAt: [.c2s(1): ["later"]], dataAt: [.c2s(1): ["hello", "later"]],
            closeAt: [1: "end"])),
    Case(
        name: "bytes released after a gap never go before the stream's previous event",
        // "b" came before "a", which precedes it in the stream: released at the end, "b" is placed with "a", not
        // before it.
        steps: hs() + [
            .c(0, "x", label: "x"), .c(3, "b"), .c(2, "a", label: "fill"), .c(5, "c", label: "c"), .finishAll,
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("x"), .gap(1), .text("ab"), .gap(1), .text("c")]],
            closes: [1: .endOfCapture], diagnostics: ["tcp.gap": 2], gapsAt: [.c2s(1): ["fill", "c"]],
            dataAt: [.c2s(1): ["x", "fill", "fill", "c"]])),
    Case(
        name: "gap at end of capture: the peer acknowledged bytes never captured",
        steps: hs() + [.c(0, "hello"), .s(0, ack: 12), .finishAll],
        expect: Expect(
            streams: [.c2s(1): [.text("hello"), .gap(7)]], closes: [1: .endOfCapture], diagnostics: ["tcp.gap": 1],
            gapsAt: [.c2s(1): ["end"]])),
    Case(
        name: "gap before an acknowledged FIN: declared after the reorder window, close reason fin",
        steps: hs() + [
            .c(0, "hello"),
            // .c(5, "world") is lost
            .c(10, ack: 0, .fin),
            .s(0, ack: 11, .fin, label: "server FIN"),
            .c(11, ack: 1),
        ] + (0..<6).map { _ in .c(11, ack: 1) } + [.c(11, ack: 1, label: "8th")],
        expect: Expect(
            streams: [.c2s(1): [.text("hello"), .gap(5)]], closes: [1: .fin], diagnostics: ["tcp.gap": 1],
            gapsAt: [.c2s(1): ["8th"]], closeAt: [1: "8th"])),
    Case(
        name: "gaps in both directions at end of capture, two holes in one",
        steps: hs() + [
            .c(0, "a"), .c(2, "c"), .c(4, "e"),
            .s(0, "A", ack: 1), .s(3, "D", ack: 1),
            .finishAll,
        ],
        expect: Expect(
            streams: [
                .c2s(1): [.text("a"), .gap(1), .text("c"), .gap(1), .text("e")],
                .s2c(1): [.text("A"), .gap(2), .text("D")],
            ],
            closes: [1: .endOfCapture], diagnostics: ["tcp.gap": 3])),
    Case(
        name: "truncated segment in order: the captured prefix, then a truncated gap",
        steps: hs() + [.c(0, "hello"), .c(5, "wor", wire: 10), .c(15, "after"), .finishAll],
        expect: Expect(
            streams: [.c2s(1): [.text("hellowor"), .gap(7, .truncated), .text("after")]],
            closes: [1: .endOfCapture])),
    Case(
        name: "truncated segment held out of order, then the hole fills",
        steps: hs() + [.c(0, "hel"), .c(5, "wor", wire: 10), .c(15, "after"), .c(3, "lo"), .finishAll],
        expect: Expect(
            streams: [.c2s(1): [.text("hellowor"), .gap(7, .truncated), .text("after")]],
            closes: [1: .endOfCapture])),
    Case(
        name: "truncated segment whose cut part is partly covered by a held segment",
        steps: hs() + [.c(0, "hello"), .c(8, "XYZ"), .c(5, "ab", wire: 10), .c(15, "!"), .finishAll],
        expect: Expect(
            streams: [
                .c2s(1): [.text("helloab"), .gap(1, .truncated), .text("XYZ"), .gap(4, .truncated), .text("!")]
            ],
            closes: [1: .endOfCapture])),
    Case(
        name: "truncated segment with nothing of its payload captured",
        steps: hs() + [.c(0, "hello"), .c(5, wire: 4), .c(9, "!"), .finishAll],
        expect: Expect(
            streams: [.c2s(1): [.text("hello"), .gap(4, .truncated), .text("!")]], closes: [1: .endOfCapture])),
]

// MARK: - Closing

let closeCases: [Case] = [
    Case(
        name: "FIN both ways: close reason fin; trailing ACKs open nothing",
        steps: hs() + [
            .c(0, "ping"),
            .s(0, "pong", ack: 4),
            .c(4, "bye", ack: 4, .fin),
            .s(4, ack: 8, .fin, label: "server FIN"),
            .c(8, ack: 5),
            .s(5, ack: 8),
            .tracked(1),
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("pingbye")], .s2c(1): [.text("pong")]], closes: [1: .fin],
            closeAt: [1: "server FIN"])),
    Case(
        name: "FIN from the server first",
        steps: hs() + [
            .c(0, "ping"),
            .s(0, "pong", ack: 4, .fin),
            .c(4, ack: 5, .fin, label: "client FIN"),
            .s(5, ack: 5),
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("ping")], .s2c(1): [.text("pong")]], closes: [1: .fin],
            closeAt: [1: "client FIN"])),
    Case(
        name: "RST: close reason rst; later data is not delivered",
        steps: hs() + [.c(0, "hello"), .s(0, ack: 5, .rst, label: "RST"), .c(5, "late"), .finishAll],
        expect: Expect(
            streams: [.c2s(1): [.text("hello")]], closes: [1: .rst], diagnostics: ["tcp.data_after_close": 1],
            diagnosticsByteAtATime: ["tcp.data_after_close": 4], closeAt: [1: "RST"])),
    Case(
        name: "RST with data held after a hole: held for the reorder window, then the hole is declared missing",
        steps: hs(ms: 0) + [
            .c(0, "hello"), .c(10, "later", label: "later"), .s(0, ack: 5, .rst, label: "RST"), .tracked(1),
            .s(0, ack: 5, ms: 1000),
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("hello"), .gap(5), .text("later")]], closes: [1: .rst],
            diagnostics: ["tcp.gap": 1], gapsAt: [.c2s(1): ["later"]], closeAt: [1: "RST"])),
    Case(
        name: "RST before the last data segment (its sequence number ahead): the segment is delivered, then the close",
        steps: hs() + [
            .c(0, "hello"), .s(0, ack: 5), .c(13, ack: 0, .rst, label: "RST"), .c(5, "close!!!", label: "late data"),
            .tracked(1), .finishAll,
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("helloclose!!!")]], closes: [1: .rst], closeAt: [1: "late data"])),
    Case(
        name: "RST that acknowledges server bytes not yet seen: held until they come",
        steps: hs() + [
            .c(0, "hello"), .c(5, ack: 6, .rst, label: "RST"), .s(0, "world!", ack: 5, label: "late data"),
            .finishAll,
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("hello")], .s2c(1): [.text("world!")]], closes: [1: .rst],
            closeAt: [1: "late data"])),
    Case(
        name: "RST ahead whose bytes never come: the window passes, the bytes before it are missing",
        steps: hs() + [.c(0, "hello"), .c(10, ack: 0, .rst, label: "RST")]
            + (0..<7).map { _ in .s(0, ack: 5) } + [.s(0, ack: 5, label: "8th")],
        expect: Expect(
            streams: [.c2s(1): [.text("hello"), .gap(5)]], closes: [1: .rst], diagnostics: ["tcp.gap": 1],
            gapsAt: [.c2s(1): ["8th"]], closeAt: [1: "8th"])),
    Case(
        name: "a retransmitted SYN (same ISN) on an open connection is the same connection",
        steps: hs() + [.c(0, "one"), .c(-1, ack: nil, .syn), .c(3, "two"), .tracked(1), .finishAll],
        expect: Expect(streams: [.c2s(1): [.text("onetwo")]], closes: [1: .endOfCapture])),
    Case(
        name: "a closed connection lingers: a late packet 59 s after the close opens nothing",
        steps: hs(ms: 0) + [
            .c(0, "ping"), .c(4, ack: 0, .fin), .s(0, ack: 5, .fin), .c(5, ack: 1),
            .c(5, "late", ack: 1, ms: 59_000), .tracked(1), .finishAll,
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("ping")]], closes: [1: .fin], diagnostics: ["tcp.data_after_close": 1],
            diagnosticsByteAtATime: ["tcp.data_after_close": 4])),
    Case(
        name: "port reuse after RST: a new SYN opens a new connection",
        tuples: [T0, .v4(isnC: 70_000, isnS: 90_000)],
        steps: hs() + [.c(0, "one"), .s(0, ack: 3, .rst)] + hs(t: 1) + [.c(0, "two", t: 1), .finishAll],
        expect: Expect(
            streams: [.c2s(1): [.text("one")], .c2s(2): [.text("two")]], closes: [1: .rst, 2: .endOfCapture])),
    Case(
        name: "idle timeout: a packet of another connection 301 s later closes it",
        tuples: [T0, T1],
        steps: hs(ms: 0) + [.c(0, "hi", ms: 10)] + hs(t: 1, ms: 301_010, label: "T1 SYN") + [
            .c(0, "yo", t: 1), .tracked(1), .finishAll,
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("hi")], .c2s(2): [.text("yo")]], closes: [1: .timeout, 2: .endOfCapture],
            closeAt: [1: "T1 SYN", 2: "end"])),
    Case(
        name: "idle timeout: 299 s of silence is not enough",
        tuples: [T0, T1],
        steps: hs(ms: 0) + [.c(0, "hi", ms: 10)] + hs(t: 1, ms: 299_010) + [
            .c(0, "yo", t: 1), .tracked(2), .finishAll,
        ],
        expect: Expect(
            streams: [.c2s(1): [.text("hi")], .c2s(2): [.text("yo")]], closes: [1: .endOfCapture, 2: .endOfCapture])),
    Case(
        name: "idle timeout declares a hole missing",
        tuples: [T0, T1],
        steps: hs(ms: 0) + [.c(0, "hello", ms: 10), .c(10, "later", label: "later")]
            + hs(t: 1, ms: 400_000, label: "T1 SYN") + [.finishAll],
        expect: Expect(
            streams: [.c2s(1): [.text("hello"), .gap(5), .text("later")]], closes: [1: .timeout, 2: .endOfCapture],
            diagnostics: ["tcp.gap": 1], gapsAt: [.c2s(1): ["later"]], closeAt: [1: "T1 SYN"])),
    Case(
        name: "port reuse: a new SYN on a closed tuple opens a new connection",
        tuples: [T0, .v4(isnC: 70_000, isnS: 90_000)],
        steps: hs() + [
            .c(0, "one"),
            .s(0, "1", ack: 3),
            .c(3, ack: 1, .fin),
            .s(1, ack: 4, .fin),
            .c(4, ack: 2),  // trailing ACK
            .c(-1, ack: nil, .syn),  // the old SYN again (same ISN): not a new connection
            .tracked(1),
        ] + hs(t: 1) + [.c(0, "two", t: 1), .tracked(1), .finishAll],
        expect: Expect(
            streams: [.c2s(1): [.text("one")], .s2c(1): [.text("1")], .c2s(2): [.text("two")]],
            closes: [1: .fin, 2: .endOfCapture], handshake: [1: true, 2: true])),
    Case(
        name: "port reuse: a new SYN on a tuple still open closes the old connection",
        tuples: [T0, .v4(isnC: 70_000, isnS: 90_000)],
        steps: hs() + [.c(0, "one")] + hs(t: 1, label: "new SYN") + [.c(0, "two", t: 1), .finishAll],
        expect: Expect(
            streams: [.c2s(1): [.text("one")], .c2s(2): [.text("two")]], closes: [1: .timeout, 2: .endOfCapture],
            closeAt: [1: "new SYN"])),
]

// MARK: - Limits, at their edge

let limitCases: [Case] = {
    var perConnection = TCPReassembler.Limits()
    perConnection.maxBufferedPerConnection = 10
    var perConnection10x = TCPReassembler.Limits()
    perConnection10x.maxBufferedPerConnection = 1000
    var total = TCPReassembler.Limits()
    total.maxBufferedTotal = 15
    var connections = TCPReassembler.Limits()
    connections.maxConnections = 2
    var holdSpan = TCPReassembler.Limits()
    holdSpan.maxHoldSpan = 16
    return [
        Case(
            name: "maxBufferedPerConnection exactly reached: nothing is flushed",
            limits: perConnection,
            steps: hs() + [.c(0, "hello"), .c(10, "0123456789", label: "held"), .buffered(10), .finishAll],
            expect: Expect(
                streams: [.c2s(1): [.text("hello"), .gap(5), .text("0123456789")]], closes: [1: .endOfCapture],
                diagnostics: ["tcp.gap": 1], gapsAt: [.c2s(1): ["held"]])),
        Case(
            name: "maxBufferedPerConnection exceeded by one byte: the hole goes, memory is released",
            limits: perConnection,
            steps: hs() + [.c(0, "hello"), .c(10, "0123456789X", label: "over"), .buffered(0), .finishAll],
            expect: Expect(
                streams: [.c2s(1): [.text("hello"), .gap(5, .bufferLimit), .text("0123456789X")]],
                closes: [1: .endOfCapture], diagnostics: ["tcp.buffer_limit": 1], gapsAt: [.c2s(1): ["over"]])),
        Case(
            name: "maxBufferedPerConnection counts both directions; the fuller one gives way",
            limits: perConnection,
            steps: hs() + [
                .c(0, "hello"), .s(0, "HELLO", ack: 5),
                .c(10, "abcdef", ack: 5, label: "held"), .buffered(6),
                .s(10, "ABCDE", ack: 5, label: "over"), .buffered(5),
                .finishAll,
            ],
            expect: Expect(
                streams: [
                    .c2s(1): [.text("hello"), .gap(5, .bufferLimit), .text("abcdef")],
                    .s2c(1): [.text("HELLO"), .gap(5), .text("ABCDE")],
                ],
                closes: [1: .endOfCapture], diagnostics: ["tcp.buffer_limit": 1, "tcp.gap": 1],
                gapsAt: [.c2s(1): ["held"], .s2c(1): ["over"]])),
        Case(
            name: "maxBufferedPerConnection bounds held segments the snaplen emptied, too",
            // One direction captured (no ACK will come), a hole, then 20 segments of 100 bytes of which the snaplen
            // kept none: each held piece costs memory although it carries no byte, so the limit must see them.
            limits: perConnection10x,
            steps: hs() + [.c(0, "hello")] + (0..<20).map { .c(10 + 100 * Int64($0), wire: 100) } + [.finishAll],
            expect: Expect(
                streams: [
                    .c2s(1): [.text("hello"), .gap(5, .bufferLimit)]
                        + Array(repeating: .gap(100, .truncated), count: 20)
                ],
                closes: [1: .endOfCapture], diagnostics: ["tcp.buffer_limit": 1])
        ),
        Case(
            name: "maxHoldSpan: a connection holding bytes back while the capture goes on gives its hole up",
            tuples: [T0, T1],
            limits: holdSpan,
            steps: hs() + hs(t: 1) + [
                .c(0, "hello"), .c(10, "later", label: "held"), .c(0, "0123456789", t: 1), .buffered(5),
                .c(10, "0123456789", t: 1), .buffered(0), .finishAll,
            ],
            expect: Expect(
                streams: [
                    .c2s(1): [.text("hello"), .gap(5, .bufferLimit), .text("later")],
                    .c2s(2): [.text("01234567890123456789")],
                ],
                closes: [1: .endOfCapture, 2: .endOfCapture], diagnostics: ["tcp.buffer_limit": 1],
                gapsAt: [.c2s(1): ["held"]])),
        Case(
            name:
                "maxHoldNanoseconds: a hole nothing acknowledges (one direction captured) goes at the sweep after 10 s",
            tuples: [T0, T1],
            steps: hs(ms: 0) + [.c(0, "hello"), .c(10, "later", label: "held")] + hs(t: 1, ms: 5000) + [
                .c(0, "x", ms: 9999, t: 1), .buffered(5), .c(1, "y", ms: 11_000, t: 1), .buffered(0), .finishAll,
            ],
            expect: Expect(
                streams: [.c2s(1): [.text("hello"), .gap(5), .text("later")], .c2s(2): [.text("xy")]],
                closes: [1: .endOfCapture, 2: .endOfCapture], diagnostics: ["tcp.gap": 1],
                gapsAt: [.c2s(1): ["held"]])),
        Case(
            name: "maxHoldNanoseconds counts from the earliest held packet: a connection that keeps moving on is kept",
            // A new hole opens before the previous one fills: bytes held all along for 12 s, none for 10 s.
            tuples: [T0, T1],
            steps: hs(ms: 0) + hs(t: 1, ms: 0) + [
                .c(0, "a", ms: 0), .c(2, "c", ms: 1), .c(4, "e", ms: 3000), .c(1, "b", ms: 4000),
                .c(6, "g", ms: 7000), .c(3, "d", ms: 8000), .c(0, "x", ms: 11_000, t: 1), .buffered(1),
                .c(5, "f", ms: 12_000), .c(1, "y", ms: 13_000, t: 1), .buffered(0), .finishAll,
            ],
            expect: Expect(
                streams: [.c2s(1): [.text("abcdefg")], .c2s(2): [.text("xy")]],
                closes: [1: .endOfCapture, 2: .endOfCapture])),
        Case(
            name: "maxBufferedTotal across two connections: exactly reached, then exceeded by one byte",
            tuples: [T0, T1],
            limits: total,
            steps: hs() + hs(t: 1) + [
                .c(0, "hello"), .c(10, "0123456789", label: "held"),
                .c(0, "hi", t: 1), .c(7, "abcde", t: 1, label: "held 2"), .buffered(15),
                .c(12, "f", t: 1, label: "over"), .buffered(10),
                .finishAll,
            ],
            expect: Expect(
                streams: [
                    .c2s(1): [.text("hello"), .gap(5), .text("0123456789")],
                    .c2s(2): [.text("hi"), .gap(5, .bufferLimit), .text("abcdef")],
                ],
                closes: [1: .endOfCapture, 2: .endOfCapture], diagnostics: ["tcp.buffer_limit": 1, "tcp.gap": 1],
                gapsAt: [.c2s(1): ["held"], .c2s(2): ["held 2"]])),
        Case(
            name: "maxConnections: the least recently active is closed (timeout, tcp.connection_limit)",
            tuples: [T0, T1, T2],
            limits: connections,
            steps: hs(ms: 0) + hs(t: 1, ms: 10) + [.c(0, "a", ms: 20), .tracked(2)]
                + hs(t: 2, ms: 30, label: "third SYN") + [.tracked(2), .c(0, "c", t: 2), .finishAll],
            expect: Expect(
                streams: [.c2s(1): [.text("a")], .c2s(3): [.text("c")]],
                closes: [1: .endOfCapture, 2: .timeout, 3: .endOfCapture], diagnostics: ["tcp.connection_limit": 1],
                closeAt: [2: "third SYN"])),
        Case(
            name: "maxConnections: a closed connection still lingering makes room silently",
            tuples: [T0, T1, T2],
            limits: connections,
            steps: hs(ms: 0) + [.c(0, ack: 0, .fin), .s(0, ack: 1, .fin)] + hs(t: 1, ms: 10)
                + hs(t: 2, ms: 20) + [.tracked(2), .finishAll],
            expect: Expect(closes: [1: .fin, 2: .endOfCapture, 3: .endOfCapture])),
    ]
}()

let allCases = orderCases + overlapCases + gapCases + closeCases + limitCases

/// The case whose name starts with `prefix`.
func named(_ prefix: String) -> Case {
    let found = allCases.filter { $0.name.hasPrefix(prefix) }
    precondition(found.count == 1, "\(found.count) cases named \(prefix)")
    return found[0]
}

@Suite("TCPReassembler")
struct TCPReassemblerTests {
    @Test(arguments: orderCases, Feed.allCases)
    func order(_ c: Case, _ mode: Feed) { check(c, mode) }

    @Test(arguments: overlapCases, Feed.allCases)
    func overlaps(_ c: Case, _ mode: Feed) { check(c, mode) }

    @Test(arguments: gapCases, Feed.allCases)
    func gaps(_ c: Case, _ mode: Feed) { check(c, mode) }

    @Test(arguments: closeCases, Feed.allCases)
    func closing(_ c: Case, _ mode: Feed) { check(c, mode) }

    @Test(arguments: limitCases, Feed.allCases)
    func limits(_ c: Case, _ mode: Feed) { check(c, mode) }

    /// "In-order segments are passed through without copying": data calls for in-order segments point into the
    /// segment's own payload; only bytes that waited for a hole come from a copy.
    @Test(arguments: [
        (named("in order, with handshake"), 4, 0),  // every call passes the segment through
        (named("sequence numbers wrap around"), 3, 1),  // "BBBB" waited for "AAAA"
        (named("reorder: the later segment first"), 1, 1),  // "world" waited for "hello"
        (named("gap: a segment never arrives"), 10, 1),  // the data after the gap waited for it
    ])
    func inOrderSegmentsAreNotCopied(_ c: Case, inPlace: Int, fromCopies: Int) {
        let sink = run(c, .asGiven, inline: false).sink
        #expect(sink.deliveredInPlace == inPlace)
        #expect(sink.deliveredFromCopies == fromCopies)
    }

    /// Both feeds of every case give the same streams (bytes and gaps, merged) and the same closes.
    @Test(arguments: allCases)
    func feedsAgree(_ c: Case) {
        let whole = run(c, .asGiven, inline: false).sink
        let split = run(c, .byteAtATime, inline: false).sink
        #expect(whole.pieces == split.pieces)
        #expect(whole.closes.mapValues { $0.reason } == split.closes.mapValues { $0.reason })
    }
}
