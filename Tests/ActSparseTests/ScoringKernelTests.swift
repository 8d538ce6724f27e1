import ActSparse
import CActSparse
import Foundation
import Testing

/// The scoring kernel (`actsparse_score_row_isa`, one row of logits → NLL, log-probabilities, KL from a reference)
/// against its scalar twin and a Double reference, and the prefill's finite check.
@Suite("scoring kernel")
struct ScoringKernelTests {
    /// Relative tolerance of the vector exp (degree-6 polynomial, < 2^-23) summed over tens of thousands of terms.
    static let nllTolerance = 2e-5, klTolerance = 1e-4, logProbTolerance: Float = 2e-5

    /// Deterministic logits with a few large ones (a peaked softmax) and values far below the maximum (< −87 from it).
    static func logits(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed &* 6364136223846793005 &+ 1442695040888963407
        return (0..<n).map { i in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            let u = Float(s >> 40) / Float(1 << 24)
            return i % 97 == 3 ? 12 + 4 * u : i % 31 == 0 ? -120 * u : 8 * u - 4
        }
    }

    /// The Double reference of one row.
    static func reference(_ x: [Float], next: Int, ref: [Float]?) -> (nll: Double, kl: Double, logp: [Double]) {
        let mx = Double(x.max() ?? 0)
        let lse = log(x.reduce(0.0) { $0 + exp(Double($1) - mx) }) + mx
        let logp = x.map { Double($0) - lse }
        var kl = 0.0
        if let ref { for v in x.indices where ref[v] > -80 { kl += exp(Double(ref[v])) * (Double(ref[v]) - logp[v]) } }
        return (lse - Double(x[next]), kl, logp)
    }

    @Test("every ISA and the scalar twin match the Double reference: tails, one value, a 49,159-token vocabulary, with and without outputs",
          arguments: [1, 15, 16, 17, 1_000, 49_159])
    func matchesReference(n: Int) {
        let x = Self.logits(n, seed: UInt64(n)), next = n / 2
        // A reference distribution: another row's log-probabilities (so KL > 0), and the row itself (KL = 0).
        let other = Self.reference(Self.logits(n, seed: UInt64(n) + 9), next: 0, ref: nil).logp.map { Float($0) }
        for (name, ref) in [("other", other), ("itself", Self.reference(x, next: 0, ref: nil).logp.map { Float($0) })] {
            let want = Self.reference(x, next: next, ref: ref)
            for isa in KernelISA.supported {
                var out = [Float](repeating: .nan, count: n)
                var nll = 0.0, kl = 0.0
                actsparse_score_row_isa(isa.rawValue, x, Int32(n), Int32(next), ref, &out, &nll, &kl)
                let what = "\(isa.name) n=\(n) reference \(name)"
                #expect(abs(nll - want.nll) <= Self.nllTolerance * max(1, abs(want.nll)), "\(what): nll \(nll) vs \(want.nll)")
                #expect(abs(kl - want.kl) <= Self.klTolerance * max(1, abs(want.kl)), "\(what): kl \(kl) vs \(want.kl)")
                #expect(zip(out, want.logp).allSatisfy { abs(Double($0) - $1) <= Double(Self.logProbTolerance) * max(1, abs($1)) }, "\(what): log-probabilities")
                // Without outputs: the same numbers, nothing written.
                var nll2 = 0.0, kl2 = -1.0
                actsparse_score_row_isa(isa.rawValue, x, Int32(n), Int32(next), nil, nil, &nll2, &kl2)
                #expect(nll2 == nll && kl2 == 0, "\(what): without outputs")
            }
            var twinNLL = 0.0, twinKL = 0.0
            actsparse_score_row_scalar(x, Int32(n), Int32(next), ref, nil, &twinNLL, &twinKL)
            #expect(abs(twinNLL - want.nll) <= Self.nllTolerance * max(1, abs(want.nll)) && abs(twinKL - want.kl) <= Self.klTolerance * max(1, abs(want.kl)),
                    "scalar twin n=\(n)")
        }
    }

    @Test("the prefill refuses NaN and ±∞ at any position, the vector body and the tail alike, and accepts finite extremes")
    func finiteCheck() throws {
        let ic = 37, oc = 32, m = 9
        let w = try PlainWeights.quantize((0..<(ic * oc)).map { Float($0 % 7) - 3 }, ic: ic, oc: oc, format: .init(.f32))
        let fc = try SparseFC(weights: w, threads: 1)
        var y = [Float](repeating: 0, count: m * oc)
        var x = [Float](repeating: 1, count: m * ic)
        x[5] = .greatestFiniteMagnitude; x[6] = -.greatestFiniteMagnitude
        try fc.prefill(x, m: m, into: &y)
        for at in [0, 15, 16, 17, m * ic - 1] {
            for bad in [Float.nan, .infinity, -.infinity] {
                var z = [Float](repeating: 1, count: m * ic)
                z[at] = bad
                #expect(throws: ActSparseError.self, "x[\(at)] = \(bad)") { try fc.prefill(z, m: m, into: &y) }
            }
        }
    }
}
