import SocketIO
import WebSocket

/// Working memory every connection decoded on one thread shares: the Socket.IO parser's, and the buffer WebSocket
/// streams unmask client frames into.
public final class ThreadMemory {
    let scratch = SocketIOPacket.ParseScratch()
    let unmask = UnmaskBuffer()
}
