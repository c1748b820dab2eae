import Capture
import ImscopeCore
import TCPReassembly

extension DiagnosticKind {
    /// Every diagnostic imscope can raise, layer by layer. `Docs/diagnostics.md` lists the same codes.
    public static var catalogue: [DiagnosticKind] { captureLayer + tcpLayer }
}
