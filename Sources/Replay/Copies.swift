import SocketIO

/// `--copies N`: one recorded conversation multiplied into N at once, each copy with its own users. In copy k every
/// recorded user id becomes ``CopyNaming/user(_:copy:)`` (`u1` → `u1-k`), and every message id the clients sent
/// becomes one of its own (``CopyNaming/messageId(_:copy:)``), wherever they appear: query values, handshake header
/// values, and every JSON string of what the clients send (the CONNECT auth, event arguments: `fromId`, `destId`,
/// the `msgId` a read receipt's content names) and of what the server is expected to send. So N copies of a
/// two-user chat are 2N clients talking in N pairs, and a server that keys anything by user or message id sees
/// N distinct conversations. Only whole strings are renamed (an id inside a longer text stays), and ids the
/// recording wrote as JSON numbers stay (the IM protocol's ids are strings).
public struct CopyNaming: Sendable, Equatable {
    /// `{user}` and `{copy}` (the copy's number, from 1) in a template; the default `{user}-{copy}`.
    public var template: String

    public static let defaultTemplate = "{user}-{copy}"

    public enum TemplateError: Error, CustomStringConvertible {
        case missing(String)

        public var description: String {
            switch self {
            case .missing(let part): return "the template needs \(part) (e.g. \(CopyNaming.defaultTemplate))"
            }
        }
    }

    public init(template: String = CopyNaming.defaultTemplate) throws {
        for part in ["{user}", "{copy}"] where !template.contains(part) { throw TemplateError.missing(part) }
        self.template = template
    }

    public func user(_ id: String, copy: Int) -> String {
        template.replacingOccurrences(of: "{user}", with: id).replacingOccurrences(of: "{copy}", with: String(copy))
    }

    /// `text` with each id of `renames` (two characters or more) that stands as a word in it (the characters
    /// around it are no letters, digits or `_`) replaced.
    static func renamingWords(in text: String, _ renames: [String: String]) -> String {
        let bytes = Array(text.utf8)
        func isWord(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b >= 0x80
        }
        var out: [UInt8] = []
        var i = 0
        var changed = false
        while i < bytes.count {
            // The next word: a run of word bytes.
            guard isWord(bytes[i]) else {
                out.append(bytes[i])
                i += 1
                continue
            }
            var j = i
            while j < bytes.count, isWord(bytes[j]) { j += 1 }
            let word = String(decoding: bytes[i..<j], as: UTF8.self)
            if word.utf8.count >= 2, let renamed = renames[word] {
                out += renamed.utf8
                changed = true
            } else {
                out += bytes[i..<j]
            }
            i = j
        }
        return changed ? String(decoding: out, as: UTF8.self) : text
    }

    /// A message id of copy `copy`: a UUID stays a UUID (its last 48 bits plus the copy number, so a server that
    /// checks the format still accepts it), any other id gets `-k`.
    public static func messageId(_ id: String, copy: Int) -> String {
        let utf8 = Array(id.utf8)
        if utf8.count == 36, [8, 13, 18, 23].allSatisfy({ utf8[$0] == UInt8(ascii: "-") }),
            let node = UInt64(String(decoding: utf8[24...], as: UTF8.self), radix: 16)
        {
            let renamed = String((node &+ UInt64(copy)) & 0xFFFF_FFFF_FFFF, radix: 16)
            return String(decoding: utf8[..<24], as: UTF8.self) + String(repeating: "0", count: 12 - renamed.count)
                + renamed
        }
        return "\(id)-\(copy)"
    }
}

extension ReplayScript {
    /// The recorded user ids (each client's ``ScriptClient/user``), in client order without repeats.
    public var users: [String] {
        var seen = Set<String>()
        return clients.compactMap(\.user).filter { !$0.isEmpty && seen.insert($0).inserted }
    }

    /// Copy `copy` of the script: every user id and client message id renamed (see ``CopyNaming``), and the
    /// clients' names with them (`u1-3`; a client without a user is `conn 2 #3`).
    public func copy(_ copy: Int, naming: CopyNaming) -> ReplayScript {
        var renames: [String: String] = [:]
        for id in clientMessageIds { renames[id] = CopyNaming.messageId(id, copy: copy) }
        for user in users { renames[user] = naming.user(user, copy: copy) }
        let rename = { (s: String) in renames[s] ?? s }
        return ReplayScript(
            clients: clients.map { client in
                var c = client
                c.user = client.user.map(rename)
                c.name = renames[client.name] ?? "\(client.name) #\(copy)"
                c.query = client.query.map { ($0.name, rename($0.value)) }
                c.headers = client.headers.map { ($0.name, rename($0.value)) }
                c.steps = client.steps.map { step in
                    guard case .send(var packet) = step.action, let data = packet.data,
                        let value = try? JSONValue(parsing: data)
                    else { return step }
                    let renamed = value.renamingStrings(renames)
                    guard renamed != value else { return step }
                    var s = step
                    packet.data = Array(renamed.json.utf8)
                    s.action = .send(packet)
                    return s
                }
                c.expected = client.expected.map { m in
                    var m = m
                    m.args = m.args.map { $0.renamingStrings(renames) }
                    return m
                }
                return c
            })
    }
}

extension JSONValue {
    /// The value with every string (not object keys) found in `renames` replaced, and every id of two characters
    /// or more inside a longer string where it stands as a word (`avatar/u2.png`, not `u23`).
    func renamingStrings(_ renames: [String: String]) -> JSONValue {
        switch self {
        case .string(let s): return .string(renames[s] ?? CopyNaming.renamingWords(in: s, renames))
        case .array(let items): return .array(items.map { $0.renamingStrings(renames) })
        case .object(let members): return .object(members.mapValues { $0.renamingStrings(renames) })
        case .null, .bool, .number: return self
        }
    }
}

/// Which copy a server message belongs to, by the user ids it carries: a message to a client of copy k that
/// names a user of another copy (a friend-online notice about that user, a message from them) is cross-copy
/// traffic, counted and left out of the verdict. Messages that name no copy's user are every copy's own.
public struct CopyOwners: Sendable {
    /// Every copy's user ids, to the copy's number.
    private let copyOf: [String: Int]
    private let lengths: ClosedRange<Int>

    public init(_ script: ReplayScript, copies: Int, naming: CopyNaming) {
        var copyOf: [String: Int] = [:]
        for k in 1...max(1, copies) {
            for user in script.users { copyOf[naming.user(user, copy: k)] = k }
        }
        self.copyOf = copyOf
        let sizes = copyOf.keys.map(\.utf8.count)
        lengths = (sizes.min() ?? 1)...(sizes.max() ?? 0)
    }

    /// Whether the JSON text (a Socket.IO packet's) has a string that is a user id of a copy other than `own`.
    /// A scan of its string literals, without parsing it (a client of a thousand gets a thousand presence notices
    /// about the others); a string with escapes is unescaped first.
    public func isOtherCopy(_ text: UnsafeRawBufferPointer, own: Int) -> Bool {
        guard !copyOf.isEmpty else { return false }
        let quote = UInt8(ascii: "\"")
        let backslash = UInt8(ascii: "\\")
        var i = 0
        let n = text.count
        while i < n {
            guard text[i] == quote else {
                i += 1
                continue
            }
            var j = i + 1
            var escaped = false
            while j < n, text[j] != quote {
                if text[j] == backslash {
                    escaped = true
                    j += 1
                }
                j += 1
            }
            guard j < n else { return false }
            let length = j - i - 1
            if escaped || lengths.contains(length) {
                let raw = UnsafeRawBufferPointer(rebasing: text[(i + 1)..<j])
                let s: String? =
                    escaped
                    ? (try? JSONValue(parsing: UnsafeRawBufferPointer(rebasing: text[i...j]))).flatMap {
                        if case .string(let s) = $0 { return s }
                        return nil
                    } : String(decoding: raw, as: UTF8.self)
                if let s, let k = copyOf[s], k != own { return true }
            }
            i = j + 1
        }
        return false
    }
}
