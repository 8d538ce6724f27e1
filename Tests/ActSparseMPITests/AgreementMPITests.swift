import ActSparse
import ActSparseTestSupport
import Foundation
import Testing

/// The mismatch matrix: one setting differs on one rank (mpirun's `A : B` form). Every job must end within 5 s,
/// non-zero, with one line on every rank naming the setting and both values — before, a different --mode
/// corrupted rank 0's heap and a different --shard or command ended in MPI_ERR_TRUNCATE naming nothing.
@Suite("ranks agree on every setting", .serialized, Requires.mpirun)
struct AgreementMPITests {
    static let model: String? = try? TinyGGUF.write(TinyGGUF().bytes(), name: "agree")

    struct Case: CustomStringConvertible, Sendable {
        let setting: String
        /// Arguments of rank 0 and of the rank that differs (after the common ones).
        let a: [String], b: [String]
        /// What the line must say: the setting's name and both values.
        let name: String, valueA: String, valueB: String
        var description: String { setting }
    }

    static let cases: [Case] = [
        Case(setting: "command", a: [], b: ["eval-instead"], name: "command", valueA: "generate", valueB: "eval"),
        Case(setting: "--shard", a: ["--shard", "model"], b: ["--shard", "mlp"], name: "--shard", valueA: "model", valueB: "mlp"),
        Case(setting: "--mode", a: ["--mode", "reduce"], b: ["--mode", "gather"], name: "--mode", valueA: "reduce", valueB: "gather"),
        Case(setting: "--context", a: ["--context", "64"], b: ["--context", "128"], name: "--context", valueA: "64", valueB: "128"),
        Case(setting: "--kv", a: ["--kv", "f16"], b: ["--kv", "f32"], name: "--kv", valueA: "f16", valueB: "f32"),
        Case(setting: "--activations", a: ["--activations", "int8"], b: ["--activations", "f32"], name: "--activations",
             valueA: "int8", valueB: "f32"),
        Case(setting: "--sparsity", a: ["--sparsity", "0"], b: ["--sparsity", "0.3"], name: "--sparsity", valueA: "0.0", valueB: "0.3"),
        Case(setting: "--scope", a: ["--sparsity", "0"], b: ["--sparsity", "0", "--scope", "model"], name: "--scope",
             valueA: "mlp", valueB: "model"),
        Case(setting: "--budget", a: ["--budget", "0.1"], b: ["--budget", "0.2"], name: "--budget", valueA: "0.1", valueB: "0.2"),
    ]

    /// The common arguments of a 2-rank generate on the tiny model.
    static func generate(_ model: String, _ extra: [String]) -> [String] {
        ["generate", "--model", model, "--tokens", "3", "--prompt", "the", "--threads", "1"] + extra
    }

    /// Runs the job and checks the end: non-zero within 5 s, the line on every rank.
    func expectMismatch(_ r: MPILaunch.Result, ranks: Int = 2, _ needles: [String], _ what: String,
                        sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status != 0 && r.status != 124, "\(what): exit \(r.status)\n\(r.err)", sourceLocation: sourceLocation)
        #expect(r.seconds < 5, "\(what): took \(r.seconds) s\n\(r.err)", sourceLocation: sourceLocation)
        let lines = r.err.split(separator: "\n").filter { l in needles.allSatisfy { l.contains($0) } }
        for rank in 0..<ranks {
            #expect(lines.contains { $0.contains("rank \(rank)/\(ranks):") },
                    "\(what): rank \(rank) did not say \(needles)\n\(r.err)", sourceLocation: sourceLocation)
        }
        #expect(!r.err.contains("MPI_ERR_TRUNCATE") && !r.err.contains("free()"), "\(what): \(r.err)",
                sourceLocation: sourceLocation)
    }

    @Test("one setting differs on rank 1: every rank names it and both values, the job ends in < 5 s", arguments: cases)
    func setting(_ c: Case) throws {
        let model = try #require(Self.model)
        let b = c.b == ["eval-instead"]
            ? ["eval", "--model", model, "--text", Repository.root.appendingPathComponent("launch/data/eval.txt").path, "--threads", "1"]
            : Self.generate(model, c.b)
        let r = try MPILaunch.mpmd([(nil, Self.generate(model, c.a)), (nil, b)], timeout: 30)
        expectMismatch(r, ["ranks disagree on \(c.name):", "rank 0 has \(c.valueA)", "rank 1 has \(c.valueB)"], c.setting)
    }

    @Test("three ranks, the last differs: all three name rank 2")
    func thirdRank() throws {
        let model = try #require(Self.model)
        let same = Self.generate(model, ["--kv", "f16"])
        let r = try MPILaunch.mpmd([(nil, same), (nil, same), (nil, Self.generate(model, ["--kv", "q8_0"]))], timeout: 30)
        expectMismatch(r, ranks: 3, ["ranks disagree on --kv: rank 0 has f16, rank 2 has q8_0"], "3 ranks")
    }

    @Test("different thresholds files (by content) are a difference; a rank without the file is not")
    func thresholds() throws {
        let model = try #require(Self.model)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("agree-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "{\"a\": 1}".write(toFile: dir + "/a.json", atomically: true, encoding: .utf8)
        try "{\"a\": 2}".write(toFile: dir + "/b.json", atomically: true, encoding: .utf8)
        let r = try MPILaunch.mpmd([(nil, Self.generate(model, ["--thresholds", dir + "/a.json"])),
                                    (nil, Self.generate(model, ["--thresholds", dir + "/b.json"]))], timeout: 30)
        expectMismatch(r, ["ranks disagree on thresholds (xxh64 of the file):"], "thresholds")
        // Rank 1 cannot read it (as on a node without the cache): agreed, and rank 0's refusal of the bad file
        // is what ends the job — not a disagreement.
        let missing = try MPILaunch.mpmd([(nil, Self.generate(model, ["--thresholds", dir + "/a.json"])),
                                          (nil, Self.generate(model, ["--thresholds", dir + "/none.json"]))], timeout: 30)
        #expect(!missing.err.contains("ranks disagree"), "\(missing.err)")
    }

    @Test("another build of actsparse on rank 1 is named by its build id")
    func build() throws {
        let model = try #require(Self.model)
        let version = try MPILaunch.run(["--version"])
        let id = try #require(version.out.split(separator: " ").first { $0.count == 41 && $0.hasSuffix(")") }
            .map { String($0.dropLast()) }, "no build id in \(version.out)")
        // A copy of the binary whose build-id note differs in one byte: another build, as far as ranks can tell.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: MPILaunch.actsparse)))
        let idBytes = stride(from: 0, to: id.count, by: 2).compactMap {
            UInt8(id[id.index(id.startIndex, offsetBy: $0)..<id.index(id.startIndex, offsetBy: $0 + 2)], radix: 16)
        }
        let at = try #require(bytes.indices.dropLast(idBytes.count).first { bytes[$0] == idBytes[0]
            && Array(bytes[$0..<($0 + idBytes.count)]) == idBytes }, "build id not found in the binary")
        bytes[at + idBytes.count - 1] ^= 0xFF
        let other = FileManager.default.temporaryDirectory.appendingPathComponent("actsparse-other-\(UUID())").path
        try Data(bytes).write(to: URL(fileURLWithPath: other))
        defer { try? FileManager.default.removeItem(atPath: other) }
        chmod(other, 0o755)
        let r = try MPILaunch.mpmd([(nil, Self.generate(model, [])), (other, Self.generate(model, []))], timeout: 30)
        expectMismatch(r, ["ranks disagree on actsparse build:", id], "build")
    }

    @Test("a copy of the model with other weights (same header) is refused naming the tensor; an identical copy runs")
    func weights() throws {
        let model = try #require(Self.model)
        let good = try Data(contentsOf: URL(fileURLWithPath: model))
        let copy = try TinyGGUF.write([UInt8](good), name: "agree-copy")
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let fine = try MPILaunch.mpmd([(nil, Self.generate(model, [])), (nil, Self.generate(copy, []))], timeout: 30)
        #expect(fine.status == 0, "an identical copy was refused: \(fine.err)")
        var bad = [UInt8](good)
        bad[bad.count - 7] ^= 0x40  // inside the last tensor's data (output_norm.weight)
        let other = try TinyGGUF.write(bad, name: "agree-bad")
        defer { try? FileManager.default.removeItem(atPath: other) }
        let r = try MPILaunch.mpmd([(nil, Self.generate(model, [])), (nil, Self.generate(other, []))], timeout: 30)
        expectMismatch(r, ["rank 1's model file has other weights than rank 0's", "tensor output_norm.weight"], "weights")
    }

    @Test("a rank stuck before MPI starts: the others leave MPI_Init within the load timeout, naming why")
    func startStall() throws {
        let model = try #require(Self.model)
        let r = try MPILaunch.run(Self.generate(model, ["--load-timeout", "2"]), ranks: 2, timeout: 30,
                                  env: ["ACTSPARSE_FAULT": "1:start:stall"])
        #expect(r.status != 0 && r.status != 124, "exit \(r.status)\n\(r.err)")
        #expect(r.seconds < 5, "took \(r.seconds) s\n\(r.err)")
        #expect(r.err.contains("rank 0: MPI did not start within 2.0 s"), "\(r.err)")
    }
}
