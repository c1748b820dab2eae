import EngineIO
import ImscopeCore
import SocketIO

/// The Engine.IO sessions of one pipeline (one thread's) whose Socket.IO layer holds ACKs back for their requests
/// (``SocketIOLimits/ackReorderNanoseconds``), shared by its connections: a session spans several of them.
///
/// Each such session holds the timeline back from its earliest held ACK's frame (an ``Emitter`` hold under a number
/// of its own, given when it starts holding), since that ACK's records will be placed there. The session lets its
/// ACKs go as its own packets show the window passed, its requests come or it ends. Every event of a session comes
/// at the same packet with `--jobs` as on one thread (its connections are decoded by one shard): the records are the
/// same.
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
