import Capture
import Foundation
import IMProtocol
import Pipeline
import Records
import SocketIO
import Testing

@testable import Replay

/// The script a real capture makes: its clients, their handshakes and transports, what each sent after what it
/// had received, and what the server sent it (Captures/replay/README.md has every frame of these captures).
struct ScriptBuilderTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func script(_ name: String) throws -> ReplayScript {  // also ScriptJSONTests
        let builder = ScriptBuilder()
        var options = PipelineOptions()
        options.im = IMDecoder(table: try MessageTypeTable.builtin("v2"), others: [])
        let pipeline = try Pipeline(options: options, records: OwningSink(builder))
        pipeline.run(try PacketSource(files: [repo.appendingPathComponent("Captures/replay/\(name)").path]))
        return builder.script
    }

    static func sent(_ step: ScriptStep) -> SocketIOOutgoingPacket? {
        if case .send(let p) = step.action { return p }
        return nil
    }

    @Test func websocketSessions() throws {
        let script = try Self.script("replay-eio4-websocket.pcap")
        #expect(script.clients.map(\.name) == ["u1", "u2"])
        let u1 = script.clients[0]
        let u2 = script.clients[1]
        #expect(u1.engineIOVersion == 4 && u1.transport == .websocket && u1.path == "/socket.io/")
        #expect(u1.query.map(\.name) == ["userId"] && u1.query.first?.value == "u1")
        #expect(u1.conns == [1] && u2.conns == [2])
        #expect(u1.start == 0 && u2.start > 0)
        // Server messages: u1 the CONNECT answer, three presence notices, four acks, two read receipts and a text.
        #expect(u1.expected.count == 11 && u2.expected.count == 9)
        #expect(u1.expected.first?.kind == .connect && u1.expected.first?.frame == 11)
        // The first thing each sends is its CONNECT, caused by nothing; the last is the end of its session.
        #expect(Self.sent(u1.steps[0])?.type == .connect && u1.steps[0].after == nil)
        guard case .disconnect = u1.steps.last?.action else {
            Issue.record("u1 does not end with a disconnect")
            return
        }
        // u2's read receipt (frame 40) was sent after u2 received u1's text (frame 36): that is its cause.
        let receipt = try #require(u2.steps.first { $0.frame == 40 })
        let cause = try #require(receipt.after)
        #expect(u2.expected[cause].frame == 36)
        #expect(Self.sent(receipt)?.messageId == "3c6ca233-e8d6-4aa0-bcfd-9bc3d9eb6c11")
        #expect(script.clientMessageIds.count == 8)
    }

    @Test func pollingThenUpgrade() throws {
        let script = try Self.script("replay-eio3-polling-upgrade.pcap")
        #expect(script.clients.map(\.name) == ["u1", "u2"])
        for client in script.clients {
            #expect(client.engineIOVersion == 3)
            #expect(client.transport == .pollingThenWebSocket)
            #expect(client.conns.count == 2)
        }
    }

    @Test func pollingOnly() throws {
        let script = try Self.script("replay-eio4-polling.pcap")
        #expect(script.clients.map(\.transport) == [.polling, .polling])
        #expect(script.clients.map(\.expected.count) == [11, 9])
    }

    @Test func namespaceAuthAndAttachments() throws {
        let script = try Self.script("replay-eio4-namespace.pcap")
        #expect(script.clients.map(\.name) == ["u1", "u2"])
        let u2 = script.clients[1]
        // u2 gave its user in the CONNECT's auth, not in the query.
        #expect(!u2.query.contains { $0.name == "userId" })
        #expect(Self.sent(u2.steps[0])?.namespace == "/im")
        let binary = script.clients[0].steps.compactMap(Self.sent).filter { $0.type == .binaryEvent }
        #expect(binary.count == 1 && binary.first?.attachments.first?.count == 70)
        #expect(u2.expected.contains { !$0.attachments.isEmpty && $0.kind == .event })
    }

    /// The capture server's `attachment` event asks the client for an ack (Captures/peers/server.py): the client's
    /// BINARY_ACK names that event, so a replay can answer it by the id the server gives it then.
    @Test func ackOfAServerRequest() throws {
        let builder = ScriptBuilder()
        var options = PipelineOptions()
        options.im = IMDecoder(table: try MessageTypeTable.builtin("v2"), others: [])
        let pipeline = try Pipeline(options: options, records: OwningSink(builder))
        pipeline.run(
            try PacketSource(files: [Self.repo.appendingPathComponent("Captures/eio4-websocket-lo.pcap").path]))
        let u1 = try #require(builder.script.clients.first)
        let ack = try #require(u1.steps.first { Self.sent($0)?.type == .binaryAck })
        let request = try #require(ack.answers)
        #expect(u1.expected[request].name == "attachment" && u1.expected[request].ackId == Self.sent(ack)?.ackId)
        #expect(u1.steps.filter { $0.answers != nil }.count == 1)
    }

    @Test func noSocketIOSessions() throws {
        // A capture of WebSocket traffic without Engine.IO.
        let builder = ScriptBuilder()
        let pipeline = try Pipeline(options: PipelineOptions(), records: OwningSink(builder))
        pipeline.run(try PacketSource(files: [Self.repo.appendingPathComponent("Captures/ws/ws-deflate-lo.pcap").path]))
        #expect(builder.script.clients.isEmpty)
    }
}

/// Steps come out of the pipeline in the order their records were made; an ACK held for its request comes out
/// after later records with its own, earlier frame. `ordered` puts steps back in frame order and gives each the
/// cause its frame says.
struct StepOrderTests {
    static func step(_ frame: UInt64?, after: Int? = 99) -> ScriptStep {
        ScriptStep(action: .disconnect, time: 0, frame: frame, after: after)
    }

    static func expected(_ frames: [UInt64]) -> [ServerMessage] {
        frames.map { ServerMessage(kind: .event, name: "chat", frame: $0) }
    }

    @Test(
        arguments: [
            // (step frames in emitted order, expectation frames) -> (frames in order, causes)
            ([10, 30, 20], [15, 25], [10, 20, 30], [nil, 0, 1]),
            ([5, 6], [1, 2, 3], [5, 6], [2, 2]),
            ([3], [4, 5], [3], [nil]),
            ([20, 10], [], [10, 20], [nil, nil]),
        ] as [([UInt64], [UInt64], [UInt64], [Int?])])
    func framesAndCauses(emitted: [UInt64], expectations: [UInt64], frames: [UInt64], causes: [Int?]) {
        let steps = ScriptBuilder.ordered(emitted.map { Self.step($0) }, expected: Self.expected(expectations))
        #expect(steps.map(\.frame) == frames)
        #expect(steps.map(\.after) == causes)
    }

    /// The end of a session the capture ends in has no frame: it stays last, after every expectation.
    @Test func stepWithoutAFrameStaysLast() {
        let steps = ScriptBuilder.ordered(
            [Self.step(nil), Self.step(8), Self.step(2)], expected: Self.expected([1, 5, 9]))
        #expect(steps.map(\.frame) == [2, 8, nil])
        #expect(steps.map(\.after) == [0, 1, 2])
    }
}
