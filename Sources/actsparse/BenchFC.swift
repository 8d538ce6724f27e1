import ActSparse
import ActSparseTools
import ArgumentParser
import Foundation

struct BenchFC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fc",
        abstract: "One FC layer: read bandwidth, dense and sparse decode, prefill GFLOP/s.",
        discussion: """
            Weights are cycled through copies totalling ≥ --cold-mib so decode reads memory, not the L3.
            effective_gbps = bytes of codes and scales actually read / median time; speedup_vs_dense is against the
            same format's dense decode in this run.
            """)

    @Option(help: "Input channels (comma list; paired with --oc by position).") var ic: CommaList<Int> = [4096]
    @Option(help: "Output channels (comma list).") var oc: CommaList<Int> = [11008]
    @Option(help: "Weight formats (comma list): f32, f16, bf16, int8sym, int8asym, int8group, int4sym, int4asym, int5sym, int5asym, q4_k, q5_k, q6_k (or q8_0, q4_0, q4_1, q5_0, q5_1).")
    var format: CommaList<String> = ["f32", "f16", "bf16", "int8sym", "int8asym", "int8group", "int4sym", "int4asym"]
    @Option(help: "Group size along IC for grouped formats (32, 64, 128).") var group = 128
    @Option(help: "Sparsities for the sparse decode rows (comma list).") var sparsity: CommaList<Double> = [0, 0.5, 0.7, 0.8]
    @Option(help: "Thread counts (comma list).") var threads: CommaList<Int> = [1]
    @Option(help: "Prefill sizes M (comma list; empty for none).") var m: CommaList<Int> = [128]
    @Option(help: "Timed decode iterations per row (median reported).") var iterations = 30
    @Option(help: "Total MiB of weight copies to cycle through.") var coldMib = 256
    @Option(help: "Seed for weights and activations.") var seed: UInt64 = 1
    @Option(help: ArgumentHelp("Activation precisions (comma list): f32 (exact) and/or int8 (int8 activations per "
        + "weight group, VNNI); int8 rows are labelled FORMAT/int8 and compared with their own dense run."))
    var activations: CommaList<ActivationPrecision> = [.f32]
    @Flag(help: "CSV instead of a table.") var csv = false

    func run() throws {
        let ics = ic.values, ocs = oc.values
        guard ics.count == ocs.count else { throw ValidationError("--ic and --oc need the same number of values") }
        for (a, b) in zip(ics, ocs) where a <= 0 || b <= 0 {
            throw ValidationError("--ic/--oc must be > 0, found \(a)x\(b)")
        }
        var cfg = FCBenchmark.Config()
        cfg.formats = try format.map { try WeightFormat(parsing: $0, defaultGroup: group) }
        cfg.sparsities = sparsity.values
        for s in cfg.sparsities where !(0...1).contains(s) { throw ValidationError("--sparsity \(s) not in 0...1") }
        cfg.threads = threads.values
        for t in cfg.threads where !(1...4096).contains(t) { throw ValidationError("--threads \(t) not in 1...4096") }
        cfg.prefillM = m.values
        for v in cfg.prefillM where !(1...65536).contains(v) { throw ValidationError("--m \(v) not in 1...65536") }
        for (a, b) in zip(ics, ocs) {
            if let p = outside("--ic", a, 1...(1 << 18)) ?? outside("--oc", b, 1...(1 << 18)) { throw ValidationError(p) }
        }
        guard (1...(1 << 20)).contains(iterations), (0...(1 << 20)).contains(coldMib) else {
            throw ValidationError("--iterations must be in 1...1048576 and --cold-mib in 0...1048576, found \(iterations), \(coldMib)")
        }
        cfg.activations = activations.values
        cfg.iterations = iterations
        cfg.coldBytes = coldMib << 20
        cfg.seed = seed
        let header = "shape,kind,format,m,threads,sparsity,median_ms,effective_gbps,read_gbps,pct_of_read,"
            + "speedup_vs_dense,gflops"
        if csv {
            print(header)
        } else {
            print(String(format: "%-11@ %-7@ %-12@ %4@ %3@ %5@ %9@ %8@ %8@ %6@ %7@ %7@", "shape", "kind", "format", "m",
                         "thr", "spars", "median_ms", "eff_GB/s", "read_GB/s", "%read", "speedup", "GFLOP/s"))
        }
        for (a, b) in zip(ics, ocs) {
            cfg.ic = a
            cfg.oc = b
            try FCBenchmark(config: cfg).run { r in
                func f(_ v: Double, _ d: Int) -> String { v.isNaN ? "" : String(format: "%.\(d)f", v) }
                if csv {
                    print([r.shape, r.kind, r.format, "\(r.m)", "\(r.threads)", f(r.sparsity, 2), f(r.medianMs, 4),
                           f(r.effectiveGBps, 2), f(r.readGBps, 2), f(r.pctOfRead, 1), f(r.speedupVsDense, 2),
                           f(r.gflops, 1)].joined(separator: ","))
                } else {
                    print(String(format: "%-11@ %-7@ %-12@ %4d %3d %5@ %9@ %8@ %8@ %6@ %7@ %7@", r.shape, r.kind,
                                 r.format, r.m, r.threads, f(r.sparsity, 2), f(r.medianMs, 3), f(r.effectiveGBps, 1),
                                 f(r.readGBps, 1), f(r.pctOfRead, 0), f(r.speedupVsDense, 2), f(r.gflops, 1)))
                }
                fflush(nil)  // all output streams: stdout without touching the C global
            }
        }
    }
}
