import ActSparseDistributed
import ArgumentParser
import Foundation

/// Exercises the communicator's collectives under mpirun (or alone): broadcast, gatherv with uneven counts,
/// reduce-sum, the status word, barrier. Exits non-zero naming the rank on any mismatch.
struct CommCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "comm-check", abstract: "Checks broadcast, gatherv (uneven counts) and reduce on all ranks.")

    func run() throws {
        let comm = try World.start()
        do {
            try comm.agree(on: JobSettings(command: "comm-check"))
            let n = comm.size, r = comm.rank
            // broadcast: root sends 0, 1, 2, …
            var b = [Float](repeating: r == 0 ? 0 : -1, count: 1000)
            if r == 0 { for i in 0..<b.count { b[i] = Float(i) } }
            try comm.broadcast(&b, count: b.count, root: 0)
            for i in 0..<b.count where b[i] != Float(i) { comm.abort("broadcast: b[\(i)] = \(b[i])", code: 3) }
            // gatherv: rank k sends k + 1 + 7k values equal to 100k + j
            let counts = (0..<n).map { $0 * 7 + 1 }
            let mine = (0..<counts[r]).map { Float(100 * r + $0) }
            var all = [Float](repeating: -1, count: counts.reduce(0, +))
            try mine.withUnsafeBufferPointer { s in
                try all.withUnsafeMutableBufferPointer { d in
                    try comm.gatherv(s.baseAddress!, count: s.count, into: d.baseAddress, counts: counts, root: 0)
                }
            }
            if r == 0 {
                var k = 0
                for src in 0..<n {
                    for j in 0..<counts[src] where all[k + j] != Float(100 * src + j) {
                        comm.abort("gatherv: from rank \(src) element \(j) = \(all[k + j])", code: 3)
                    }
                    k += counts[src]
                }
            }
            // reduce: Σ_k (k + 1)·i
            let part = (0..<257).map { Float((r + 1) * $0) }
            var sum = [Float](repeating: 0, count: 257)
            try part.withUnsafeBufferPointer { s in
                try sum.withUnsafeMutableBufferPointer { d in
                    try comm.reduceSum(s.baseAddress!, into: d.baseAddress, count: 257, root: 0)
                }
            }
            let factor = Float(n * (n + 1) / 2)
            if r == 0 { for i in 0..<257 where sum[i] != factor * Float(i) { comm.abort("reduce: [\(i)]", code: 3) } }
            // agree: every rank takes root's status word, whatever it proposed itself
            let word = try comm.agree(status: r == 0 ? 7 : Int32(100 + r))
            if word != 7 { comm.abort("agree: got \(word), root said 7", code: 3) }
            try comm.barrier()
            if r == 0 { print("comm-check OK: \(n) rank(s): broadcast, gatherv \(counts), reduce-sum, agree") }
            comm.finalize()
        } catch {
            comm.abort("\(error)", code: 2)
        }
    }
}
