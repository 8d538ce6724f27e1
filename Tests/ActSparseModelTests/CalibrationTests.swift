import ActSparse
import ActSparseCalibration
import ActSparseDistributed
import ActSparseTestSupport
import Foundation
import Testing

/// The calibration library on its own (no CLI): a thresholds table with every site, output errors and a held-out
/// budget from a text on a tiny model; bad options and multi-rank use refused before anything runs.
@Suite("calibration as a library")
struct CalibrationTests {
    /// Text the tiny byte-level model tokenizes to about one token per character.
    static let text = String(repeating: "the quick brown fox jumps over the lazy dog while the cat sleeps. ", count: 12)

    @Test("a whole run: quantiles of every site, output errors, held-out ΔNLL paths and the budget's plan; progress reported")
    func wholeRun() throws {
        let path = try TinyGGUF.write(TinyGGUF().bytes())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let llm = try DistributedLlama(comm: LocalCommunicator(), path: path, mode: .gather, threads: 2, context: 64)
        var updates: [ActSparse.Progress.Update] = []
        let options = Calibration.Options(tokens: 512, chunk: 64, probeTokens: 64, heldOut: 64, maxDeltaNLL: 0.05)
        let table = try Calibration(llm, options: options, progress: { updates.append($0) }).run(text: Self.text)
        #expect(table.modelWide && table.canAllocate && table.layers == llm.config.layers)
        // Quantiles rise with the target at every site of every layer.
        for site in SparsitySite.allCases {
            let rows = try #require(table.rows(site))
            #expect(rows.allSatisfy { zip($0, $0.dropFirst()).allSatisfy { $0 <= $1 } && $0.last! > 0 }, "\(site.name)")
        }
        let errors = try #require(table.outputError)
        #expect(errors.count == table.layers)
        let held = try #require(table.heldOut)
        #expect(held.tokens == 63 && !held.uniform.isEmpty && !held.allocated.isEmpty && held.denseNLL.isFinite)
        let budget = try #require(table.budget)
        #expect(budget.maxDeltaNLL == 0.05 && budget.deltaNLL <= 0.05)
        // The run left no capture hook behind and reported each stage, ending each with a final update.
        #expect(llm.model?.capture == nil && llm.mlps.allSatisfy { $0.capture == nil })
        let labels = Set(updates.filter(\.finished).map(\.label))
        #expect(labels == ["calibrating: quantiles", "calibrating: output errors", "calibrating: held-out ΔNLL",
                           "calibrating: free-running check"], "\(labels)")
        // The budget's plan was checked against dense free-running text, and the chosen point is not degenerate.
        let dense = try #require(held.denseText)
        // One register: its held-out opening and up to two from its calibration part.
        let n = dense.distinct2.count
        #expect((1...Calibration.Options.checkOpenings).contains(n) && dense.longestRepeat.count == n, "\(n) prompts")
        let pick = try #require(ThresholdTable.best(paths: held.paths, within: 0.05))
        #expect(pick.degenerates != true && pick.byteSparsity == budget.byteSparsity)
    }

    @Test("bad options and a text shorter than one chunk are typed errors; nothing runs")
    func refusals() throws {
        #expect(Calibration.Options(tokens: 32, chunk: 64).problem != nil)
        #expect(Calibration.Options(heldOut: 1).problem != nil)
        #expect(Calibration.Options(heldOut: 0, maxDeltaNLL: 0.1).problem != nil)
        #expect(Calibration.Options(maxDeltaNLL: -.infinity).problem != nil)
        #expect(Calibration.Options().problem == nil)
        let path = try TinyGGUF.write(TinyGGUF().bytes())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let llm = try DistributedLlama(comm: LocalCommunicator(), path: path, mode: .gather, threads: 1, context: 64)
        #expect(throws: ActSparseError.self) { _ = try Calibration(llm, options: .init(heldOut: 1)) }
        let short = try Calibration(llm, options: .init(tokens: 512, chunk: 64, probeTokens: 0, heldOut: 0))
        #expect { _ = try short.run(text: "too short", name: "short.txt") } throws: { "\($0)".contains("short.txt") }
    }
}
