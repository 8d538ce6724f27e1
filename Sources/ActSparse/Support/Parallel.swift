import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Fork-join over `threads` workers: the decode and prefill kernels split OC into one chunk per worker.
public enum Parallel {
    /// The cores this process may run on (Cpus_allowed of /proc/self/status, else online CPUs): the default
    /// thread count, so that a rank bound to one socket uses that socket's cores.
    public static let availableCores: Int = {
        if let f = fopen("/proc/self/status", "r") {
            defer { fclose(f) }
            var line = [CChar](repeating: 0, count: 4096)
            while fgets(&line, 4096, f) != nil {
                let s = String(cBuffer: line)
                guard s.hasPrefix("Cpus_allowed:") else { continue }
                let n = s.dropFirst("Cpus_allowed:".count).reduce(0) { acc, ch in
                    acc + (ch.hexDigitValue.map { $0.nonzeroBitCount } ?? 0)
                }
                if n > 0 { return n }
            }
        }
        return max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }()

    /// Runs `body(worker)` for worker in 0..<threads on the process's one spinning pool (see `SpinPool`); the
    /// caller's thread alone when threads == 1.
    @inline(__always)
    public static func run(_ threads: Int, _ body: (Int) -> Void) {
        if threads <= 1 { body(0); return }
        // More workers than cores would spin against each other: hand those to the OS scheduler instead.
        if threads > SpinPool.shared.size {
            concurrentPerform(threads, body)
            return
        }
        SpinPool.shared.run(threads, body)
    }

    /// `DispatchQueue.concurrentPerform` for the kernels' non-Sendable bodies: it returns only when every worker
    /// is done, and workers write disjoint parts of what the body captures (the fork-join contract every kernel
    /// keeps), so the body never outlives the call nor races with itself.
    @inline(__always)
    static func concurrentPerform(_ n: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { b in
            DispatchQueue.concurrentPerform(iterations: n, execute: unsafeBitCast(b, to: (@Sendable (Int) -> Void).self))
        }
    }

    /// Splits 0..<n into `parts` contiguous ranges whose inner boundaries are multiples of `align`.
    public static func split(_ n: Int, parts: Int, align: Int) -> [Range<Int>] {
        let blocks = (n + align - 1) / align
        let p = max(1, min(parts, blocks))
        var out: [Range<Int>] = []
        var start = 0
        for k in 0..<p {
            let nb = blocks / p + (k < blocks % p ? 1 : 0)
            let end = min(n, start + nb * align)
            out.append(start..<end)
            start = end
        }
        return out
    }
}
