import Capture
import EngineIO
import HTTP1
import IMProtocol
import ImscopeCore
import Records
import SocketIO
import TCPReassembly
import WebSocket

extension DiagnosticKind {
    /// Every diagnostic imscope can raise, layer by layer. `Docs/diagnostics.md` lists the same codes.
    public static var catalogue: [DiagnosticKind] {
        captureLayer + tcpLayer + applicationLayer + httpLayer + webSocketLayer + engineIOLayer + socketIOLayer
            + imLayer
    }
}
