/// How repetitive free-running text is, per continuation (token ids, one per prompt): distinct-2 and -3 (unique
/// n-grams over all n-grams), the longest run of tokens that occurs twice (occurrences may overlap: a loop), and,
/// against the dense model's continuations, the first position that differs. Calibration keeps a plan out of a
/// budget when its text repeats itself more than the dense text (`degenerates`); `eval --report` prints the same.
public struct Repetition: Codable, Equatable, Sendable {
    /// [prompt] unique 2-grams / 2-grams and unique 3-grams / 3-grams of the continuation (1 when it has none)
    public var distinct2: [Double], distinct3: [Double]
    /// [prompt] tokens in the longest sequence that occurs at least twice
    public var longestRepeat: [Int]
    /// [prompt] the first generated position that differs from the reference (its length if none); nil without one
    public var firstDivergence: [Int]?

    /// One text is more repetitive than another on a prompt when its longest repeat reaches `minRepeat` tokens and
    /// exceeds the other's by more than `repeatSlack`, or its distinct-2 falls more than `distinctSlack` below the
    /// other's (a sentence said twice is 10–15 tokens; a list or code repeats short structure in dense text too).
    public static let minRepeat = 8, repeatSlack = 4, distinctSlack = 0.15
    /// The largest fall of mean distinct-2 below dense's that is not degeneration.
    public static let meanDistinctSlack = 0.05

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

    /// Whether this text repeats itself more than `dense` does: on more prompts more repetitive than dense than the
    /// other way round, or with mean distinct-2 more than `meanDistinctSlack` below dense's. A sign test, not "on any
    /// prompt": greedy text of a small model flips into and out of loops at the slightest change, so a plan as
    /// fluent as dense still loops on some prompt where dense does not (SmolLM2 at 15 % of FC bytes: on 2 of 15
    /// prompts, while dense looped on 3 where it did not).
    public func degenerates(comparedTo dense: Repetition) -> Bool {
        let c = compared(to: dense)
        return c.worse > c.better || summary.distinct2 < dense.summary.distinct2 - Repetition.meanDistinctSlack
    }

    /// Prompts on which this text is more repetitive than `dense` (worse) and on which dense's is (better).
    public func compared(to dense: Repetition) -> (worse: Int, better: Int) {
        let n = min(longestRepeat.count, dense.longestRepeat.count)
        func more(_ a: Repetition, _ b: Repetition, _ k: Int) -> Bool {
            (a.longestRepeat[k] >= Repetition.minRepeat && a.longestRepeat[k] > b.longestRepeat[k] + Repetition.repeatSlack)
                || a.distinct2[k] < b.distinct2[k] - Repetition.distinctSlack
        }
        return ((0..<n).filter { more(self, dense, $0) }.count, (0..<n).filter { more(dense, self, $0) }.count)
    }

    /// Means over prompts (distinct-2, distinct-3), the longest repeat over all, and the mean first divergence.
    public var summary: (distinct2: Double, distinct3: Double, longestRepeat: Int, firstDivergence: Double?) {
        func mean(_ v: [Double]) -> Double { v.isEmpty ? 1 : v.reduce(0, +) / Double(v.count) }
        return (mean(distinct2), mean(distinct3), longestRepeat.max() ?? 0,
                firstDivergence.map { mean($0.map(Double.init)) })
    }
}
