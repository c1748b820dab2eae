import Foundation
import ImscopeCore
import Pipeline
import Records
import Rendering
import Testing

@Suite struct CatalogueTests {
    /// Docs/diagnostics.md lists exactly the codes the binary can raise, with the same severities.
    @Test func docsMatchCatalogue() throws {
        let text = try String(contentsOf: repoRoot.appendingPathComponent("Docs/diagnostics.md"), encoding: .utf8)
        var documented: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            documented[cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))] = cells[1]
        }
        let catalogue = Dictionary(uniqueKeysWithValues: DiagnosticKind.catalogue.map { ($0.code, $0.severity.name) })
        #expect(documented == catalogue)
    }

    /// Codes are unique, layer-prefixed snake_case.
    @Test func codesAreWellFormed() {
        let codes = DiagnosticKind.catalogue.map(\.code)
        #expect(Set(codes).count == codes.count)
        for code in codes {
            #expect(code.wholeMatch(of: /[a-z0-9]+\.[a-z0-9_]+/) != nil, "\(code)")
        }
    }
}
