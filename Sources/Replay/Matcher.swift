/// Pairs the server messages one client received in the replay with those its recorded counterpart received, and
/// compares each pair's values.
///
/// Only messages with the same ``MessageKey`` pair. Ordered (the default), pairing is a longest common subsequence of
/// keys, as diff aligns lines, so one missing message does not shift every later pairing; among alignments of equal
/// length it takes the one with most value-equal pairs. Unordered, each client's messages are multisets: value-equal
/// pairs first, then the rest of each key in order.
public struct Matcher: Sendable {
    public var rules: IgnoreRules
    public var ordered: Bool
    /// The most cells the ordered alignment's table may have (expected times actual messages left once equal ends
    /// are trimmed; 8 bytes each). Beyond it, for a client whose replay went far off the recording, a greedy
    /// in-order pairing is used instead: each expected message takes the next actual one with its key.
    public var alignmentLimit: Int

    public init(rules: IgnoreRules = IgnoreRules(), ordered: Bool = true, alignmentLimit: Int = 16_000_000) {
        self.rules = rules
        self.ordered = ordered
        self.alignmentLimit = alignmentLimit
    }

    /// The outcomes for one client. Ordered: in alignment order (a gap's missing messages before its unexpected
    /// ones). Unordered: expected messages in recorded order, then the unexpected in arrival order.
    public func match(expected: [ServerMessage], actual: [ServerMessage]) -> [Outcome] {
        let ek = expected.map { MessageKey($0, clientMsgIds: rules.clientMsgIds) }
        let ak = actual.map { MessageKey($0, clientMsgIds: rules.clientMsgIds) }
        return ordered ? alignOrdered(expected, ek, actual, ak) : alignUnordered(expected, ek, actual, ak)
    }

    /// One client's verdict: its messages matched, under the name and recorded identity the reports show.
    public func verdict(
        name: String, conns: [Int], sid: String? = nil, expected: [ServerMessage], actual: [ServerMessage],
        error: String? = nil
    ) -> ClientVerdict {
        ClientVerdict(
            name: name, conns: conns, sid: sid, outcomes: match(expected: expected, actual: actual), error: error)
    }

    private func alignOrdered(
        _ e: [ServerMessage], _ ek: [MessageKey], _ a: [ServerMessage], _ ak: [MessageKey]
    ) -> [Outcome] {
        var comparisons: [Int: Comparison] = [:]
        func comparison(_ i: Int, _ j: Int) -> Comparison {
            if let c = comparisons[i * a.count + j] { return c }
            let c = rules.compare(e[i], a[j])
            comparisons[i * a.count + j] = c
            return c
        }
        // Trim the common prefix and suffix of equal pairs: the usual case, and it keeps the table small.
        var lo = 0
        while lo < e.count, lo < a.count, ek[lo] == ak[lo], comparison(lo, lo).isEqual { lo += 1 }
        var hiE = e.count
        var hiA = a.count
        while hiE > lo, hiA > lo, ek[hiE - 1] == ak[hiA - 1], comparison(hiE - 1, hiA - 1).isEqual {
            hiE -= 1
            hiA -= 1
        }
        // score[i][j]: best alignment of e[i..<hiE] with a[j..<hiA]; a pair weighs more than all value-equal bonuses
        // together, so the number of pairs comes first.
        let n = hiE - lo
        let m = hiA - lo
        if (n + 1) * (m + 1) > alignmentLimit {
            return alignGreedy(e, ek, a, ak, lo: lo, hiE: hiE, hiA: hiA, comparison: comparison)
        }
        let pairWeight = min(n, m) + 1
        var score = Array(repeating: Array(repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                var best = max(score[i + 1][j], score[i][j + 1])
                if ek[lo + i] == ak[lo + j] {
                    let pair = pairWeight + (comparison(lo + i, lo + j).isEqual ? 1 : 0) + score[i + 1][j + 1]
                    best = max(best, pair)
                }
                score[i][j] = best
            }
        }
        var outcomes: [Outcome] = (0..<lo).map { Outcome.paired(e[$0], a[$0], comparison($0, $0)) }
        var missing: [Outcome] = []
        var unexpected: [Outcome] = []
        func flushGap() {
            outcomes += missing + unexpected
            missing = []
            unexpected = []
        }
        var i = 0
        var j = 0
        while i < n || j < m {
            if i < n, j < m, ek[lo + i] == ak[lo + j],
                score[i][j] == pairWeight + (comparison(lo + i, lo + j).isEqual ? 1 : 0) + score[i + 1][j + 1]
            {
                flushGap()
                outcomes.append(.paired(e[lo + i], a[lo + j], comparison(lo + i, lo + j)))
                i += 1
                j += 1
            } else if i < n, j == m || score[i][j] == score[i + 1][j] {
                missing.append(Outcome(status: .missing, expected: e[lo + i], actual: nil))
                i += 1
            } else {
                unexpected.append(Outcome(status: .unexpected, expected: nil, actual: a[lo + j]))
                j += 1
            }
        }
        flushGap()
        for k in 0..<(e.count - hiE) {
            outcomes.append(.paired(e[hiE + k], a[hiA + k], comparison(hiE + k, hiA + k)))
        }
        return outcomes
    }

    /// In order, without a table: each expected message pairs with the next actual one that has its key (those
    /// skipped over are unexpected), or is missing when none is left. The trimmed ends pair as they are.
    private func alignGreedy(
        _ e: [ServerMessage], _ ek: [MessageKey], _ a: [ServerMessage], _ ak: [MessageKey], lo: Int, hiE: Int,
        hiA: Int, comparison: (Int, Int) -> Comparison
    ) -> [Outcome] {
        var outcomes: [Outcome] = (0..<lo).map { Outcome.paired(e[$0], a[$0], comparison($0, $0)) }
        var j = lo
        for i in lo..<hiE {
            guard let k = (j..<hiA).first(where: { ak[$0] == ek[i] }) else {
                outcomes.append(Outcome(status: .missing, expected: e[i], actual: nil))
                continue
            }
            outcomes += (j..<k).map { Outcome(status: .unexpected, expected: nil, actual: a[$0]) }
            outcomes.append(.paired(e[i], a[k], comparison(i, k)))
            j = k + 1
        }
        outcomes += (j..<hiA).map { Outcome(status: .unexpected, expected: nil, actual: a[$0]) }
        for k in 0..<(e.count - hiE) {
            outcomes.append(.paired(e[hiE + k], a[hiA + k], comparison(hiE + k, hiA + k)))
        }
        return outcomes
    }

    private func alignUnordered(
        _ e: [ServerMessage], _ ek: [MessageKey], _ a: [ServerMessage], _ ak: [MessageKey]
    ) -> [Outcome] {
        var byKey: [MessageKey: [Int]] = [:]
        for (j, key) in ak.enumerated() { byKey[key, default: []].append(j) }
        var pairedWith = [Int?](repeating: nil, count: e.count)
        var comparisons = [Comparison?](repeating: nil, count: e.count)
        var used = Set<Int>()
        // Value-equal pairs first, so a changed message does not take the actual an equal one needed.
        for i in e.indices {
            for j in byKey[ek[i]] ?? [] where !used.contains(j) {
                let c = rules.compare(e[i], a[j])
                if c.isEqual {
                    pairedWith[i] = j
                    comparisons[i] = c
                    used.insert(j)
                    break
                }
            }
        }
        for i in e.indices where pairedWith[i] == nil {
            if let j = (byKey[ek[i]] ?? []).first(where: { !used.contains($0) }) {
                pairedWith[i] = j
                comparisons[i] = rules.compare(e[i], a[j])
                used.insert(j)
            }
        }
        var outcomes: [Outcome] = e.indices.map { i in
            guard let j = pairedWith[i] else { return Outcome(status: .missing, expected: e[i], actual: nil) }
            return .paired(e[i], a[j], comparisons[i]!)
        }
        for j in a.indices where !used.contains(j) {
            outcomes.append(Outcome(status: .unexpected, expected: nil, actual: a[j]))
        }
        return outcomes
    }
}
