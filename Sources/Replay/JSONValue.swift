/// A JSON value as the replay verdict compares it. Numbers keep their text (as recorded or received), so a report
/// prints them as they were; two numbers are equal when they denote the same value.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])
}
