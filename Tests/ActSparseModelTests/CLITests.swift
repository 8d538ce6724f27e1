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
    }
}
