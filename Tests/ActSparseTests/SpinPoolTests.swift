import ActSparse
import Dispatch
import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A stress run that has not finished by then has hung (it takes ~1–5 s here).
let spinPoolWatchdogSeconds = 120

@Suite("spin pool")
struct SpinPoolTests {
    /// Runs `jobs` tiny jobs of random width on `pool` on a background thread; nil if it finished before the
    /// watchdog, else how many jobs had completed when it fired. Checks every job ran each worker index once.
    func stress(_ pool: SpinPool, jobs: Int) -> (hungAfter: Int?, wrong: Int) {
        let done = DispatchSemaphore(value: 0)
        let completed = Atomic<Int>(0), wrong = Atomic<Int>(0)
        let size = pool.size
        let t = Thread {
            var rng = SplitMix(seed: 9)
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: size)
            defer { hits.deallocate() }
            for _ in 0..<jobs {
                let n = 2 + Int(rng.next() % UInt64(size - 1))
                hits.initialize(repeating: 0, count: size)
                pool.run(n) { i in hits[i] += 1 }  // each index is written by one thread only
                for i in 0..<size where hits[i] != (i < n ? 1 : 0) { wrong.wrappingAdd(1, ordering: .relaxed) }
                if completed.load(ordering: .relaxed) % 64 == 0 { usleep(50) }  // let workers fall asleep now and then
                completed.wrappingAdd(1, ordering: .relaxed)
            }
            done.signal()
        }
        t.start()
        let finished = done.wait(timeout: .now() + .seconds(spinPoolWatchdogSeconds)) == .success
        return (finished ? nil : completed.load(ordering: .relaxed), wrong.load(ordering: .relaxed))
    }

    @Test("30,000 jobs, more workers than cores, workers that sleep at once, preemption between check and wait",
          arguments: [("yield", 0), ("usleep", 20)])
    func noLostWakeUp(kind: String, micros: Int) throws {
        let workers = max(4, 2 * Parallel.availableCores)
        let pool = SpinPool(size: workers, spinLimit: 8, preempt: micros == 0 ? { sched_yield() } : {
            usleep(UInt32(micros))
        })
        let r = stress(pool, jobs: 30_000)
        #expect(r.hungAfter == nil, "\(kind): hung after \(r.hungAfter ?? 0) jobs (lost wake-up)")
        #expect(r.wrong == 0, "\(kind): \(r.wrong) worker slots ran the wrong number of times")
    }

    @Test("one pool per process, sized to the cores, serves every thread count")
    func boundedThreads() throws {
        for threads in [2, 3, 4, 1, 2, Parallel.availableCores] {
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: threads)
            defer { hits.deallocate() }
            hits.initialize(repeating: 0, count: threads)
            Parallel.run(threads) { hits[$0] += 1 }
            #expect((0..<threads).allSatisfy { hits[$0] == 1 }, "threads \(threads)")
        }
        // One shared pool sized to the cores serves every thread count (the old code made one pool per count).
        #expect(SpinPool.shared.size == Parallel.availableCores)
    }
}
