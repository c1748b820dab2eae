import Foundation

/// What the reference-vector tables share: the user guide's list of deliberate differences from the reference
/// parsers, which every difference a table names must appear in.

/// The "Deliberate differences from the reference parsers" section of `Docs/user-guide.md` (empty if there is none).
public func userGuideDifferences() throws -> String {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let guide = try String(contentsOf: root.appendingPathComponent("Docs/user-guide.md"), encoding: .utf8)
    guard let start = guide.range(of: "### Deliberate differences from the reference parsers") else { return "" }
    let rest = guide[start.upperBound...]
    let end = rest.range(of: "\n## ")?.lowerBound ?? rest.endIndex
    return String(rest[..<end])
}

/// Two-digit lowercase hex, space-separated.
public func hex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
}
