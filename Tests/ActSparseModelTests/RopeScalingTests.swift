import ActSparse
import ActSparseDistributed
import ActSparseTestSupport
import Foundation
import Testing

/// Long-context RoPE as GGUF files carry it: linear scaling (`rope.scaling.type linear`, positions divided by the
/// factor) and Llama-3.1's per-frequency factors (`rope_freqs.weight`), against the Double reference forward.
@Suite("RoPE scaling")
struct RopeScalingTests {
    enum Scaling: String, CaseIterable { case linear, frequencyFactors }

    func file(_ scaling: Scaling?) throws -> String {
        let t = TinyGGUF()
        return try TinyGGUF.write(t.bytes(mutateKV: { kv in
            switch scaling {
            case .linear?:
                kv += [("llama.rope.scaling.type", .str("linear")), ("llama.rope.scaling.factor", .f32(4))]
            case .frequencyFactors?:
                kv += [("llama.rope.scaling.type", .str("llama3"))]
            case nil: break
            }
        }, mutateTensors: { tensors in
            if scaling == .frequencyFactors {
                // low frequencies stretched (as Llama-3.1's factors do), high ones kept
                let half = t.headDim / 2
                let factors = (0..<half).map { i -> Float in i < half / 2 ? 1 : Float(1 + 3 * (i - half / 2)) }
                tensors.append(("rope_freqs.weight", [half], .f32, TinyGGUF.encode(factors, type: .f32)))
            }
        }), name: "rope")
    }

    @Test("decode and prefill logits match the reference with the scaling, and differ from the unscaled model",
          arguments: Scaling.allCases)
    func matchesReference(scaling: Scaling) throws {
        let path = try file(scaling), plain = try file(nil)
        defer { try? FileManager.default.removeItem(atPath: path); try? FileManager.default.removeItem(atPath: plain) }
        let llm = try DistributedLlama(comm: LocalCommunicator(), path: path, mode: .gather, threads: 2, context: 32)
        try expectMatchesReference(llm, "\(scaling)")
        // The scaling changes the answer (at position 0 RoPE is the identity: compare a later position).
        let other = try DistributedLlama(comm: LocalCommunicator(), path: plain, mode: .gather, threads: 2, context: 32)
        llm.model!.reset()
        let tokens: [Int32] = [5, 80, 200, 7, 150, 33, 90, 12]
        let a = Array(UnsafeBufferPointer(start: try llm.prefill(tokens), count: llm.config.vocab))
        let b = Array(UnsafeBufferPointer(start: try other.prefill(tokens), count: llm.config.vocab))
        let diff = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        #expect(diff > 1e-3, "\(scaling): logits as without scaling (max |Δ| \(diff))")
    }

    @Test("a scaling type this engine does not implement, and factors outside their range, are refused by name")
    func refused() throws {
        let yarn = try TinyGGUF.write(TinyGGUF().bytes(mutateKV: { $0 += [("llama.rope.scaling.type", .str("yarn"))] }))
        defer { try? FileManager.default.removeItem(atPath: yarn) }
        #expect { _ = try LlamaConfig(gguf: try GGUFFile(path: yarn)) } throws: { "\($0)".contains("yarn") }
        let t = TinyGGUF()
        let bad = try TinyGGUF.write(t.bytes(mutateTensors: {
            $0.append(("rope_freqs.weight", [t.headDim / 2], .f32,
                       TinyGGUF.encode([Float](repeating: 0, count: t.headDim / 2), type: .f32)))
        }))
        defer { try? FileManager.default.removeItem(atPath: bad) }
        #expect { _ = try LlamaModel(gguf: try GGUFFile(path: bad), threads: 1, context: 16) } throws: {
            "\($0)".contains("rope_freqs.weight")
        }
    }
}
