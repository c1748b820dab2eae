import ArgumentParser
import ImscopeCore
import Pipeline
import Records
import Rendering

extension IMScope {
    struct Diagnostics: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "diagnostics",
            abstract: "List every diagnostic code with its severity and meaning.")

        @Option(help: "Output format: text or jsonl.")
        var format: OutputFormat = .text

        func run() throws {
            let out = OutputBuffer(fd: 1)
            for kind in DiagnosticKind.catalogue {
                if format == .text {
                    out.append(pad(kind.code, 26))
                    out.append(pad(kind.severity.name, 9))
                    out.append(kind.summary)
                } else {
                    out.append("{\"code\":" as StaticString)
                    out.appendJSONString(kind.code)
                    out.append(",\"layer\":" as StaticString)
                    out.appendJSONString(String(kind.layer))
                    out.append(",\"severity\":" as StaticString)
                    out.appendJSONString(kind.severity.name)
                    out.append(",\"summary\":" as StaticString)
                    out.appendJSONString(kind.summary)
                    out.append("}" as StaticString)
                }
                out.append(byte: 0x0A)
            }
            out.flush()
        }
    }
}

func pad(_ s: String, _ width: Int) -> String { s + String(repeating: " ", count: max(1, width - s.count)) }
