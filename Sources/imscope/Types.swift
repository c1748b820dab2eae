import ArgumentParser
import IMProtocol
import Pipeline
import Records
import Rendering

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension IMScope {
    struct Types: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "types",
            abstract: "List a messageType table: number, short name, direction and the table's own description.")

        @Option(help: ArgumentHelp("The table: v1, v2 or a table file.", valueName: "v1|v2|file"))
        var schema = "v2"

        @Option(help: "Output format: text (default on a terminal) or jsonl.")
        var format: OutputFormat?

        func run() throws {
            let table: MessageTypeTable
            do throws(MessageTypeTable.LoadError) {
                table = try MessageTypeTable.load(schema)
            } catch {
                printError("imscope: \(error.description)")
                throw ExitCode(1)
            }
            let out = OutputBuffer(fd: 1)
            let jsonl = (format ?? (isatty(1) == 1 ? .text : .jsonl)) != .text
            let nameWidth = (table.rows.map { $0.typeName.count }.max() ?? 0) + 2
            for row in table.rows {
                if jsonl {
                    out.append("{\"messageType\":" as StaticString)
                    out.append(int: row.messageType)
                    out.append(byte: UInt8(ascii: ","))
                    out.appendTypeInfoFields(row)
                    out.append("}" as StaticString)
                } else {
                    let number = String(row.messageType)
                    out.append(String(repeating: " ", count: max(0, 4 - number.count)) + number + "  ")
                    out.append(pad(row.typeName, nameWidth))
                    out.append(pad(row.direction.rawValue, 12))
                    out.append(row.description)
                }
                out.append(byte: 0x0A)
            }
            out.flush()
        }
    }
}
