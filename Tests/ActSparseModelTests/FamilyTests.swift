import ActSparse
import ActSparseTools
import ActSparseDistributed
import ActSparseTestSupport
import Foundation
import Testing

/// Every family × type mix on tiny synthetic files (`actsparse synth --preset tiny`): decode and prefill logits
/// against the Double reference forward, 1-rank sparse at t = 0 equal to dense, and a sliding window that bites.
@Suite("families on synthetic files")
struct FamilyTests {
    static let cases: [(String, Synthesizer.Mix)] = Architecture.known.flatMap { a in
        Synthesizer.Mix.allCases.map { (a.name, $0) }
    }

    func write(_ arch: String, _ mix: Synthesizer.Mix, window: Int? = nil, hidden: Int? = nil) throws -> String {
        var shape = Synthesizer.Preset.tiny.shape
        shape.context = 64
        if let hidden { shape.hidden = hidden }
        let s = try Synthesizer(architecture: try Architecture(named: arch, path: "test"), shape: shape, mix: mix,
                                tokenizer: nil, seed: 7)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(arch)-\(mix)-\(UUID()).gguf").path
        var w = s.layout()
        if let window, let i = w.metadata.firstIndex(where: { $0.0.hasSuffix(".attention.sliding_window") }) {
            w.metadata[i].1 = .u32(UInt32(window))
        }
        try s.write(to: path, layout: w)
        return path
    }

    @Test("decode and prefill logits match the scalar reference", arguments: FamilyTests.cases)
    func matchesReference(arch: String, mix: Synthesizer.Mix) throws {
        let path = try write(arch, mix, window: arch == "gemma3" ? 4 : nil)  // 6 tokens > window 4: it bites
        defer { try? FileManager.default.removeItem(atPath: path) }
        try compare(path, arch: arch, mix: mix)
    }

    @Test("k-quant mixes on 192-wide rows fall back to Q5_0 / Q5_1 / Q8_0 as llama.cpp's do, and still match",
          arguments: [Synthesizer.Mix.q4_k_m, .q5_k_m])
    func fallbacks(mix: Synthesizer.Mix) throws {
        let types: Set<GGMLType> = mix == .q4_k_m ? [.q5_0, .q8_0, .q4_K, .q6_K, .f32] : [.q5_1, .q8_0, .q5_K, .q6_K, .f32]
        let path = try write("llama", mix, hidden: 192)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let g = try GGUFFile(path: path)
        #expect(Set(g.tensorNames.map { try! g.tensor($0).type }) == types)
        try compare(path, arch: "llama", mix: mix)
    }

    func compare(_ path: String, arch: String, mix: Synthesizer.Mix) throws {
        let llm = try DistributedLlama(comm: LocalCommunicator(), path: path, mode: .gather, threads: 2, context: 64)
        #expect(llm.config.architecture.name == arch)
        if arch == "gemma3" { #expect(llm.config.window == 4 && llm.config.isLocal(0) && llm.config.isLocal(1)) }
        try expectMatchesReference(llm, "\(arch) \(mix)")
    }

    /// f16 keeps 11 significant bits: logits through an f16 KV cache stay within this fraction of their RMS.
    static let maxF16KVError = 5e-3

    @Test("an f16 KV cache gives the f32 cache's logits within f16 rounding; sliding windows and GQA included",
          arguments: ["llama", "gemma3"])
    func f16KVCache(arch: String) throws {
        let path = try write(arch, .q8_0, window: arch == "gemma3" ? 4 : nil)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let exact = try DistributedLlama(comm: LocalCommunicator(), path: path, mode: .gather, threads: 2, context: 64, kv: .f32)
        let half = try DistributedLlama(comm: LocalCommunicator(), path: path, mode: .gather, threads: 2, context: 64, kv: .f16)
        #expect(half.model!.kvCache.precision == .f16 && exact.model!.kvCache.precision == .f32)
        var worst = 0.0
        for t: Int32 in [5, 80, 200, 7, 150, 33, 9, 1] {
            let a = try exact.decode(t), b = try half.decode(t)
            let n = exact.config.vocab
            let rms = ((0..<n).reduce(0.0) { $0 + Double(a[$1]) * Double(a[$1]) } / Double(n)).squareRoot()
            let err = (0..<n).map { abs(Double(a[$0]) - Double(b[$0])) }.max()!
            worst = max(worst, err / rms)
        }
        #expect(worst <= FamilyTests.maxF16KVError, "\(arch): max |Δlogit| / rms \(worst)")
        #expect(worst > 0, "the f16 cache must actually round")
    }

    @Test("an unknown architecture is refused by name")
    func unknownArchitecture() throws {
        var tiny = TinyGGUF()
        tiny.linearType = .q8_0
        let path = try TinyGGUF.write(tiny.bytes(mutateKV: { kv in
            if let i = kv.firstIndex(where: { $0.0 == "general.architecture" }) { kv[i].1 = .str("mamba") }
        }))
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try LlamaConfig(gguf: try GGUFFile(path: path))
            Issue.record("mamba accepted")
        } catch {
            #expect("\(error)".contains("mamba") && "\(error)".contains("gemma3") && "\(error)".contains(path))
        }
    }
}
