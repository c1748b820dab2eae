/// The link-layer header types imscope decodes, as libpcap's `pcap_datalink` reports them (DLT_ values).
public enum LinkType {
    public static let null: Int32 = 0  // BSD loopback: 4-byte address family in the capturing host's byte order
    public static let ethernet: Int32 = 1
    public static let rawLinux: Int32 = 12  // DLT_RAW as Linux numbers it
    public static let rawOpenBSD: Int32 = 14  // DLT_RAW as OpenBSD numbers it
    public static let raw: Int32 = 101  // LINKTYPE_RAW
    public static let loop: Int32 = 108  // OpenBSD loopback: 4-byte address family in network byte order
    public static let linuxSLL: Int32 = 113
    public static let ipv4: Int32 = 228
    public static let ipv6: Int32 = 229
    public static let linuxSLL2: Int32 = 276

    /// Whether imscope can decode packets of this link type.
    public static func isSupported(_ type: Int32) -> Bool {
        switch type {
        case null, ethernet, rawLinux, rawOpenBSD, raw, loop, linuxSLL, ipv4, ipv6, linuxSLL2: return true
        default: return false
        }
    }

    /// A name for messages.
    public static func name(_ type: Int32) -> String {
        switch type {
        case null: return "NULL"
        case ethernet: return "EN10MB"
        case rawLinux, rawOpenBSD, raw: return "RAW"
        case loop: return "LOOP"
        case linuxSLL: return "LINUX_SLL"
        case linuxSLL2: return "LINUX_SLL2"
        case ipv4: return "IPV4"
        case ipv6: return "IPV6"
        default: return "DLT \(type)"
        }
    }
}
