import Foundation
import Testing

/// Checks the shipped messageType tables (Sources/IMProtocol/Resources/messagetypes-v{1,2}.tsv) as plain files,
/// without the IMProtocol module: read by path from this file's location.
@Suite struct TableFileTests {
    struct Row {
        let line: Int
        let fields: [String]
    }

    struct Table {
        var rows: [Row] = []
        var directives: [[String]] = []
    }

    static let resources = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // IMProtocolTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // package root
        .appendingPathComponent("Sources/IMProtocol/Resources")

    static func load(_ version: String) throws -> Table {
        let url = resources.appendingPathComponent("messagetypes-\(version).tsv")
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(!text.contains("\r"), "\(version): LF line endings only")
        var table = Table()
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            if line.hasPrefix("@") {
                table.directives.append(fields)
            } else {
                table.rows.append(Row(line: index + 1, fields: fields))
            }
        }
        return table
    }

    static let directions: Set<String> = ["up", "down", "both", "unspecified"]

    /// The checks both tables share; returns the messageType numbers in file order.
    static func checkCommon(_ version: String, _ table: Table) -> [Int] {
        var numbers: [Int] = []
        var names: Set<String> = []
        for row in table.rows {
            #expect(row.fields.count == 4, "\(version) line \(row.line): \(row.fields.count) fields")
            guard row.fields.count == 4 else { continue }
            let number = Int(row.fields[0])
            #expect(number != nil, "\(version) line \(row.line): messageType \(row.fields[0])")
            if let number { numbers.append(number) }
            #expect(directions.contains(row.fields[1]), "\(version) line \(row.line): direction \(row.fields[1])")
            let name = row.fields[2]
            #expect(
                name.range(of: "^[a-z0-9]+(-[a-z0-9]+)*$", options: .regularExpression) != nil,
                "\(version) line \(row.line): typeName \(name)")
            #expect(names.insert(name).inserted, "\(version) line \(row.line): duplicate typeName \(name)")
            #expect(row.fields[3] == row.fields[3].trimmingCharacters(in: .whitespaces))
        }
        #expect(Set(numbers).count == numbers.count, "\(version): duplicate messageType")
        #expect(numbers == numbers.sorted(), "\(version): rows in order")
        let known = Set(numbers)
        for directive in table.directives where directive.first == "@content" {
            #expect(directive.count >= 4, "\(version): \(directive)")
            guard directive.count >= 4, let number = Int(directive[1]) else {
                Issue.record("\(version): bad @content \(directive)")
                continue
            }
            #expect(known.contains(number), "\(version): @content for missing messageType \(number)")
            #expect(["object", "enum"].contains(directive[2]), "\(version): @content kind \(directive[2])")
            if directive[2] == "object" {
                for field in directive[3...] {
                    let parts = field.split(separator: ":", omittingEmptySubsequences: false)
                    #expect(
                        parts.count == 2 && !parts[0].isEmpty
                            && ["string", "number", "boolean", "array"].contains(String(parts[1])),
                        "\(version): @content \(number) field \(field)")
                }
            }
        }
        return numbers
    }

    static func typeName(_ table: Table, _ number: Int) -> String? {
        table.rows.first { $0.fields.first == String(number) }.map { $0.fields[2] }
    }

    @Test func v1HasTypes1Through37() throws {
        let table = try Self.load("v1")
        let numbers = Self.checkCommon("v1", table)
        #expect(numbers == Array(1...37))
        #expect(table.directives.contains(["@schema", "v1"]))
        #expect(table.directives.filter { $0.first == "@event" } == [["@event", "chat"]])
        #expect(
            table.directives.filter { $0.first == "@fromType" }.map { $0.count > 1 ? $0[1] : "" } == [
                "1", "2", "3", "4",
            ])
        #expect(Self.typeName(table, 31) == "recall")
    }

    @Test func v2From1To168WithHeartbeat() throws {
        let table = try Self.load("v2")
        let numbers = Self.checkCommon("v2", table)
        #expect(numbers.first == 1)
        #expect(numbers.last == 168)
        #expect(Self.typeName(table, 31) == "heartbeat")
        #expect(Self.typeName(table, 32) == "recall")
        #expect(table.directives.contains(["@schema", "v2"]))
        #expect(table.directives.filter { $0.first == "@event" } == [["@event", "chat"], ["@event", "chatroom"]])
        #expect(
            table.directives.filter { $0.first == "@fromType" }.map { $0.count > 1 ? $0[1] : "" } == [
                "1", "2", "3", "4", "5",
            ])
        // Row 69 has no description in the table: an empty last field, not a missing one.
        let row69 = table.rows.first { $0.fields.first == "69" }
        #expect(row69?.fields.count == 4 && row69?.fields.last == "")
    }

    /// The same type keeps its name across the renumbering from 31 on.
    @Test func sharedTypesShareNames() throws {
        let v1 = try Self.load("v1")
        let v2 = try Self.load("v2")
        for n in 1...30 { #expect(Self.typeName(v1, n) == Self.typeName(v2, n), "messageType \(n)") }
        for n in 31...37 { #expect(Self.typeName(v1, n) == Self.typeName(v2, n + 1), "v1 \(n) / v2 \(n + 1)") }
    }
}
