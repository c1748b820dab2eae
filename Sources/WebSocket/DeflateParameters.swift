/// Permessage-deflate as negotiated for the sender of one direction (RFC 7692 section 7.1).
public struct DeflateParameters: Sendable, Equatable {
    public var enabled: Bool
    /// The sender resets its compression context after each message (`*_no_context_takeover`).
    public var noContextTakeover: Bool
    /// The sender's window (`*_max_window_bits`); inflating always uses a 32 KiB window, which covers any.
    public var maxWindowBits: Int

    public init(enabled: Bool, noContextTakeover: Bool = false, maxWindowBits: Int = 15) {
        self.enabled = enabled
        self.noContextTakeover = noContextTakeover
        self.maxWindowBits = maxWindowBits
    }

    public static let off = DeflateParameters(enabled: false)
}
