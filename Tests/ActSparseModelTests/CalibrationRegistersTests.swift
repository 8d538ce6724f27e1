import ActSparse
import ActSparseCalibration
import ActSparseDistributed
import ActSparseTestSupport
import Foundation
import Testing

/// Calibration by register and the free-running measures: repetition, conversation files, token shares, the lazy
/// greedy path, and a run over several registers.
@Suite("calibration registers and free-running text")
struct CalibrationRegistersTests {
    /// The longest repeated run by brute force: every pair of start positions.
    static func bruteLongest(_ ids: [Int32]) -> Int {
        var best = 0
        for i in ids.indices { for j in ids.indices where j > i {
            var k = 0
            while j + k < ids.count && ids[i + k] == ids[j + k] { k += 1 }
            best = max(best, k)
        } }
        return best
    }

    @Test("distinct-n, the longest repeat (against brute force on random texts), first divergence")
    func repetitionMeasures() {
        #expect(Repetition.distinct([1, 2, 3, 4], n: 2) == 1)
        #expect(Repetition.distinct([1, 2, 1, 2, 1, 2], n: 2) == 2.0 / 5)
        #expect(Repetition.distinct([7], n: 3) == 1)
        #expect(Repetition.longestRepeat([5, 5, 5, 5]) == 3)  // overlapping occurrences: a loop
        #expect(Repetition.longestRepeat([1, 2, 3, 9, 1, 2, 3]) == 3)
        #expect(Repetition.longestRepeat([1, 2, 3]) == 0 && Repetition.longestRepeat([]) == 0)
        var s: UInt64 = 42
        for n in [2, 5, 17, 40] {
            for _ in 0..<20 {
                let ids = (0..<n).map { _ -> Int32 in s = s &* 6364136223846793005 &+ 1; return Int32(s >> 61) }
                #expect(Repetition.longestRepeat(ids) == Self.bruteLongest(ids), "\(ids)")
            }
        }
        let r = Repetition(texts: [[1, 2, 3], [4, 5]], reference: [[1, 2, 9], [4, 5, 6]])
        #expect(r.firstDivergence == [2, 2])
    }

    @Test("degenerate: loops where dense has none on more prompts than the reverse, or mean distinct-2 far below dense")
    func degeneration() {
        let fluent: [Int32] = Array(0..<48)
        let loop: [Int32] = (0..<48).map { Int32($0 % 12) }  // one 12-token sentence, four times
        let dense = Repetition(texts: [fluent])
        #expect(Repetition(texts: [loop]).degenerates(comparedTo: dense))
        #expect(!Repetition(texts: [fluent]).degenerates(comparedTo: dense))
        // Dense loops too (a list, code): the same loop is no worse.
        #expect(!Repetition(texts: [loop]).degenerates(comparedTo: Repetition(texts: [loop])))
        // A short repeat (under minRepeat) is not more repetitive on its prompt; on one prompt of four it is not
        // degeneration, alone it is (its distinct-2 is 0.13 below: past the mean's slack).
        let short: [Int32] = Array(0..<40) + Array(0..<(Int32(Repetition.minRepeat) - 1))
        #expect(Repetition(texts: [short]).compared(to: dense).worse == 0)
        let fluent4 = Repetition(texts: [fluent, fluent, fluent, fluent])
        #expect(!Repetition(texts: [short, fluent, fluent, fluent]).degenerates(comparedTo: fluent4))
        #expect(Repetition(texts: [short]).degenerates(comparedTo: dense))
        // Over several prompts a sign test: looping where dense does not on one prompt, while dense loops where the
        // plan does not on another, is a tie (the loops moved) — unless the mean distinct-2 falls too far.
        let swapped = Repetition(texts: [loop, fluent, fluent, fluent]), dense4 = Repetition(texts: [fluent, loop, fluent, fluent])
        #expect(swapped.compared(to: dense4).worse == 1 && swapped.compared(to: dense4).better == 1)
        #expect(!swapped.degenerates(comparedTo: dense4))
        let twice = Repetition(texts: [loop, loop, fluent, fluent])
        #expect(twice.compared(to: dense4).worse == 1 && twice.compared(to: dense4).better == 0)
        #expect(twice.degenerates(comparedTo: dense4))
        // No prompt far apart, but every prompt a little less diverse: the mean catches it.
        let slack = Repetition.distinctSlack, mean = Repetition.meanDistinctSlack
        var drift = dense4; drift.distinct2 = dense4.distinct2.map { $0 - (mean + slack) / 2 }
        #expect(drift.compared(to: dense4).worse == 0 && drift.compared(to: dense4).better == 0)
        #expect(drift.degenerates(comparedTo: dense4))  // a fall between the mean's slack and the per-prompt one
    }

    @Test("conversation files: turns, continuation lines, several chats; text before the first turn is refused naming the line")
    func chats() throws {
        let chats = try CalibrationText.parseChats("""
            user: Hi
            there
            assistant: Hello!
            ---
            system: Be brief.
            user: 2+2?
            assistant: 4
            """, name: "c.chat.txt")
        #expect(chats == [[ChatMessage(.user, "Hi\nthere"), ChatMessage(.assistant, "Hello!")],
                          [ChatMessage(.system, "Be brief."), ChatMessage(.user, "2+2?"), ChatMessage(.assistant, "4")]])
        #expect { _ = try CalibrationText.parseChats("hello\nuser: x", name: "c.chat.txt") } throws: { "\($0)".contains("line 1") }
    }

    @Test("the repository's registers load by name, the chat one as conversations")
    func repositoryRegisters() throws {
        let dir = Repository.root.appendingPathComponent("launch/data/calibration").path
        let texts = try CalibrationText.load(dir) { try String(contentsOfFile: $0, encoding: .utf8) }
        #expect(texts.map(\.name) == ["chat", "code", "dialogue", "lists", "prose"])
        guard case .chats(let c) = texts[0].content else { Issue.record("chat is not conversations"); return }
        #expect(c.count >= 3 && c.allSatisfy { $0.contains { $0.role == .assistant } })
    }

    @Test("token shares: equal, a short register's leftover to the others, never more than a register has")
    func shares() {
        #expect(Calibration.shares([1000, 1000], total: 1000) == [500, 500])
        #expect(Calibration.shares([100, 1000, 1000], total: 1000) == [100, 450, 450])
        #expect(Calibration.shares([10, 20], total: 1000) == [10, 20])
        #expect(Calibration.shares([], total: 5) == [])
    }

    @Test("the lazy greedy path takes the same steps as measuring every kind when costs rise with sparsity, with fewer measurements")
    func lazyGreedy() throws {
        let t = SparsityAllocationTests().table()
        // Convex, separable costs: kind k costs w_k · level², so the old ratio of a kind is a lower bound.
        let weights = [3.1416, 1.0, 0.5772, 2.7183]  // no two steps tie (a tie may go either way)
        var calls = 0
        func measure(_ lv: [Double]) -> ThresholdTable.Point {
            calls += 1
            let cost = zip(weights, lv).reduce(0) { $0 + $1.0 * $1.1 * $1.1 }
            return .init(levels: lv, byteSparsity: t.byteSparsity(levels: lv), deltaNLL: cost, kl: cost)
        }
        let full = t.greedyPath(kinds: SparsitySite.allCases, maxByteSparsity: 0.6, stopAt: 10, measurePoint: measure)
        let fullCalls = calls
        calls = 0
        let lazy = t.greedyPath(kinds: SparsitySite.allCases, maxByteSparsity: 0.6, stopAt: 10, lazy: true, measurePoint: measure)
        #expect(lazy.map(\.levels) == full.map(\.levels))
        #expect(calls < fullCalls, "lazy \(calls) vs full \(fullCalls) measurements")
        #expect(fullCalls <= t.greedyMeasurements(kinds: SparsitySite.allCases, from: [0, 0, 0, 0], maxByteSparsity: 0.6))
    }

    @Test("several registers: a loss per register, the plan's cost is the worst one, dense NLL per register")
    func registersRun() throws {
        let path = try TinyGGUF.write(TinyGGUF().bytes())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let llm = try DistributedLlama(comm: LocalCommunicator(), path: path, mode: .gather, threads: 2, context: 64)
        let texts = [CalibrationText(name: "fox", .text(CalibrationTests.text)),
                     CalibrationText(name: "digits", .text(String(repeating: "0123456789 ", count: 40))),
                     CalibrationText(name: "chat", .chats([[ChatMessage(.user, "hello there, how are you today?"),
                                                            ChatMessage(.assistant, String(repeating: "fine, thanks. ", count: 12))]]))]
        let table = try Calibration(llm, options: .init(tokens: 900, chunk: 64, probeTokens: 0, heldOut: 96)).run(texts: texts)
        let held = try #require(table.heldOut)
        let regs = try #require(held.registers)
        #expect(regs.map(\.name) == ["fox", "digits", "chat"] && regs.allSatisfy { $0.tokens == 31 && $0.denseNLL.isFinite })
        for p in held.paths.joined() {
            let losses = try #require(p.registers)
            #expect(losses.count == 3 && abs(p.cost - max(p.deltaNLL, p.kl ?? p.deltaNLL, losses.max()!)) < 1e-12)
        }
        var p = try #require(held.allocated.first)
        p.degenerates = true
        #expect(p.cost == .infinity)
    }
}
