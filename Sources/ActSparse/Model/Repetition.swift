/// How repetitive free-running text is, per continuation (token ids, one per prompt): distinct-2 and -3 (unique
/// n-grams over all n-grams), the longest run of tokens that occurs twice (occurrences may overlap: a loop), and,
/// against the dense model's continuations, the first position that differs. Calibration keeps a plan out of a
/// budget when its text degenerates where the dense text does not; `eval --report` prints the same measures.
public struct Repetition: Codable, Equatable, Sendable {
    /// [prompt] unique 2-grams / 2-grams and unique 3-grams / 3-grams of the continuation (1 when it has none)
    public var distinct2: [Double], distinct3: [Double]
    /// [prompt] tokens in the longest sequence that occurs at least twice
    public var longestRepeat: [Int]
    /// [prompt] the first generated position that differs from the reference (its length if none); nil without one
    public var firstDivergence: [Int]?

    /// A plan's text degenerates on a prompt when its longest repeat reaches `minRepeat` tokens and exceeds the
    /// dense text's by more than `repeatSlack`, or its distinct-2 falls more than `distinctSlack` below dense's
    /// (a sentence said twice is 10–15 tokens; a list or code repeats short structure in dense text too).
    public static let minRepeat = 8, repeatSlack = 4, distinctSlack = 0.15

    public init(texts: [[Int32]], reference: [[Int32]]? = nil) {
        distinct2 = texts.map { Repetition.distinct($0, n: 2) }
        distinct3 = texts.map { Repetition.distinct($0, n: 3) }
        longestRepeat = texts.map(Repetition.longestRepeat)
        firstDivergence = reference.map { refs in
            zip(texts, refs).map { t, r in (0..<min(t.count, r.count)).first { t[$0] != r[$0] } ?? min(t.count, r.count) }
        }
    }

    /// Unique n-grams / n-grams of `ids` (1 when shorter than n + 1 tokens).
    public static func distinct(_ ids: [Int32], n: Int) -> Double {
        guard n >= 1, ids.count >= n + 1 else { return 1 }
        var seen = Set<[Int32]>()
        for i in 0...(ids.count - n) { seen.insert(Array(ids[i..<(i + n)])) }
        return Double(seen.count) / Double(ids.count - n + 1)
    }

    /// The length of the longest token sequence that starts at two different positions of `ids` (O(n²), n is a
    /// continuation of tens to hundreds of tokens).
    public static func longestRepeat(_ ids: [Int32]) -> Int {
        let n = ids.count
        guard n >= 2 else { return 0 }
        // run[j]: length of the common run starting at (i, j), i < j, computed from the end.
        var run = [Int](repeating: 0, count: n + 1), best = 0
        for i in stride(from: n - 2, through: 0, by: -1) {
            var next = [Int](repeating: 0, count: n + 1)
            for j in (i + 1)..<n where ids[i] == ids[j] {
                next[j] = run[j + 1] + 1
                best = max(best, next[j])
            }
            run = next
        }
        return best
    }

    /// Whether this text degenerates on some prompt where `dense` does not (see `minRepeat`).
    public func degenerates(comparedTo dense: Repetition) -> Bool {
        for k in 0..<min(longestRepeat.count, dense.longestRepeat.count) {
            if longestRepeat[k] >= Repetition.minRepeat && longestRepeat[k] > dense.longestRepeat[k] + Repetition.repeatSlack {
                return true
            }
            if distinct2[k] < dense.distinct2[k] - Repetition.distinctSlack { return true }
        }
        return false
    }

    /// Means over prompts (distinct-2, distinct-3), the longest repeat over all, and the mean first divergence.
    public var summary: (distinct2: Double, distinct3: Double, longestRepeat: Int, firstDivergence: Double?) {
        func mean(_ v: [Double]) -> Double { v.isEmpty ? 1 : v.reduce(0, +) / Double(v.count) }
        return (mean(distinct2), mean(distinct3), longestRepeat.max() ?? 0,
                firstDivergence.map { mean($0.map(Double.init)) })
    }
}
