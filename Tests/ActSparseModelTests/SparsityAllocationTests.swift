import ActSparse
import ActSparseCalibration
import ActSparseTools
import ActSparseTestSupport
import Foundation
import Testing

@Suite("quality budget: allocation, thresholds file, output-error probe, report PNG")
struct SparsityAllocationTests {
    static let targets = ThresholdTable.defaultTargets

    /// A 3-layer model-wide table with the given bytes per site (every layer alike), thresholds equal to targets
    /// and an output error that grows with the target and with the layer index.
    func table(bytes: [Int] = [100, 100, 200, 100], layers: Int = 3) -> ThresholdTable {
        let rows = (0..<layers).map { _ in Self.targets.map { Float($0) } }
        var t = ThresholdTable(model: "m", modelBytes: 1, layers: layers, hidden: 8, intermediate: 16,
                               calibrationTokens: 10, targets: Self.targets, gateUp: rows, down: rows,
                               attention: rows, output: rows)
        t.siteBytes = Array(repeating: bytes, count: layers)
        t.outputError = (0..<layers).map { l in bytes.map { _ in Self.targets.map { $0 * $0 * Double(l + 1) } } }
        return t
    }

    @Test("the greedy path raises the kind with the least measured ΔNLL per byte; interactions are measured")
    func greedyPath() throws {
        let t = table()
        // ΔNLL = Σ slope·level² plus a joint term on output × down (which the per-kind view cannot see).
        let slopes = [10.0, 0.1, 1, 0.5]
        var calls = 0
        func measure(_ lv: [Double]) -> Double {
            calls += 1
            return zip(slopes, lv).reduce(0) { $0 + $1.0 * $1.1 * $1.1 } + 3 * lv[1] * lv[3]
        }
        func both(_ lv: [Double]) -> (deltaNLL: Double, kl: Double?) { (measure(lv), nil) }
        let path = t.greedyPath(kinds: SparsitySite.allCases, maxByteSparsity: 0.6, stopAt: 10, measure: both)
        #expect(!path.isEmpty && calls <= 4 * path.count)
        #expect(zip(path, path.dropFirst()).allSatisfy { $0.byteSparsity < $1.byteSparsity })
        #expect((path.last?.byteSparsity ?? 0) >= 0.6)
        #expect(path.allSatisfy { abs($0.deltaNLL - measure($0.levels)) < 1e-12 && $0.levels.allSatisfy { $0 <= 0.9 + 1e-9 } })
        // Each step is the cheapest per byte among the four candidates.
        var prev = [0.0, 0, 0, 0], cur = 0.0
        for p in path {
            let bytes = [100.0, 100, 200, 100]
            let costs = (0..<4).filter { prev[$0] + 0.1 <= 0.9 + 1e-9 }.map { k -> Double in
                var n = prev; n[k] += 0.1
                return (measure(n) - cur) / (bytes[k] * 0.1)
            }
            let taken = (0..<4).first { abs(p.levels[$0] - prev[$0]) > 1e-9 }!
            var n = prev; n[taken] += 0.1
            #expect(abs((measure(n) - cur) / (bytes[taken] * 0.1) - costs.min()!) < 1e-12, "step to \(p.levels)")
            prev = p.levels; cur = p.deltaNLL
        }
        // The costly attention input moves last; the joint term keeps output and down from both running ahead.
        #expect(path[path.count / 2].levels[0] <= path[path.count / 2].levels[2])
        // MLP only: the attention kinds never move.
        let mlp = t.greedyPath(kinds: [.gateUp, .down], maxByteSparsity: 0.3, stopAt: 10, measure: both)
        #expect(mlp.allSatisfy { $0.levels[0] == 0 && $0.levels[1] == 0 })
        // A ΔNLL stop ends the path at the first step beyond it.
        let short = t.greedyPath(kinds: SparsitySite.allCases, maxByteSparsity: 0.9, stopAt: 0.05, measure: both)
        #expect(short.dropLast().allSatisfy { $0.deltaNLL <= 0.05 } && (short.last?.deltaNLL ?? 0) > 0.05)
        // With KL measured, the greedy ranks by the larger of the two: a ΔNLL that falls while the predictions
        // move (KL up) does not make a kind look free.
        let kl = t.greedyPath(kinds: SparsitySite.allCases, maxByteSparsity: 0.2, stopAt: 10) { lv in
            (-lv[0], measure(lv) + 20 * lv[0] * lv[0])  // attention: ΔNLL falls, KL rises fast
        }
        #expect(kl.allSatisfy { $0.levels[0] == 0 && $0.cost == $0.kl! }, "\(kl.map(\.levels))")
    }

    @Test("allocation follows the measured path, linear between its steps; per layer splits a kind by output error")
    func alongPath() throws {
        var t = table()
        let steps: [ThresholdTable.Point] = [[0, 0.2, 0, 0.2], [0, 0.2, 0.2, 0.2], [0.2, 0.4, 0.2, 0.4]].map {
            .init(levels: $0, byteSparsity: t.byteSparsity(levels: $0), deltaNLL: 0)
        }
        t.heldOut = .init(tokens: 1, denseNLL: 1, uniform: [], allocated: steps, allocatedMLP: [])
        try t.validate(path: "t")
        #expect(abs(steps[1].byteSparsity - 0.16) < 1e-12)  // (20 + 40 + 20) / 500
        let mid = try t.allocate(byteSparsity: 0.12, modelWide: true)  // halfway between steps 0 and 1
        #expect(mid.sparsity.allSatisfy { zip($0, [0, 0.2, 0.1, 0.2]).allSatisfy { abs($0 - $1) < 1e-9 } })
        #expect(abs(mid.byteSparsity(bytes: t.siteBytes!) - 0.12) < 1e-9)
        let early = try t.allocate(byteSparsity: 0.04, modelWide: true)  // between dense and step 0
        #expect(early.sparsity.allSatisfy { zip($0, [0, 0.1, 0, 0.1]).allSatisfy { abs($0 - $1) < 1e-9 } })
        let beyond = try t.allocate(byteSparsity: 0.9, modelWide: true)
        #expect(beyond.sparsity[0] == steps[2].levels && beyond.label.contains("path ends"))
        #expect(throws: ActSparseError.self) { try t.allocate(byteSparsity: 0.2, modelWide: false) }  // no MLP path
        // Per layer: the mean over layers stays at the kind's level; the layer with less output error gets more.
        let split = t.allocate(kindLevels: [0.2, 0.4, 0.3, 0.5], perLayer: true)
        for s in 0..<4 {
            let mean = split.sparsity.reduce(0) { $0 + $1[s] } / 3
            #expect(abs(mean - [0.2, 0.4, 0.3, 0.5][s]) < 0.05 / 3 + 1e-9, "site \(s): mean \(mean)")
            #expect(split.sparsity[0][s] >= split.sparsity[2][s])
        }
    }

    @Test("uniform spreads the goal over the scope's bytes, capped at the ceiling")
    func uniform() throws {
        let t = table()
        let u = try t.uniform(byteSparsity: 0.3, modelWide: false)  // 300 of 500 bytes: 50 % on gate/up and down
        #expect(u.sparsity.allSatisfy { $0 == [0, 0, 0.5, 0.5] })
        let w = try t.uniform(byteSparsity: 0.3, modelWide: true)
        #expect(w.sparsity.allSatisfy { $0.allSatisfy { abs($0 - 0.3) < 1e-12 } })
        #expect(try t.uniform(byteSparsity: 0.9, modelWide: false).sparsity[0] == [0, 0, 0.9, 0.9])
    }

    @Test("a budget picks the highest measured byte sparsity within it (the larger of ΔNLL and KL), never past a step over it; else dense")
    func budget() throws {
        var t = table()
        func p(_ s: Double, _ d: Double) -> ThresholdTable.Point { .init(levels: [s, s, s, s], byteSparsity: s, deltaNLL: d) }
        func a(_ lv: [Double], _ d: Double) -> ThresholdTable.Point {
            .init(levels: lv, byteSparsity: t.byteSparsity(levels: lv), deltaNLL: d)
        }
        let allocated = [a([0, 0.2, 0, 0.2], 0.01), a([0, 0.4, 0.2, 0.4], 0.08), a([0.2, 0.4, 0.4, 0.4], 0.3),
                         a([0.3, 0.5, 0.4, 0.5], 0.09)]  // a lucky dip after a step over 0.1
        t.heldOut = .init(tokens: 100, denseNLL: 2, uniform: [p(0.1, 0.01), p(0.2, 0.05), p(0.3, 0.12)],
                          allocated: allocated, allocatedMLP: [])
        try t.validate(path: "t")
        let best = ThresholdTable.best(paths: t.heldOut!.paths, within: 0.1)
        #expect(best == allocated[1])
        #expect(ThresholdTable.best(paths: t.heldOut!.paths, within: 0.06) == p(0.2, 0.05))
        let plan = try t.plan(budget: 0.1)
        #expect(plan.sparsity.allSatisfy { $0 == [0, 0.4, 0.2, 0.4] } && plan.label.contains("budget ≤ +0.10"))
        #expect(try t.plan(budget: 0.001).isDense)
        // KL above the budget rules a point out even when its ΔNLL is within it.
        var k = t
        k.heldOut!.allocated[1].kl = 0.2
        #expect(try k.plan(budget: 0.1).sparsity[0] == [0.2, 0.2, 0.2, 0.2])  // back to uniform 20 %
        var none = t
        none.heldOut = nil
        #expect(throws: ActSparseError.self) { try none.plan(budget: 0.1) }
    }

    @Test("version-1 files still load (MLP only); broken version-2 fields are refused, naming the field")
    func fileFormat() throws {
        var v2 = table()
        v2.heldOut = .init(tokens: 5, denseNLL: 1, uniform: [.init(levels: [0.1, 0.1, 0.1, 0.1], byteSparsity: 0.1, deltaNLL: 0)],
                           allocated: [], allocatedMLP: [])
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
        refused({ $0.outputError![1].removeLast() }, "outputError")
        refused({ $0.siteBytes![0][0] = -5 }, "siteBytes")
        refused({ $0.attention![2] = [1] }, "attention[2]")
        refused({ $0.output = nil }, "attention and output")
        refused({ $0.heldOut!.allocated = [.init(levels: [0.3, 0.3, 0.3, 0.3], byteSparsity: 0.3, deltaNLL: 0),
                                           .init(levels: [0.2, 0.2, 0.2, 0.2], byteSparsity: 0.2, deltaNLL: 0)] },
                "heldOut.allocated")
        refused({ $0.heldOut!.uniform[0].levels = [0.1] }, "heldOut.uniform")
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

    /// A small drawing whose rows (1611 bytes) hold runs longer than deflate's longest match (258).
    static func drawing() -> [UInt8] {
        var img = Raster(width: 537, height: 21)
        img.line(0, 0, 536, 20, (255, 0, 0))
        img.text("DNLL 0.5%", x: 1, y: 1, (0, 0, 255), scale: 1)
        img.fill(x: 300, y: 5, w: 200, h: 10, (7, 7, 7))
        return [UInt8](img.png())
    }

    @Test("the report PNG is well formed: signature, IHDR, IDAT, IEND with valid CRCs, compressed")
    func pngChunks() throws {
        let data = Self.drawing()
        #expect(data.prefix(8) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        func be(_ i: Int) -> Int { data[i..<(i + 4)].reduce(0) { $0 << 8 | Int($1) } }
        var at = 8, types: [String] = []
        while at + 12 <= data.count {
            let n = be(at), type = String(decoding: data[(at + 4)..<(at + 8)], as: UTF8.self)
            types.append(type)
            var c: UInt32 = 0xFFFF_FFFF  // CRC-32 over type and body, bit by bit (independent of the table)
            for byte in data[(at + 4)..<(at + 8 + n)] {
                c ^= UInt32(byte)
                for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            }
            #expect(UInt32(be(at + 8 + n)) == c ^ 0xFFFF_FFFF, "CRC of \(type)")
            if type == "IHDR" { #expect(be(at + 8) == 537 && be(at + 12) == 21) }
            at += 12 + n
        }
        #expect(types == ["IHDR", "IDAT", "IEND"] && at == data.count)
        #expect(data.count < 537 * 21 * 3 / 4, "\(data.count) bytes: the plot's runs should compress")
    }

    @Test("Python's zlib (an independent inflater) turns the report PNG back into the drawn pixels",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "needs /usr/bin/python3"))
    func pngPixels() throws {
        let data = Self.drawing()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("raster-\(UUID()).png")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(data).write(to: file)
        let script = """
            import sys, zlib, struct
            d = open(sys.argv[1], 'rb').read(); p = 8; idat = b''
            while p < len(d):
                n, = struct.unpack('>I', d[p:p+4]); t = d[p+4:p+8]
                if t == b'IDAT': idat += d[p+8:p+8+n]
                p += 12 + n
            raw = zlib.decompress(idat); w, h = 537, 21; s = 3 * w; prev = bytearray(s); rows = []
            for y in range(h):
                f = raw[y*(s+1)]; r = bytearray(raw[y*(s+1)+1:(y+1)*(s+1)])
                if f == 2: r = bytearray((r[i] + prev[i]) & 255 for i in range(s))
                rows.append(r); prev = r
            for x, y in [(0, 0), (536, 20), (400, 10), (520, 2), (1, 1)]:
                print(*rows[y][3*x:3*x+3])
            """
        let proc = Process()
        proc.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        proc.arguments = ["-c", script, file.path]
        let pipe = Pipe()
        proc.standardOutput = pipe
        try proc.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        proc.waitUntilExit()
        #expect(proc.terminationStatus == 0)
        #expect(out.split(separator: "\n") == ["255 0 0", "255 0 0", "7 7 7", "255 255 255", "0 0 255"], "\(out)")
    }
}
