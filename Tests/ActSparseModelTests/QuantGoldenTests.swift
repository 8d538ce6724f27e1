import ActSparse
import ActSparseTestSupport
import Foundation
import Testing

/// Every quantized GGUF type against an independent decoder: the PyPI `gguf` package's numpy dequantization,
/// saved by Golden/make-quant-golden.py (synthetic random blocks, and rows of the real Gemma-3 file).
/// Dequantized values must be the file's bit for bit, through both the engine's plain layout
/// (`PlainWeights.weight`, what the kernels read) and the row decoder (`dequantizeRow`, the embedding lookup).
@Suite("GGUF block decoders vs gguf-py")
struct QuantGoldenTests {
    static let golden = Repository.root.appendingPathComponent("Tests/ActSparseModelTests/Golden")

    @Test("synthetic blocks of every quantized type: plain layout and row decoder equal numpy's values exactly",
          arguments: GGMLType.allCases.filter(\.isQuantized))
    func synthetic(type: GGMLType) throws {
        let g = try GGUFFile(path: QuantGoldenTests.golden.appendingPathComponent("quant-golden.gguf").path)
        let w = try g.tensor("w.\(type)"), ref = try g.tensor("ref.\(type)")
        #expect(w.type == type && ref.type == .f32 && w.dims == ref.dims)
        let ic = w.dims[0], oc = w.dims[1]
        var expected = [Float](repeating: 0, count: ic), row = expected
        // Whole tensor, and an OC slice starting mid-block (a rank's slice) with the row range of one block.
        let plain = try g.plainWeights(w)
        let slice = try g.plainWeights(w, rows: 0..<type.blockSize, cols: 1..<oc)
        #expect(plain.format == type.engineFormat)
        var mismatches = 0
        for o in 0..<oc {
            g.dequantizeRow(ref, o, into: &expected)
            g.dequantizeRow(w, o, into: &row)
            for i in 0..<ic {
                let e = expected[i].bitPattern
                if row[i].bitPattern != e || plain.weight(i, o).bitPattern != e { mismatches += 1 }
                if o >= 1 && i < type.blockSize && slice.weight(i, o - 1).bitPattern != e { mismatches += 1 }
            }
        }
        #expect(mismatches == 0, "\(type): \(mismatches) values differ from gguf-py's dequantization")
    }

    @Test("encode (tests' and synth's quantizer) → load: every value within half a step of its block's grid, every quantized type",
          arguments: GGMLType.allCases.filter(\.isQuantized))
    func encodeRoundTrip(type: GGMLType) throws {
        let ic = 256, oc = 3
        var rng = SplitMix(seed: 77)
        let values = (0..<(ic * oc)).map { _ in rng.gaussian() * 0.02 }
        var w = GGUFWriter()
        w.tensors = [GGUFWriter.Tensor("w", [ic, oc], type)]
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("enc-\(type)-\(UUID()).gguf").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(w.bytes(data: [type.encode(values)])).write(to: URL(fileURLWithPath: path))
        let g = try GGUFFile(path: path)
        let plain = try g.plainWeights(try g.tensor("w"))
        var worst: Float = 0
        for o in 0..<oc {
            for b in stride(from: 0, to: ic, by: type.blockSize) {
                let block = values[(o * ic + b)..<(o * ic + b + type.blockSize)]
                let amax = block.map(abs).max() ?? 0
                for i in b..<(b + type.blockSize) { worst = max(worst, abs(plain.weight(i, o) - values[o * ic + i]) / amax) }
            }
        }
        // Relative to the block's largest |value|: within half a step plus the f16 and sub-scale rounding; coarser
        // for 3 bits, and for the code book, which ends at 113 on the side opposite the largest value (14/127).
        let limit: Float = type == .q3_K ? 0.32 : type == .iq4_nl ? 0.12 : 0.08
        #expect(worst <= limit, "\(type): worst error \(worst) of the block's max")
    }

    @Test("rows of the real Gemma-3 270M Q4_K_M file (Q4_K, Q6_K, Q5_0, Q8_0) equal numpy's values exactly",
          Requires.gemma)
    func gemmaRows() throws {
        let g = try GGUFFile(path: try #require(RealModel.gemmaPath))
        let data = try Data(contentsOf: QuantGoldenTests.golden.appendingPathComponent("gemma3-270m-rows.json"))
        struct Row: Decodable { let tensor: String; let type: String; let row: Int; let bits: [UInt32] }
        struct File: Decodable { let rows: [Row] }
        let rows = try JSONDecoder().decode(File.self, from: data).rows
        #expect(Set(rows.map(\.type)) == ["Q4_K", "Q6_K", "Q5_0", "Q8_0"])
        for r in rows {
            let t = try g.tensor(r.tensor)
            var out = [Float](repeating: 0, count: t.dims[0])
            g.dequantizeRow(t, r.row, into: &out)
            #expect(out.prefix(r.bits.count).map(\.bitPattern) == r.bits, "\(r.tensor) row \(r.row)")
            if r.tensor != "token_embd.weight" {  // the embedding is read by row, never repacked
                let p = try g.plainWeights(t, cols: r.row..<(r.row + 1))
                #expect((0..<r.bits.count).map { p.weight($0, 0).bitPattern } == r.bits, "\(r.tensor) plain row \(r.row)")
            }
        }
    }
}
