import NIOSSL

/// Where a replay connects: the host and port of `--server`, and nothing else (never an address of the capture).
public struct ServerAddress: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var tls: Bool

    /// Parses `http://host:port`, `https://…`, `ws://…` or `wss://…` (a path after the port is refused: the
    /// recorded path is used).
    public init(parsing url: String) throws {
        guard let schemeEnd = url.range(of: "://") else {
            throw ReplayError.usage("--server \(url): give a URL such as http://localhost:9092")
        }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        switch scheme {
        case "http", "ws": tls = false
        case "https", "wss": tls = true
        default: throw ReplayError.usage("--server \(url): the scheme must be http, https, ws or wss")
        }
        var rest = url[schemeEnd.upperBound...]
        if let slash = rest.firstIndex(of: "/") {
            guard rest[slash...].allSatisfy({ $0 == "/" }) else {
                throw ReplayError.usage(
                    "--server \(url): give the server only (scheme, host, port); the recorded path is used")
            }
            rest = rest[..<slash]
        }
        var hostPart = Substring(rest)
        var port = tls ? 443 : 80
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { throw ReplayError.usage("--server \(url): bad host") }
            let after = hostPart[hostPart.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else {
                    throw ReplayError.usage("--server \(url): bad port")
                }
                port = p
            }
            hostPart = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
        } else if let colon = hostPart.lastIndex(of: ":") {
            guard let p = Int(hostPart[hostPart.index(after: colon)...]), (1...65535).contains(p) else {
                throw ReplayError.usage("--server \(url): bad port")
            }
            port = p
            hostPart = hostPart[..<colon]
        }
        guard !hostPart.isEmpty else { throw ReplayError.usage("--server \(url): no host") }
        host = String(hostPart)
        self.port = port
    }

    /// `host:port` for messages (`[::1]:9092` for IPv6).
    public var display: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    /// The host as a URL writes it.
    var urlHost: String { host.contains(":") ? "[\(host)]" : host }
}

/// How TLS certificates are checked (`--insecure`, `--ca FILE`).
public struct TLSOptions: Sendable {
    public var insecure = false
    public var caFile: String? = nil

    public init(insecure: Bool = false, caFile: String? = nil) {
        self.insecure = insecure
        self.caFile = caFile
    }

    func configuration() -> TLSConfiguration {
        var c = TLSConfiguration.makeClientConfiguration()
        if insecure { c.certificateVerification = .none }
        if let caFile { c.trustRoots = .file(caFile) }
        return c
    }
}

/// Why a replay could not run (exit 2), or a usage error (exit 64).
public enum ReplayError: Error, CustomStringConvertible, Sendable {
    case usage(String)
    case cannotRun(String)

    public var description: String {
        switch self {
        case .usage(let m), .cannotRun(let m): return m
        }
    }
}
