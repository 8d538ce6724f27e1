import ActSparse
import Foundation
import Testing

@Suite("quality budget: allocation, thresholds file, output-error probe, report PNG")
struct SparsityAllocationTests {
    static let targets = ThresholdTable.defaultTargets

    /// A 3-layer table whose sites have the given per-site ΔNLL slopes (ΔNLL = slope · target², shared equally
    /// over layers through equal output errors) and byte counts.
    func table(slopes: [Double], bytes: [Int] = [100, 100, 200, 100], layers: Int = 3) -> ThresholdTable {
        let rows = (0..<layers).map { _ in Self.targets.map { Float($0) } }
        var t = ThresholdTable(model: "m", modelBytes: 1, layers: layers, hidden: 8, intermediate: 16,
                               calibrationTokens: 10, targets: Self.targets, gateUp: rows, down: rows,
                               attention: rows, output: rows)
        t.siteBytes = Array(repeating: bytes, count: layers)
        t.outputError = Array(repeating: slopes.map { _ in Self.targets.map { $0 * $0 } }, count: layers)
        t.siteDeltaNLL = slopes.map { s in Self.targets.map { s * $0 * $0 } }
        return t
    }

    @Test("the greedy reaches the byte goal, sparsifies cheap sites first, and MLP-only leaves attention dense")
    func greedy() throws {
        // attention costly, output free, gate/up mid, down cheap
        let t = table(slopes: [10, 0, 1, 0.1])
        let bytes = t.siteBytes!
        for goal in [0.1, 0.3, 0.5] {
            let p = try t.allocate(byteSparsity: goal, modelWide: true)
            let b = p.byteSparsity(bytes: bytes)
            #expect(b >= goal - 1e-9 && b <= goal + 0.05, "goal \(goal): reached \(b)")
            for l in 0..<3 {
                #expect(p.sparsity[l][1] >= p.sparsity[l][3] && p.sparsity[l][3] >= p.sparsity[l][2]
                        && p.sparsity[l][2] >= p.sparsity[l][0], "goal \(goal) layer \(l): \(p.sparsity[l])")
            }
        }
        // The free site goes to the top target before anything else moves.
        // (three output sites of 100 bytes at 90 %, the ceiling, save 270 of 1500 bytes: 18 %)
        let early = try t.allocate(byteSparsity: 0.18, modelWide: true)
        #expect(early.sparsity.allSatisfy { $0 == [0, 0.9, 0, 0] }, "\(early.sparsity)")
        let mlp = try t.allocate(byteSparsity: 0.4, modelWide: false)
        #expect(mlp.sparsity.allSatisfy { $0[0] == 0 && $0[1] == 0 && $0[3] > 0 })
        #expect(mlp.byteSparsity(bytes: bytes) >= 0.4 - 1e-9)
        // Beyond what the scope holds, every site of it ends at the ceiling.
        let all = try t.allocate(byteSparsity: 0.99, modelWide: false)
        #expect(all.sparsity.allSatisfy { $0[2] == 0.9 && $0[3] == 0.9 && $0[0] == 0 }, "\(all.sparsity)")
    }

    @Test("the allocator beats uniform on its own cost model, and uniform spreads the goal over the scope")
    func againstUniform() throws {
        let t = table(slopes: [4, 1, 2, 0.5])
        func cost(_ p: SparsityPlan) -> Double {
            p.sparsity.reduce(0) { acc, row in acc + zip(row, [4.0, 1, 2, 0.5]).reduce(0) { $0 + $1.1 * $1.0 * $1.0 } / 3 }
        }
        for goal in [0.2, 0.4, 0.6] {
            let a = try t.allocate(byteSparsity: goal, modelWide: true), u = try t.uniform(byteSparsity: goal, modelWide: true)
            #expect(abs(u.byteSparsity(bytes: t.siteBytes!) - goal) < 1e-9)
            #expect(cost(a) < cost(u), "goal \(goal): allocated \(cost(a)) vs uniform \(cost(u))")
        }
        // MLP only: 300 of 500 bytes per layer, so 30 % of all bytes is 50 % on gate/up and down.
        let u = try t.uniform(byteSparsity: 0.3, modelWide: false)
        #expect(u.sparsity.allSatisfy { $0 == [0, 0, 0.5, 0.5] })
    }

    @Test("a budget picks the highest measured byte sparsity within it; none within → dense")
    func budget() throws {
        var t = table(slopes: [1, 1, 1, 1])
        t.heldOut = .init(tokens: 100, denseNLL: 2, points: [
            .init(byteSparsity: 0.1, deltaNLL: 0.01), .init(byteSparsity: 0.2, deltaNLL: 0.08),
            .init(byteSparsity: 0.3, deltaNLL: 0.3), .init(byteSparsity: 0.2, deltaNLL: 0.05, uniform: true),
            .init(byteSparsity: 0.3, deltaNLL: 0.09, uniform: true),
        ])
        try t.validate(path: "t")
        #expect(ThresholdTable.best(t.heldOut!.points, within: 0.1)?.byteSparsity == 0.3)
        #expect(ThresholdTable.best(t.heldOut!.points, within: 0.1)?.uniform == true)
        #expect(ThresholdTable.best(t.heldOut!.points, within: 0.06) == .init(byteSparsity: 0.2, deltaNLL: 0.05, uniform: true))
        let p = try t.plan(budget: 0.1)
        #expect(p == SparsityPlan(sparsity: try t.uniform(byteSparsity: 0.3, modelWide: true).sparsity, label: p.label))
        #expect(p.label.contains("budget ≤ +0.10"))
        #expect(try t.plan(budget: 0.001).isDense)
        var none = t
        none.heldOut = nil
        #expect(throws: ActSparseError.self) { try none.plan(budget: 0.1) }
    }

    @Test("measured ΔNLL points become a non-decreasing curve on the target grid")
    func curve() {
        let c = ThresholdTable.monotoneCurve([(0, 0), (0.5, 0.2), (0.3, 0.3), (0.7, 1.0)], at: [0, 0.15, 0.3, 0.5, 0.6, 0.7, 0.9])
        #expect(abs(c[1] - 0.15) < 1e-12)       // linear from (0, 0) to (0.3, 0.3)
        #expect(c[2] == 0.3 && c[3] == 0.3)     // the dip at 0.5 is lifted to the running maximum
        #expect(abs(c[4] - 0.6) < 1e-12)        // (0.5, 0.2) → (0.7, 1.0)
        #expect(abs(c[6] - 1.8) < 1e-12)        // the last slope beyond the last point
        #expect(zip(c, c.dropFirst()).allSatisfy { $0 <= $1 })
    }

    @Test("version-1 files still load (MLP only); broken version-2 fields are refused, naming the field")
    func fileFormat() throws {
        let v2 = table(slopes: [1, 1, 1, 1])
        let json = try JSONEncoder().encode(v2)
        #expect(try ThresholdTable.decode(json, path: "v2") == v2)
        var v1 = ThresholdTable(model: "m", modelBytes: 1, layers: 3, hidden: 8, intermediate: 16, calibrationTokens: 1,
                                targets: Self.targets, gateUp: v2.gateUp, down: v2.down)
        v1 = try ThresholdTable.decode(try JSONEncoder().encode(v1), path: "v1")
        #expect(!v1.modelWide && !v1.canAllocate && v1.version == nil)
        #expect(try v1.thresholds(.uniform(layers: 3, gateUp: 0.5, down: 0.5))[0] == [0, 0, 0.5, 0.5])
        #expect(throws: ActSparseError.self) { try v1.thresholds(.uniform(layers: 3, gateUp: 0.5, down: 0.5, attention: 0.3)) }
        #expect(throws: ActSparseError.self) { try v1.allocate(byteSparsity: 0.3, modelWide: true) }
        func refused(_ change: (inout ThresholdTable) -> Void, _ field: String) {
            var t = v2
            change(&t)
            do {
                _ = try ThresholdTable.decode(try JSONEncoder().encode(t), path: "bad.json")
                Issue.record("\(field): accepted")
            } catch { #expect("\(error)".contains(field) && "\(error)".contains("bad.json"), "\(error)") }
        }
        refused({ $0.siteDeltaNLL![2][3] = -1 }, "siteDeltaNLL")
        refused({ $0.outputError![1].removeLast() }, "outputError")
        refused({ $0.siteBytes![0][0] = -5 }, "siteBytes")
        refused({ $0.attention![2] = [1] }, "attention[2]")
        refused({ $0.output = nil }, "attention and output")
        refused({ $0.heldOut = .init(tokens: 1, denseNLL: 1, points: [.init(byteSparsity: 0.3, deltaNLL: 0),
                                                                        .init(byteSparsity: 0.2, deltaNLL: 0)]) }, "heldOut")
        refused({ $0.version = 9 }, "version")
    }

    @Test("the output-error probe equals ‖(x ⊙ dropped) W‖² / ‖x W‖² computed directly", arguments: [1, 2])
    func probe(threads: Int) throws {
        let ic = 96, oc = 40, m = 7
        let wf = makeWeights(ic: ic, oc: oc, seed: 11)
        let fc = try SparseFC(weights: try PlainWeights.quantize(wf, ic: ic, oc: oc, format: .init(.f32)), threads: threads)
        let x = makeActivation(m * ic, seed: 12)
        let sorted = x.dropFirst(ic).map(abs).sorted()
        let thresholds = Self.targets.map { $0 == 0 ? 0 : sorted[Int($0 * Double(sorted.count - 1))] }
        let probe = OutputErrorProbe(layers: 2, targets: Self.targets)
        try probe.add(layer: 1, site: .down, x: x, m: m, width: ic, skip: 1, fcs: [fc, fc], thresholds: thresholds)
        let got = probe.relativeError[1][SparsitySite.down.rawValue]
        func energy(_ keep: (Float) -> Bool) -> Double {
            var e = 0.0
            for r in 1..<m {
                for o in 0..<oc {
                    var y = 0.0
                    for i in 0..<ic where keep(x[r * ic + i]) { y += Double(x[r * ic + i]) * Double(wf[i * oc + o]) }
                    e += y * y
                }
            }
            return e
        }
        let dense = energy { _ in true }
        for (k, t) in thresholds.enumerated() {
            let want = k == 0 ? 0 : energy { abs($0) <= t } / dense
            #expect(abs(got[k] - want) <= 1e-5 * max(want, 1e-3), "target \(Self.targets[k]): \(got[k]) vs \(want)")
        }
        #expect(got.last! > got[5] && got[5] > 0)
        #expect(probe.relativeError[0].allSatisfy { $0.allSatisfy { $0 == 0 } })  // layer 0 saw nothing
    }

    @Test("the report PNG is well formed: chunks with valid CRCs, stored deflate with a valid Adler-32, pixels")
    func png() throws {
        var img = Raster(width: 37, height: 21)
        img.line(0, 0, 36, 20, (255, 0, 0))
        img.text("DNLL 0.5%", x: 1, y: 1, (0, 0, 255), scale: 1)
        let data = [UInt8](img.png())
        #expect(data.prefix(8) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        func be(_ i: Int) -> Int { data[i..<(i + 4)].reduce(0) { $0 << 8 | Int($1) } }
        var at = 8, idat: [UInt8] = [], types: [String] = []
        while at < data.count {
            let n = be(at), type = String(decoding: data[(at + 4)..<(at + 8)], as: UTF8.self)
            types.append(type)
            var c: UInt32 = 0xFFFF_FFFF  // CRC-32 over type and body, bit by bit (independent of the table)
            for byte in data[(at + 4)..<(at + 8 + n)] {
                c ^= UInt32(byte)
                for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            }
            #expect(UInt32(be(at + 8 + n)) == c ^ 0xFFFF_FFFF, "CRC of \(type)")
            if type == "IHDR" { #expect(be(at + 8) == 37 && be(at + 12) == 21) }
            if type == "IDAT" { idat += data[(at + 8)..<(at + 8 + n)] }
            at += 12 + n
        }
        #expect(types == ["IHDR", "IDAT", "IEND"])
        // zlib header, then stored blocks: [final, len, ~len, bytes]
        var raw: [UInt8] = [], p = 2, final = false
        while !final {
            final = idat[p] & 1 == 1
            let len = Int(idat[p + 1]) | Int(idat[p + 2]) << 8
            #expect(len == (~(Int(idat[p + 3]) | Int(idat[p + 4]) << 8) & 0xffff))
            raw += idat[(p + 5)..<(p + 5 + len)]
            p += 5 + len
        }
        #expect(raw.count == 21 * (1 + 3 * 37))
        var a = 1, b = 0
        for byte in raw { a = (a + Int(byte)) % 65521; b = (b + a) % 65521 }
        #expect(idat[p..<(p + 4)].reduce(0) { $0 << 8 | Int($1) } == b << 16 | a)
        func pixel(_ x: Int, _ y: Int) -> [UInt8] { Array(raw[(y * 112 + 1 + 3 * x)..<(y * 112 + 4 + 3 * x)]) }
        #expect(pixel(36, 20) == [255, 0, 0] && pixel(0, 0) == [255, 0, 0])
        #expect(pixel(30, 2) == [255, 255, 255])
        #expect((0..<7).contains { y in (1..<6).contains { x in pixel(x, y) == [0, 0, 255] } })  // the "D"
    }
}
