import ActSparse
import ActSparseDistributed
import ArgumentParser
import Foundation

struct MLPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mlp",
        abstract: "A synthetic Llama SwiGLU MLP sharded over MPI ranks: prefill M tokens, then decode N tokens.",
        discussion: """
            Run alone (1 rank) or under launch/mpirun. Weights are synthetic and deterministic (--seed); each rank
            generates and keeps only its slices. Thresholds come from quantiles of |h| and |a| over calibration
            tokens. The checksum covers every output bit, so runs with other rank counts can be compared.
            """)

    @Option(help: "Hidden size H (gate/up IC, down OC).") var hidden = 4096
    @Option(help: "Intermediate size I.") var intermediate = 11008
    @Option(help: "Weight format (f32, f16, bf16, int8sym, int8asym, int8group, int4sym, int4asym).")
    var format = "int4asym"
    @Option(help: "Group size along IC for grouped formats.") var group = 128
    @Option(help: "Target sparsity of both MLP inputs (0 = dense).") var sparsity = 0.5
    @Option(help: "Target sparsity of the gate/up input (default: --sparsity).") var sparsityGateUp: Double?
    @Option(help: "Target sparsity of the down input (default: --sparsity).") var sparsityDown: Double?
    @Option(help: "gather (rank 0 thresholds, broadcast, gather) or reduce (down by IC, one reduce).")
    var mode: DistributedMLP.Mode = .gather
    @Option(help: "Decode tokens.") var tokens = 32
    @Option(help: "Prefill tokens M (0 for none).") var prefill = 16
    @Option(help: "Calibration tokens for the thresholds.") var calibTokens = 8
    @Option(help: "Seed for weights and activations.") var seed: UInt64 = 1
    @Flag(help: "Print one line per decode token.") var perToken = false
    @Flag(help: "Print one CSV line (with a header) instead of the summary.") var csv = false
    @Option(help: "Write every output (prefill then decode, f32 little-endian) to this file (rank 0).")
    var dump: String?
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var commOptions: CommOptions

    /// What every rank must share: every option but the threads, timeouts and output files.
    var settings: JobSettings {
        var s = JobSettings(command: "mlp")
        s.add("--hidden", hidden); s.add("--intermediate", intermediate); s.add("--format", format)
        s.add("--group", group); s.add("--sparsity", sparsity)
        s.add("--sparsity-gate-up", sparsityGateUp.map { "\($0)" } ?? "-")
        s.add("--sparsity-down", sparsityDown.map { "\($0)" } ?? "-")
        s.add("--mode", mode.rawValue); s.add("--tokens", tokens); s.add("--prefill", prefill)
        s.add("--calib-tokens", calibTokens); s.add("--seed", seed); s.add("--per-token", perToken)
        return s
    }

    func run() throws {
        try withWorld(commOptions, settings: settings) { comm in
            let fmt = try? WeightFormat(parsing: format, defaultGroup: group)
            try agreeOnConfiguration(comm) {
                guard let fmt else { return "unknown --format \(format)" }
                if let p = outside("--hidden", hidden, 1...(1 << 16)) ?? outside("--intermediate", intermediate, 1...(1 << 18))
                    ?? outside("--tokens", tokens, 1...(1 << 30)) ?? outside("--prefill", prefill, 0...(1 << 16))
                    ?? outside("--calib-tokens", calibTokens, 1...(1 << 16)) ?? outside("--group", group, 1...(1 << 16)) {
                    return p
                }
                if let p = commOptions.problem() { return p }
                for s in [sparsity, sparsityGateUp ?? 0, sparsityDown ?? 0] where !(0..<1).contains(s) {
                    return "sparsity \(s) not in 0..<1"
                }
                if fmt.group > 0, hidden % fmt.group != 0 || intermediate % fmt.group != 0 {
                    return "--hidden \(hidden) and --intermediate \(intermediate) must be multiples of the group \(fmt.group)"
                }
                do {
                    _ = try ShardPlan(total: intermediate, ranks: comm.size, align: max(32, fmt.group))
                    _ = try ShardPlan(total: hidden, ranks: comm.size, align: 32)
                } catch { return "\(comm.size) ranks: \(error)" }
                return nil
            }
            try runMLP(comm, format: fmt!)
        }
    }

    func runMLP(_ comm: Communicator, format fmt: WeightFormat) throws {
        let mlp = try DistributedMLP(
            comm: comm, mode: mode, hidden: hidden, intermediate: intermediate, align: fmt.group,
            threads: threadOptions.resolved,
            slice: DistributedMLP.syntheticSlice(seed: seed, hidden: hidden, intermediate: intermediate, format: fmt))
        try comm.barrier()  // every rank built its slices (under the load timeout); tokens run under --comm-timeout
        comm.timeout = commOptions.resolved
        let H = hidden
        func token(_ t: Int) -> [Float] {
            var h = [Float](repeating: 0, count: H)
            Synthetic.hidden(seed: seed, token: t, width: H, into: &h)
            return h
        }
        let calib = comm.isRoot ? (0..<calibTokens).map { token(1_000_000 + $0) } : []
        try mlp.calibrate(calib, sparsityGateUp: sparsityGateUp ?? sparsity, sparsityDown: sparsityDown ?? sparsity)
        if (sparsityGateUp ?? sparsity) == 0 { mlp.thresholdGateUp = 0 }
        if (sparsityDown ?? sparsity) == 0 { mlp.thresholdDown = 0 }

        var checksum = Checksum()
        var dumped: [Float] = []
        // Prefill.
        var prefillMs = 0.0
        if prefill > 0 {
            let x = comm.isRoot ? (0..<prefill).flatMap { token($0) } : []
            var out = [Float](repeating: 0, count: comm.isRoot ? prefill * H : 0)
            try comm.barrier()
            prefillMs = try Timing.seconds {
                try x.withUnsafeBufferPointer { xp in
                    try out.withUnsafeMutableBufferPointer { op in
                        try mlp.prefill(xp.baseAddress, m: prefill, into: op.baseAddress)
                    }
                }
            } * 1e3
            if comm.isRoot { checksum.add(out); dumped += out }
        }
        // Decode.
        mlp.resetStats()
        var h = [Float](repeating: 0, count: H), out = [Float](repeating: 0, count: H)
        var times: [Double] = [], commTimes: [Double] = []
        try comm.barrier()
        for t in 0..<tokens {
            if comm.isRoot { Synthetic.hidden(seed: seed, token: prefill + t, width: H, into: &h) }
            let commBefore = mlp.commNanos
            let sec = try Timing.seconds {
                try h.withUnsafeBufferPointer { hp in
                    try out.withUnsafeMutableBufferPointer { op in
                        try mlp.decode(comm.isRoot ? hp.baseAddress : nil, into: comm.isRoot ? op.baseAddress : nil)
                    }
                }
            }
            times.append(sec)
            commTimes.append(Double(mlp.commNanos - commBefore) * 1e-9)
            if comm.isRoot {
                checksum.add(out)
                if dump != nil { dumped += out }
                if perToken {
                    print(String(format: "token %4d  %8.3f ms  comm %7.1f µs", t, sec * 1e3,
                                 Double(mlp.commNanos - commBefore) / 1e3))
                }
            }
        }
        // Bytes held per rank, to rank 0.
        var held = [Float](repeating: 0, count: comm.size), heldSum = held
        held[comm.rank] = Float(mlp.bytesHeld) / 1e6
        try comm.reduceSum(held, into: &heldSum, count: comm.size, root: 0)
        var readMB = [Float](repeating: 0, count: comm.size), readSum = readMB
        readMB[comm.rank] = Float(mlp.bytesRead) / Float(tokens) / 1e6
        try comm.reduceSum(readMB, into: &readSum, count: comm.size, root: 0)
        // Time inside collectives = transfer + waiting for slower ranks. The rank that waits least shows the cost
        // of communication itself; rank 0's figure adds the imbalance. Medians over tokens.
        var commMine = [Float](repeating: 0, count: comm.size), commAll = commMine
        commMine[comm.rank] = Float(Timing.median(commTimes) * 1e6)
        try comm.reduceSum(commMine, into: &commAll, count: comm.size, root: 0)
        let commUs = Double(commAll.min()!), commRoot = Double(commAll[0])
        guard comm.isRoot else { return }
        if let dump {
            try dumped.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: dump)) }
        }
        let ms = Timing.median(times) * 1e3
        let (sGU, sD) = mlp.realizedSparsity
        let weightMB = heldSum.reduce(0, +)
        if csv {
            print("ranks,mode,format,hidden,intermediate,target_sparsity,realized_gateup,realized_down,"
                + "ms_per_token,comm_us_per_token,comm_us_rank0,prefill_ms,prefill_m,mb_per_rank_max,read_mb_per_token_max,"
                + "read_mb_per_token_total,msg_bytes_per_token,threads,checksum")
            print([
                "\(comm.size)", mode.rawValue, "\(fmt)", "\(hidden)", "\(intermediate)", "\(sparsity)",
                String(format: "%.4f", sGU), String(format: "%.4f", sD), String(format: "%.4f", ms),
                String(format: "%.1f", commUs), String(format: "%.1f", commRoot), String(format: "%.3f", prefillMs), "\(prefill)",
                String(format: "%.2f", heldSum.max()!), String(format: "%.4f", readSum.max()!),
                String(format: "%.4f", readSum.reduce(0, +)), "\(mlp.messageBytes / tokens)",
                "\(threadOptions.resolved)", checksum.hex,
            ].joined(separator: ","))
        } else {
            print("""
                MLP \(hidden)→\(intermediate)→\(hidden) \(fmt), mode \(mode.rawValue), \(comm.size) rank(s) × \
                \(threadOptions.resolved) thread(s)
                  weights held per rank: \(heldSum.map { String(format: "%.1f MB", $0) }.joined(separator: ", ")) \
                (total \(String(format: "%.1f", weightMB)) MB)
                  thresholds: gate/up \(mlp.thresholdGateUp), down \(mlp.thresholdDown)
                  realized sparsity: gate/up \(String(format: "%.3f", sGU)), down \(String(format: "%.3f", sD))
                  prefill M=\(prefill): \(String(format: "%.2f", prefillMs)) ms
                  decode: \(String(format: "%.3f", ms)) ms/token (median of \(tokens)); communication \
                \(String(format: "%.1f", commUs)) µs/token (\(String(format: "%.1f", commUs / (ms * 1e3) * 100)) %, \
                least-waiting rank), \(String(format: "%.1f", commRoot)) µs on rank 0 incl. waiting for the others
                  weights read per token: \(readSum.map { String(format: "%.2f MB", $0) }.joined(separator: ", ")); \
                effective \(String(format: "%.1f", Double(readSum.reduce(0, +)) / ms)) GB/s; \
                messages \(mlp.messageBytes / tokens) B/token on rank 0
                  checksum \(checksum.hex)
                """)
        }
    }
}


/// FNV-1a over the bit patterns of every output: equal iff the runs agree bit for bit.
struct Checksum {
    var state: UInt64 = 0xCBF2_9CE4_8422_2325
    mutating func add(_ xs: [Float]) {
        for x in xs {
            state = (state ^ UInt64(x.bitPattern)) &* 0x0000_0100_0000_01B3
        }
    }
    var hex: String { String(format: "%016llx", state) }
}
