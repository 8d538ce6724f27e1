import ActSparse
import ActSparseDistributed
import Foundation
import CMPI
#if canImport(Glibc)
import Glibc
#endif

/// MPI_COMM_WORLD through Open MPI. The only file that calls MPI: every return code is checked and becomes a
/// `CommunicatorError` naming the call (errors are set to return, not to abort inside MPI).
///
/// Every collective is non-blocking (MPI_Ibcast, MPI_Igatherv, MPI_Ireduce, MPI_Iallreduce, MPI_Iallgatherv,
/// MPI_Ibarrier) and polled against `timeout`: a peer that is stuck, or cut off by the network, makes this rank
/// print which collective and which peer and MPI_Abort the job, instead of waiting forever.
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    /// Starts at the load timeout (setup); the per-token code lowers it once every rank is ready.
    public var timeout: Double = CommunicatorDefaults.loadTimeout
    public var throwsOnTimeout = false
    let comm: MPI_Comm
    /// Gatherv counts → (counts, displacements) as Int32, made once per distinct layout (a model has two):
    /// the per-token gathers allocate nothing.
    var gatherLayouts: [[Int]: (counts: [Int32], displs: [Int32])] = [:]

    /// True when this process was started by mpirun (Open MPI sets these), so `MPI_Init` is worth calling.
    public static var launchedByMPI: Bool {
        getenv("OMPI_COMM_WORLD_SIZE") != nil || getenv("PMIX_RANK") != nil
    }

    /// `startTimeout`: seconds MPI_Init_thread may take (it waits for every rank of the job to start MPI); past
    /// it a watchdog prints one line and ends this process (0: no limit).
    public init(startTimeout: Double = CommunicatorDefaults.loadTimeout) throws {
        var provided: Int32 = 0
        let started = OnceFlag()
        if startTimeout > 0 {
            let who = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_RANK"].map { "rank \($0)" } ?? "this rank"
            let watchdog = Thread {
                let deadline = Timing.now() + UInt64(min(startTimeout, 1e9) * 1e9)
                while Timing.now() < deadline {
                    if started.isSet { return }
                    usleep(50_000)
                }
                if started.isSet { return }
                StandardError.write("actsparse: \(who): MPI did not start within \(startTimeout) s: another rank of the job "
                    + "has not reached MPI_Init (stuck or slow before it; the load timeout sets the limit)\n")
                _exit(4)
            }
            watchdog.start()
        }
        defer { started.set() }
        try MPICommunicator.check(MPI_Init_thread(nil, nil, cmpi_thread_funneled(), &provided), "MPI_Init_thread")
        // Only the main thread calls MPI (the kernels' worker threads never do): FUNNELED is what we need.
        guard provided >= cmpi_thread_funneled() else {
            throw CommunicatorError.argument("MPI_Init_thread: this MPI provides thread level \(provided), " +
                                             "ActSparse needs MPI_THREAD_FUNNELED (\(cmpi_thread_funneled()))")
        }
        comm = cmpi_comm_world()
        try MPICommunicator.check(MPI_Comm_set_errhandler(comm, cmpi_errors_return()), "MPI_Comm_set_errhandler")
        var r: Int32 = 0, s: Int32 = 0
        try MPICommunicator.check(MPI_Comm_rank(comm, &r), "MPI_Comm_rank")
        try MPICommunicator.check(MPI_Comm_size(comm, &s), "MPI_Comm_size")
        rank = Int(r)
        size = Int(s)
    }

    static func check(_ code: Int32, _ call: String) throws {
        guard code != cmpi_success() else { return }
        var buf = [CChar](repeating: 0, count: 512)
        var len: Int32 = 0
        _ = MPI_Error_string(code, &buf, &len)
        throw CommunicatorError.mpi(call: call, code: code, message: String(cBuffer: buf))
    }

    func checkRoot(_ root: Int, _ call: String) throws {
        guard root >= 0 && root < size else {
            throw CommunicatorError.argument("\(call): root \(root) outside 0..<\(size)")
        }
    }

    /// Who this rank waits for in a rooted collective: the root, or (on the root) the other ranks.
    func peers(root: Int) -> String {
        if rank != root { return "rank \(root) (the root)" }
        if size == 2 { return "rank \(1 - root)" }
        return "one of ranks \((0..<size).filter { $0 != root }.map(String.init).joined(separator: ", "))"
    }

    /// Polls `request` until it completes; past `timeout` seconds, aborts the job naming the collective and peer
    /// (or throws `.timedOut`). A wait past a few milliseconds is an idle rank (a server between requests, a
    /// follower while rank 0 prefills): it sleeps between polls (100 µs; past 0.1 s 1 ms; past 1 s 5 ms) instead of spinning a core.
    func wait(_ request: inout MPI_Request?, _ call: String, peer: String) throws {
        var done: Int32 = 0
        try MPICommunicator.check(MPI_Test(&request, &done, cmpi_status_ignore()), call)
        if done != 0 { return }
        let start = Timing.now()
        let limit = timeout > 0 ? UInt64(timeout * 1e9) : UInt64.max
        var polls = 0, idle = false
        while done == 0 {
            try MPICommunicator.check(MPI_Test(&request, &done, cmpi_status_ignore()), call)
            polls += 1
            if polls & 255 == 0 || idle {
                let waited = Timing.now() - start
                if waited > limit {
                    let message = "\(call) got no answer within \(timeout) s: \(peer) is stuck, gone or cut off " +
                        "(the communicator's timeout sets the limit)"
                    if throwsOnTimeout { throw CommunicatorError.timedOut(message) }
                    abort(message, code: 4)
                }
                idle = waited > 5_000_000  // from here on one poll per sleep
                if waited > 1_000_000_000 { usleep(5000) } else if waited > 100_000_000 { usleep(1000) } else if idle { usleep(100) }
            }
        }
    }

    public func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) throws {
        try checkRoot(root, "MPI_Ibcast")
        guard bytes >= 0 && bytes <= Int(Int32.max) else { throw CommunicatorError.argument("MPI_Ibcast of \(bytes) bytes") }
        var req: MPI_Request? = cmpi_request_null()
        try MPICommunicator.check(MPI_Ibcast(buffer, Int32(bytes), cmpi_uint8(), Int32(root), comm, &req), "MPI_Ibcast")
        try wait(&req, "MPI_Ibcast of \(bytes) bytes from rank \(root)", peer: peers(root: root))
    }

    public func gatherv(_ send: UnsafePointer<Float>, count: Int, into recv: UnsafeMutablePointer<Float>?,
                        counts: [Int], root: Int) throws {
        try checkRoot(root, "MPI_Igatherv")
        if rank == root && recv == nil { throw CommunicatorError.argument("MPI_Igatherv: root has no receive buffer") }
        try gathering(counts, count: count, call: "MPI_Igatherv", waiting: "MPI_Igatherv to rank \(root)",
                      peer: peers(root: root)) { c, d, req in
            MPI_Igatherv(send, Int32(count), cmpi_float(), recv, c, d, cmpi_float(), Int32(root), comm, &req)
        }
    }

    /// Starts a v-gather with this layout's count and displacement arrays and waits for it inside their scope
    /// (they must outlive the request).
    func gathering(_ counts: [Int], count: Int, call: String, waiting: String, peer: String,
                   _ start: (UnsafePointer<Int32>?, UnsafePointer<Int32>?, inout MPI_Request?) -> Int32) throws {
        let layout = try gatherLayout(counts, count: count, call: call)
        var req: MPI_Request? = cmpi_request_null()
        try layout.counts.withUnsafeBufferPointer { c in
            try layout.displs.withUnsafeBufferPointer { d in
                try MPICommunicator.check(start(c.baseAddress, d.baseAddress, &req), call)
                try wait(&req, waiting, peer: peer)
            }
        }
    }

    /// Who an all-to-all collective waits for.
    var anyPeer: String { size == 2 ? "rank \(1 - rank)" : "another rank" }

    public func reduceSum(_ send: UnsafePointer<Float>, into recv: UnsafeMutablePointer<Float>?, count: Int,
                          root: Int) throws {
        try checkRoot(root, "MPI_Ireduce")
        guard count >= 0 && count <= Int(Int32.max) else { throw CommunicatorError.argument("MPI_Ireduce of \(count) floats") }
        if rank == root && recv == nil { throw CommunicatorError.argument("MPI_Ireduce: root has no receive buffer") }
        var req: MPI_Request? = cmpi_request_null()
        try MPICommunicator.check(
            MPI_Ireduce(send, recv, Int32(count), cmpi_float(), cmpi_op_sum(), Int32(root), comm, &req), "MPI_Ireduce")
        try wait(&req, "MPI_Ireduce to rank \(root)", peer: peers(root: root))
    }

    public func allReduceSum(_ send: UnsafePointer<Float>, into recv: UnsafeMutablePointer<Float>, count: Int) throws {
        guard count >= 0 && count <= Int(Int32.max) else { throw CommunicatorError.argument("MPI_Iallreduce of \(count) floats") }
        let source: UnsafeRawPointer? = recv == UnsafeMutablePointer(mutating: send) ? UnsafeRawPointer(cmpi_in_place())
            : UnsafeRawPointer(send)
        var req: MPI_Request? = cmpi_request_null()
        try MPICommunicator.check(
            MPI_Iallreduce(source, recv, Int32(count), cmpi_float(), cmpi_op_sum(), comm, &req), "MPI_Iallreduce")
        try wait(&req, "MPI_Iallreduce of \(count) floats", peer: anyPeer)
    }

    public func allGatherv(_ send: UnsafePointer<Float>, count: Int, into recv: UnsafeMutablePointer<Float>,
                           counts: [Int]) throws {
        try gathering(counts, count: count, call: "MPI_Iallgatherv", waiting: "MPI_Iallgatherv", peer: anyPeer) { c, d, req in
            MPI_Iallgatherv(send, Int32(count), cmpi_float(), recv, c, d, cmpi_float(), comm, &req)
        }
    }

    public func allReduceMaxLoc(value: Float, index: Int32) throws -> (value: Float, index: Int32) {
        // MPI_FLOAT_INT is struct { float; int }: MAXLOC keeps the smallest index among equal values.
        var pair: (Float, Int32) = (value, index), out: (Float, Int32) = (0, 0)
        var req: MPI_Request? = cmpi_request_null()
        try MPICommunicator.check(MPI_Iallreduce(&pair, &out, 1, cmpi_float_int(), cmpi_op_maxloc(), comm, &req),
                                  "MPI_Iallreduce (MAXLOC)")
        try wait(&req, "MPI_Iallreduce (MAXLOC)", peer: anyPeer)
        return out
    }

    /// Gatherv counts → (counts, displacements) as Int32, made once per distinct layout.
    func gatherLayout(_ counts: [Int], count: Int, call: String) throws -> (counts: [Int32], displs: [Int32]) {
        guard counts.count == size, counts[rank] == count, counts.allSatisfy({ $0 >= 0 }),
              counts.reduce(0, +) <= Int(Int32.max) else {
            throw CommunicatorError.argument(
                "\(call) on rank \(rank): expected \(size) counts with counts[\(rank)] = \(count), found \(counts)")
        }
        if let l = gatherLayouts[counts] { return l }
        let c32 = counts.map { Int32($0) }
        var d32 = [Int32](repeating: 0, count: size)
        for r in 1..<max(1, size) { d32[r] = d32[r - 1] + c32[r - 1] }
        gatherLayouts[counts] = (c32, d32)
        return (c32, d32)
    }

    public func barrier() throws {
        var req: MPI_Request? = cmpi_request_null()
        try MPICommunicator.check(MPI_Ibarrier(comm, &req), "MPI_Ibarrier")
        try wait(&req, "MPI_Ibarrier", peer: size == 2 ? "rank \(1 - rank)" : "another rank")
    }

    public func abort(_ message: String, code: Int32) -> Never {
        StandardError.write("actsparse: rank \(rank)/\(size): \(message)\n")
        // write(2) is unbuffered: the line is out before MPI_Abort.
        // MPI_Abort asks mpirun to end the job; on a node cut off from mpirun that request never completes.
        // This rank ends itself after a grace period either way.
        let watchdog = Thread {
            sleep(3)
            _exit(code)
        }
        watchdog.start()
        MPI_Abort(comm, code)
        exit(code)  // MPI_Abort does not return; this keeps the type checker and a broken MPI honest
    }

    public func finalize() { MPI_Finalize() }
}

/// A flag one thread sets and another polls (the start watchdog's "MPI is up").
final class OnceFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}

extension MPICommunicator {
    /// The world communicator: MPI when launched by mpirun, otherwise the single-process one.
    public static func world(startTimeout: Double = CommunicatorDefaults.loadTimeout) throws -> Communicator {
        launchedByMPI ? try MPICommunicator(startTimeout: startTimeout) : LocalCommunicator()
    }
}
