import Dispatch
import Foundation
import Synchronization
import CActSparse
#if canImport(Glibc)
import Glibc
#endif

/// Persistent worker threads for the kernels' fork-join: `DispatchQueue.concurrentPerform` cost ~5–10 µs per
/// call, which at ~200 small GEMVs per token made two threads slower than one. Workers spin on a generation
/// counter for a while after each job (a dispatch then costs well under a microsecond), then sleep on a
/// semaphore so an idle process does not burn its cores.
final class SpinPool: @unchecked Sendable {
    /// Workers including the calling thread.
    let size: Int
    private let generation = Atomic<Int>(0)
    private let remaining = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private var job: ((Int) -> Void)?
    /// Spin iterations (PAUSE each, ~0.5 ms) before a worker sleeps.
    static let spinLimit = 20_000

    private static let lock = NSLock()
    nonisolated(unsafe) private static var pools: [Int: SpinPool] = [:]

    static func shared(_ size: Int) -> SpinPool {
        lock.lock()
        defer { lock.unlock() }
        if let p = pools[size] { return p }
        let p = SpinPool(size: size)
        pools[size] = p
        return p
    }

    private init(size: Int) {
        self.size = size
        for index in 1..<size {
            let t = Thread { [unowned self] in self.work(index) }
            t.stackSize = 1 << 20
            t.start()
        }
    }

    /// Runs body(0..<size) with the caller as worker 0; returns when all are done. Falls back to
    /// concurrentPerform when another thread is using the pool (tests run in parallel).
    func run(_ body: (Int) -> Void) {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            DispatchQueue.concurrentPerform(iterations: size, execute: body)
            return
        }
        withoutActuallyEscaping(body) { b in
            job = b
            remaining.store(size - 1, ordering: .relaxed)
            generation.wrappingAdd(1, ordering: .releasing)
            for _ in 0..<sleepers.load(ordering: .acquiring) { wake.signal() }
            b(0)
            var spins = 0
            while remaining.load(ordering: .acquiring) > 0 {
                spins += 1
                if spins > 2_000 { sched_yield() } else { actsparse_pause() }  // a descheduled worker: let it run
            }
            job = nil
        }
        busy.store(false, ordering: .releasing)
    }

    private func work(_ index: Int) {
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                actsparse_pause()
                if spins > SpinPool.spinLimit {
                    sleepers.wrappingAdd(1, ordering: .acquiringAndReleasing)
                    if generation.load(ordering: .acquiring) == seen { wake.wait() }
                    sleepers.wrappingSubtract(1, ordering: .acquiringAndReleasing)
                    spins = 0
                }
            }
            seen = generation.load(ordering: .acquiring)
            job!(index)
            remaining.wrappingSubtract(1, ordering: .releasing)
        }
    }
}
