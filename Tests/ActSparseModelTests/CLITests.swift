import ActSparse
import ActSparseTestSupport
import Foundation
import Testing

@Suite("command line")
struct CLITests {
    @Test("bench fc --csv: the documented columns, one read row per thread count, speed-up 1 for dense")
    func benchCSV() throws {
        let r = try MPILaunch.run(["bench", "fc", "--ic", "256", "--oc", "1000", "--format", "f16,int4asym-g32",
                                   "--sparsity", "0.5", "--threads", "1,2", "--m", "8", "--iterations", "5",
                                   "--cold-mib", "1", "--csv"], timeout: 120)
        #expect(r.status == 0, "\(r.err)")
        let lines = r.out.split(separator: "\n").map(String.init)
        let header = lines.first ?? ""
        for column in ["format", "m", "threads", "sparsity", "median_ms", "effective_gbps", "read_gbps",
                       "pct_of_read", "speedup_vs_dense", "gflops"] {
            #expect(header.split(separator: ",").contains(Substring(column)), "missing \(column) in \(header)")
        }
        let cols = header.split(separator: ",").map(String.init)
        let rows = lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        func col(_ row: [String], _ name: String) -> String { row[cols.firstIndex(of: name)!] }
        #expect(rows.filter { col($0, "kind") == "read" }.count == 2)
        // per format × threads: dense, sparse 0.5, prefill M = 8
        #expect(rows.filter { col($0, "kind") == "dense" }.count == 4)
        #expect(rows.filter { col($0, "kind") == "dense" }.allSatisfy { col($0, "speedup_vs_dense") == "1.00" })
        #expect(rows.filter { col($0, "kind") == "prefill" }.allSatisfy { Double(col($0, "gflops"))! > 0 })
        #expect(rows.filter { col($0, "kind") == "sparse" }.allSatisfy { Double(col($0, "effective_gbps"))! > 0 })
    }

    @Test("bad arguments are rejected with a message naming the value")
    func badArguments() throws {
        let r = try MPILaunch.run(["bench", "fc", "--format", "int3"], timeout: 60)
        #expect(r.status != 0 && r.err.contains("int3"), "\(r.err)")
        let s = try MPILaunch.run(["bench", "fc", "--sparsity", "1.5"], timeout: 60)
        #expect(s.status != 0 && s.err.contains("1.5"), "\(s.err)")
        // Lists and named choices are parsed by the argument parser: the option and the value are named.
        let l = try MPILaunch.run(["bench", "fc", "--threads", "1,two"], timeout: 60)
        #expect(l.status != 0 && l.err.contains("1,two") && l.err.contains("--threads"), "\(l.err)")
        let p = try MPILaunch.run(["synth", "--preset", "huge", "--out", "/dev/null"], timeout: 60)
        #expect(p.status != 0 && p.err.contains("huge") && p.err.contains("llama2-7b"), "\(p.err)")
    }

    @Test("--version is one line: version, the kernels' ISA, whether MPI is in")
    func version() throws {
        let r = try MPILaunch.run(["--version"], timeout: 30)
        let lines = r.out.split(separator: "\n")
        #expect(r.status == 0 && lines.count == 1, "\(r.out)")
        #expect(r.out.hasPrefix("actsparse \(BuildInfo.version) ") && r.out.contains(BuildInfo.kernels) && r.out.contains("Swift code for \(BuildInfo.isa)"))
        #expect(r.out.contains(Requires.builtWithMPI ? "MPI: yes" : "MPI: no"), "\(r.out)")
    }
}
