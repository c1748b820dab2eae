import Replay
import Testing

@testable import ReplayClient

/// The sequencer lets every client's actions through in the recorded order of all of them, never deadlocks on a
/// client whose own actions are out of frame order, and lets everyone go when the replay is aborted.
struct SequencerTests {
    static func client(_ name: String, frame: UInt64, steps: [UInt64?]) -> ScriptClient {
        ScriptClient(
            name: name, user: name, conns: [1], sid: name, engineIOVersion: 4, transport: .websocket,
            path: "/socket.io/", query: [], headers: [], start: 0, frame: frame,
            steps: steps.map { ScriptStep(action: .disconnect, time: 0, frame: $0, after: nil) }, expected: [])
    }

    /// Runs every client's actions as fast as the sequencer allows and returns the order they were taken in.
    static func run(_ script: ReplayScript) async -> [String] {
        let sequencer = Sequencer(script)
        let log = Log()
        await withTaskGroup(of: Void.self) { group in
            for (c, client) in script.clients.enumerated() {
                group.addTask {
                    for action in 0...client.steps.count {
                        guard await sequencer.turn(c, action) else { return }
                        await log.append("\(client.name)\(action)")
                        await sequencer.done(c, action)
                    }
                    await sequencer.abandon(c)
                }
            }
        }
        return await log.entries
    }

    actor Log {
        var entries: [String] = []
        func append(_ s: String) { entries.append(s) }
    }

    @Test func recordedOrderAcrossClients() async {
        let script = ReplayScript(clients: [
            Self.client("a", frame: 1, steps: [5, 9]),
            Self.client("b", frame: 3, steps: [4, 10]),
        ])
        #expect(await Self.run(script) == ["a0", "b0", "b1", "a1", "a2", "b2"])
    }

    /// Client a's second step has an earlier frame than its first (an ACK held for its request): a takes its
    /// actions in its own order, after b's earlier ones, and nobody waits for ever.
    @Test(.timeLimit(.minutes(1))) func aClientsOwnStepsOutOfFrameOrder() async {
        let script = ReplayScript(clients: [
            Self.client("a", frame: 1, steps: [8, 6, nil]),
            Self.client("b", frame: 2, steps: [7]),
        ])
        #expect(await Self.run(script) == ["a0", "b0", "b1", "a1", "a2", "a3"])
    }

    @Test(.timeLimit(.minutes(1))) func abortLetsEveryoneGo() async {
        let script = ReplayScript(clients: [
            Self.client("a", frame: 1, steps: [5]),
            Self.client("b", frame: 2, steps: [6]),
        ])
        let sequencer = Sequencer(script)
        #expect(await sequencer.turn(0, 0))
        async let waiting = sequencer.turn(1, 0)
        await sequencer.abort("a could not run")
        #expect(await waiting == false)
        #expect(await sequencer.aborted == "a could not run")
        #expect(await sequencer.turn(0, 1) == false)
    }
}

/// The sid rewrite's byte replacement: every occurrence, none overlapping, the rest as it was.
struct ReplacingTests {
    @Test(arguments: [
        ("abcXYZabc", "abc", "12345", "12345XYZ12345"),
        ("xabcabcx", "abc", "Q", "xQQx"),
        ("aaaa", "aa", "b", "bb"),
        ("no match", "abc", "Q", "no match"),
        ("ab", "abc", "Q", "ab"),
        ("", "abc", "Q", ""),
    ])
    func replaces(_ input: String, _ old: String, _ new: String, _ expected: String) {
        let out = LiveClient.replacing(Array(old.utf8), with: Array(new.utf8), in: Array(input.utf8))
        #expect(String(decoding: out, as: UTF8.self) == expected)
    }
}
