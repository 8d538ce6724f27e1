import ActSparse
import ActSparseTestSupport
import Foundation
import Testing

/// Run-time kernel choice: ACTSPARSE_ISA's names and limits, the same model output on every level this CPU runs,
/// and the KV cache's memory committed as it fills.
@Suite("kernels by instruction set")
struct KernelISATests {
    @Test("ACTSPARSE_ISA: native and unset give the detected level; every lower level resolves; unknown names and levels above the CPU are refused")
    func resolve() throws {
        #expect(try KernelISA.resolve(nil) == KernelISA.detected)
        #expect(try KernelISA.resolve("native") == KernelISA.detected)
        for isa in KernelISA.allCases {
            if isa <= KernelISA.detected {
                #expect(try KernelISA.resolve(isa.name) == isa)
            } else {
                #expect(throws: ActSparseError.self, "\(isa.name) is above this CPU's \(KernelISA.detected.name)") {
                    try KernelISA.resolve(isa.name)
                }
            }
        }
        #expect(throws: ActSparseError.self) { try KernelISA.resolve("avx9") }
        #expect(KernelISA.supported.first == .scalar && KernelISA.supported.last == KernelISA.detected)
    }

    @Test("a whole model (int8 GEMM prefill of 12 tokens, int8 GEMV decode, attention) gives the same logits bits on every vector instruction set this CPU runs (scalar: within a named tolerance), 1 and 2 threads",
          arguments: [1, 2])
    func sameLogitsEverywhere(threads: Int) throws {
        let path = try TinyGGUF.write(TinyGGUF().bytes(), name: "isa")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let g = try GGUFFile(path: path)
        let prompt: [Int32] = [1, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50]
        var runs: [(KernelISA, [UInt32])] = []
        for isa in KernelISA.supported {
            let m = try LlamaModel(gguf: g, threads: threads, context: 32)
            m.activations = .int8
            m.isa = isa
            #expect(m.linears.allSatisfy { $0.isa == isa })
            let v = m.config.vocab
            var bits = UnsafeBufferPointer(start: try m.prefill(prompt), count: v).map(\.bitPattern)
            for t: Int32 in [60, 61, 62, 63, 64] {
                bits += UnsafeBufferPointer(start: try m.decode(t), count: v).map(\.bitPattern)
            }
            #expect(bits.allSatisfy { Float(bitPattern: $0).isFinite })
            runs.append((isa, bits))
        }
        #expect(runs.count == KernelISA.supported.count)
        // The vector levels: the same bits (their GEMV/GEMM equal the scalar twin's bits, and attention is the same
        // vector code at either width). The scalar level's attention sums in another order (expf, plain loops):
        // close, not equal.
        let vector = runs.filter { $0.0 > .scalar }
        for (isa, bits) in vector.dropFirst() {
            let differ = zip(bits, vector[0].1).filter { $0 != $1 }.count
            #expect(differ == 0, "\(isa.name) vs \(vector[0].0.name), \(threads) thread(s): \(differ) of \(bits.count) logits differ")
        }
        if let scalar = runs.first(where: { $0.0 == .scalar }), let v = vector.first {
            let worst = zip(scalar.1, v.1).map { abs(Float(bitPattern: $0) - Float(bitPattern: $1)) }.max() ?? 0
            let scale = v.1.map { abs(Float(bitPattern: $0)) }.max() ?? 1
            #expect(worst <= Self.scalarTolerance * scale, "scalar vs \(v.0.name): max |Δlogit| \(worst) of \(scale)")
        }
    }

    /// Scalar vs vector attention: f32 sums over ≤ 17 positions and 16 dims in another order, through 2 layers.
    static let scalarTolerance: Float = 1e-4

    @Test("the KV cache commits memory as positions fill: a 7B-like layer stack holds one page per head row after a token, all of it when full")
    func kvCacheFillsLazily() throws {
        let cache = try KVCache(layers: 4, context: 4096, heads: 8, headDim: 128, precision: .f16)
        let total = 2 * 4 * 8 * 4096 * 256  // keys and values, bytes
        guard let before = cache.residentBytes else {
            Issue.record("the cache is a mapping: residentBytes must be known"); return
        }
        let k = [Float](repeating: 0.5, count: 8 * 128), v = k
        for l in 0..<4 { cache.store(layer: l, pos: 0, k: k, v: v) }
        let after = try #require(cache.residentBytes)
        // One 4 KiB page per (layer, head) row of keys and of values; a huge page would commit 2 MiB per touch.
        #expect(after - before <= 2 * 4 * 8 * 4096, "first token committed \(after - before) bytes")
        for l in 0..<4 { for p in 0..<4096 { cache.store(layer: l, pos: p, k: k, v: v) } }
        let full = try #require(cache.residentBytes)
        #expect(full >= total, "a full cache is resident: \(full) of \(total) bytes")
    }
}
