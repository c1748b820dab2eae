import JSONScan
import Testing

/// The nesting limit (`maxDepth`, 128): a value inside `k` containers is at depth `k`, and allowed up to the limit,
/// whichever path reads it (members' strings and numbers are read without the general value call).
@Suite struct DepthLimitTests {
    static func valid(_ json: String) -> Bool {
        Array(json.utf8).withUnsafeBytes { JSONScanner($0).isValidDocument() }
    }

    @Test(arguments: 125...131)
    func scalarsAtTheLimit(k: Int) {
        for scalar in ["1", "-2.5e3", "\"s\"", "\"a longer string value\"", "true", "null"] {
            let objects = String(repeating: "{\"a\":", count: k) + scalar + String(repeating: "}", count: k)
            let arrays = String(repeating: "[", count: k) + scalar + String(repeating: "]", count: k)
            #expect(Self.valid(objects) == (k <= 128), "\(k) objects around \(scalar)")
            #expect(Self.valid(arrays) == (k <= 128), "\(k) arrays around \(scalar)")
        }
        // An empty container innermost is itself at depth k - 1.
        #expect(Self.valid(String(repeating: "[", count: k) + String(repeating: "]", count: k)) == (k <= 129))
        #expect(
            Self.valid(String(repeating: "{\"a\":", count: k - 1) + "{}" + String(repeating: "}", count: k - 1))
                == (k <= 129))
    }
}
