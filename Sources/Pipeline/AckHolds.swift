import EngineIO
import ImscopeCore
import SocketIO

/// The Engine.IO sessions of one pipeline (one thread's) whose Socket.IO layer holds ACKs back for their requests
/// (``SocketIOLimits/ackReorderNanoseconds``), shared by its connections: a session spans several of them.
///
/// Each such session holds the timeline back from its earliest held ACK's frame (an ``Emitter`` hold under a number
/// of its own, given when it starts holding), since that ACK's records will be placed there. The session lets its
/// ACKs go as its own packets show the window passed, its requests come or it ends; ``expire(now:emitter:)``, run at
/// the pipeline's checkpoints, lets go of those of a session that says nothing more, so that it does not hold the
/// timeline until the end of the capture. Checkpoints come at the same packets with `--jobs` as on one thread, and
/// so does every event of a session (its connections are decoded by one shard): the records are the same.
final class AckHolds {
    /// The sessions holding ACKs, with their hold numbers.
    var holding: [ObjectIdentifier: (number: Int, session: Session)] = [:]
    var nextNumber = 0

    var isEmpty: Bool { holding.isEmpty }

    /// `session` held ACKs before or holds some now: its hold follows its earliest held ACK.
    func update(_ session: Session, emitter: Emitter) {
        let id = ObjectIdentifier(session)
        let from = session.upper.heldFrom
        if let entry = holding[id] {
            emitter.hold(.ack, session: entry.number, from: from)
            if from == nil { holding[id] = nil }
        } else if let from {
            holding[id] = (nextNumber, session)
            emitter.hold(.ack, session: nextNumber, from: from)
            nextNumber += 1
        }
    }

    /// Lets go, unmatched, of the held ACKs whose window has passed at capture time `now` — session by session, in
    /// the order of their earliest held frames, then of their holds (the same order on every thread count).
    func expire(now: Timestamp, emitter: Emitter) {
        var due = holding.values.filter { entry in
            entry.session.upper.heldUntil.map { $0.nanoseconds <= now.nanoseconds } ?? false
        }
        guard !due.isEmpty else { return }
        due.sort { ($0.session.upper.heldFrom ?? 0, $0.number) < ($1.session.upper.heldFrom ?? 0, $1.number) }
        for entry in due {
            let session = entry.session
            session.upper.expire(now: now) { place, event in
                ConnectionDecoder.late(place, event, session, emitter: emitter)
            }
            update(session, emitter: emitter)
        }
    }

    /// The end of the capture, once every session still registered has ended: lets go of what a session no longer
    /// registered holds (one replaced by another of the same sid), unmatched.
    func releaseAll(emitter: Emitter) {
        for entry in holding.values.sorted(by: { $0.number < $1.number }) {
            let session = entry.session
            session.upper.releaseHeld { place, event in
                ConnectionDecoder.late(place, event, session, emitter: emitter)
            }
            update(session, emitter: emitter)
        }
    }
}
