import Dispatch
import Foundation
import Synchronization
import CActSparse
#if canImport(Glibc)
import Glibc
#endif

/// Persistent worker threads for the kernels' fork-join: `DispatchQueue.concurrentPerform` costs microseconds per
/// call, which at ~200 small GEMVs per token made two threads slower than one (docs/design.md, "Kernel tuning"). Workers spin on a ticket for a
/// while after each job (a dispatch then costs well under a microsecond), then sleep so an idle process does not
/// burn its cores.
///
/// Sleep/wake handshake (why it cannot lose a wake-up): each worker has its own semaphore and `sleeping` flag.
/// A worker stores `sleeping = true`, then re-reads the ticket; the caller stores the ticket, then reads each
/// worker's flag. Both sides are sequentially consistent, so at least one of them sees the other's store: either
/// the worker sees the new job and takes its flag back, or the caller sees the flag, clears it and signals that
/// worker's own semaphore, which only that worker waits on. (The old pool shared one semaphore: a worker that
/// looped back could take a signal meant for a sleeper, which then slept forever while the caller spun.)
public final class SpinPool: @unchecked Sendable {
    /// Workers including the calling thread.
    public let size: Int
    /// Spin iterations (PAUSE each, ~25 ns) before a worker sleeps.
    let spinLimit: Int
    /// Test hook: runs between a worker's decision to sleep and its wait (injected preemption).
    let preempt: (() -> Void)?

    /// generation << 16 | workers taking part in that generation's job.
    private let ticket = Atomic<Int>(0)
    private let remaining = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private var job: ((Int) -> Void)?
    private let workers: [Worker]

    final class Worker: Sendable {
        let sleeping = Atomic<Bool>(false)
        let wake = DispatchSemaphore(value: 0)
    }

    /// The process's one pool, sized to the cores it may use: however many thread counts the kernels ask for,
    /// at most `availableCores - 1` threads ever spin.
    public static let shared = SpinPool(size: Parallel.availableCores)

    public init(size: Int, spinLimit: Int = 20_000, preempt: (() -> Void)? = nil) {
        self.size = max(1, size)
        self.spinLimit = spinLimit
        self.preempt = preempt
        workers = (0..<self.size).map { _ in Worker() }
        for index in 1..<self.size {
            let t = Thread { [unowned self] in self.work(index) }
            t.stackSize = 1 << 20
            t.start()
        }
    }

    /// Runs body(0..<n) (n ≤ size) with the caller as worker 0; returns when all are done. Falls back to
    /// concurrentPerform when another thread is using the pool (tests run in parallel).
    public func run(_ n: Int, _ body: (Int) -> Void) {
        let n = min(max(1, n), size)
        if n == 1 { body(0); return }
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            Parallel.concurrentPerform(n, body)
            return
        }
        withoutActuallyEscaping(body) { b in
            job = b
            remaining.store(n - 1, ordering: .relaxed)
            let generation = (ticket.load(ordering: .relaxed) >> 16) &+ 1
            ticket.store((generation << 16) | n, ordering: .sequentiallyConsistent)
            for w in workers[1..<n] where w.sleeping.load(ordering: .sequentiallyConsistent) {
                if w.sleeping.exchange(false, ordering: .sequentiallyConsistent) { w.wake.signal() }
            }
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
        let me = workers[index]
        var seen = 0  // the last generation this worker looked at
        while true {
            var spins = 0
            var t = ticket.load(ordering: .acquiring)
            while t >> 16 == seen {
                spins += 1
                actsparse_pause()
                if spins > spinLimit {
                    me.sleeping.store(true, ordering: .sequentiallyConsistent)
                    preempt?()
                    if ticket.load(ordering: .sequentiallyConsistent) >> 16 == seen {
                        preempt?()
                        me.wake.wait()  // only the caller that cleared our flag signals us
                    } else if !me.sleeping.compareExchange(expected: true, desired: false,
                                                           ordering: .sequentiallyConsistent).exchanged {
                        me.wake.wait()  // the caller cleared the flag first: consume its signal
                    }
                    spins = 0
                }
                t = ticket.load(ordering: .acquiring)
            }
            seen = t >> 16
            guard index < t & 0xFFFF else { continue }  // not taking part in this job
            job!(index)
            remaining.wrappingSubtract(1, ordering: .releasing)
        }
    }
}
