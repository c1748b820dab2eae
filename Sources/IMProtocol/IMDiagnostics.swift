import ImscopeCore

extension DiagnosticKind {
    public static let imRequiredMissing = DiagnosticKind(
        "im.required_missing", .warning,
        "A required ImMessage field (msgId, fromId, fromType, destId, fromName, imageIconUrl, content, messageType) "
            + "is missing or null.")
    public static let imWrongType = DiagnosticKind(
        "im.wrong_type", .warning,
        "An ImMessage field has the wrong JSON type (e.g. messageType as a string), or the ImMessage is not an object.")
    public static let imUnknownType = DiagnosticKind(
        "im.unknown_type", .warning, "The messageType is not in the chosen table (nor in the other shipped table).")
    public static let imWrongDirection = DiagnosticKind(
        "im.wrong_direction", .warning,
        "A downstream-only type was sent by a client, or an upstream-only type by the server.")
    public static let imBadFromType = DiagnosticKind(
        "im.bad_from_type", .warning, "fromType is outside the values the chosen table defines (v1 1-4, v2 1-5).")
    public static let imBadContent = DiagnosticKind(
        "im.bad_content", .warning,
        "A structured content (file, voice, location, video, red packet, emoji cloud, transfers, call answers) is "
            + "not the documented object or value.")
    public static let imSchemaMismatch = DiagnosticKind(
        "im.schema_mismatch", .warning,
        "The message reads as the other table's type: its number is only in the other table, or its content fits "
            + "the other table's structure for that number and not the chosen one's (e.g. v1 34 @ vs v2 34 emoji "
            + "cloud).")

    public static let imLayer: [DiagnosticKind] = [
        .imRequiredMissing, .imWrongType, .imUnknownType, .imWrongDirection, .imBadFromType, .imBadContent,
        .imSchemaMismatch,
    ]
}
