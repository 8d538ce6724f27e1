import ActSparse
import Testing

/// Largest |W − Q(W)| allowed, as a fraction of the column's (or group's) range: half a step of the code grid,
/// plus the f16 rounding of scales.
let maxQuantizationError: [WeightFormat.Kind: Float] = [
    .f32: 0, .f16: 1.0 / 2048, .bf16: 1.0 / 256, .int8sym: 0.5 / 127 + 1e-3, .int8asym: 0.5 / 255 + 1e-3,
    .int8group: 0.5 / 127 + 1e-3, .int4sym: 0.5 / 7 + 1e-3, .int4asym: 0.5 / 15 + 2e-3,
    .int5sym: 0.5 / 15 + 1e-3, .int5asym: 0.5 / 31 + 2e-3,
    // k-quants: 6-bit sub-scales rounded up (and Q4_K/Q5_K's min rounded down) stretch the grid a little
    .q4k: 1.0 / 15, .q5k: 1.0 / 31, .q6k: 1.0 / 31,
]

@Suite("formats")
struct FormatTests {
    @Test("quantize → reference dequantize stays within the format's step", arguments: allFormats)
    func roundTrip(format: WeightFormat) throws {
        for (ic, oc) in shapes(for: format) {
            let w = makeWeights(ic: ic, oc: oc, seed: 7)
            let q = try PlainWeights.quantize(w, ic: ic, oc: oc, format: format)
            let d = q.dequantized()
            // Each weight against the range of its own scale unit: the column (per-OC formats), the group of G
            // input channels in its column (grouped formats), or itself (float formats, relative rounding).
            let asymmetric = format.kind == .int8asym || format.traits.hasMin
            var worst: Float = 0, limit: Float = 0
            for o in 0..<oc {
                let column = (0..<ic).map { w[$0 * oc + o] }
                for i in 0..<ic {
                    let unit: ArraySlice<Float>
                    switch format.scaling {
                    case .none: unit = column[i...i]
                    case .perOC: unit = column[...]
                    case .perGroup: unit = column[(i / format.group * format.group)...][..<((i / format.group + 1) * format.group)]
                    }
                    let range = asymmetric ? unit.max()! - unit.min()! : 2 * unit.map(abs).max()!
                    let allowed = maxQuantizationError[format.kind]! * range + 1e-7
                    let err = abs(d[i * oc + o] - w[i * oc + o])
                    if err / allowed > worst / max(limit, 1e-30) { worst = err; limit = allowed }
                }
            }
            #expect(worst <= limit, "\(format) \(ic)x\(oc): error \(worst) > \(limit) allowed for its unit")
        }
    }

    @Test("stored sizes: codes per row and scale bytes match the format")
    func sizes() throws {
        let cases: [(WeightFormat, Int)] = [
            (try WeightFormat(.f32), 4 * 37), (try WeightFormat(.f16), 2 * 37), (try WeightFormat(.bf16), 2 * 37),
            (try WeightFormat(.int8sym), 37), (try WeightFormat(.int8asym), 37),
            (try WeightFormat(.int8group, group: 32), 37), (try WeightFormat(.int4sym, group: 32), 19),
            (try WeightFormat(.int4asym, group: 32), 19),
        ]
        for (f, bytes) in cases { #expect(f.rowBytes(37) == bytes, "\(f)") }
        // Per 32 weights of one OC, as GGUF blocks: Q4_1 = 16 code bytes + f16 d + f16 m = 20 bytes,
        // Q8_0 = 32 + 2 = 34, Q4_0 = 16 + 2 = 18 (two OCs here, so two blocks).
        #expect(try WeightFormat(parsing: "q4_1").denseBytes(ic: 32, oc: 2) == 2 * 20)
        #expect(try WeightFormat(parsing: "q8_0").denseBytes(ic: 32, oc: 2) == 2 * 34)
        #expect(try WeightFormat(parsing: "q4_0").denseBytes(ic: 32, oc: 2) == 2 * 18)
    }

    @Test("format names parse; unknown names and bad groups are typed errors naming the value")
    func parsing() throws {
        #expect(try WeightFormat(parsing: "int4asym-g64").group == 64)
        #expect(try WeightFormat(parsing: "Q4_1") == WeightFormat(.int4asym, group: 32))
        #expect(try WeightFormat(parsing: "f16").group == 0)
        #expect(throws: ActSparseError.self) { try WeightFormat(parsing: "int3") }
        do {
            _ = try WeightFormat(parsing: "int3")
        } catch {
            #expect("\(error)".contains("int3") && "\(error)".contains("int4asym"))
        }
        #expect(throws: ActSparseError.self) { try WeightFormat(.int4sym, group: 0) }
        #expect(throws: ActSparseError.self) { try WeightFormat(.int4sym, group: 48) }
    }

    @Test("bad weights: IC not a multiple of G, OC = 0, NaN")
    func badWeights() throws {
        let g32 = try WeightFormat(.int4asym, group: 32)
        let w = [Float](repeating: 0.5, count: 40 * 3)
        do {
            _ = try PlainWeights.quantize(w, ic: 40, oc: 3, format: g32)
            Issue.record("IC 40 with G 32 was accepted")
        } catch let e as ActSparseError {
            #expect("\(e)".contains("multiple of the group 32") && "\(e)".contains("40"))
        }
        #expect(throws: ActSparseError.self) { try PlainWeights.quantize(w, ic: 40, oc: 0, format: .init(.f32)) }
        var bad = w
        bad[5] = .nan
        #expect(throws: ActSparseError.self) { try PlainWeights.quantize(bad, ic: 40, oc: 3, format: .init(.f16)) }
    }
}
