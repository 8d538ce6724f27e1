import CMPI
#if canImport(Glibc)
import Glibc
#endif

/// MPI_COMM_WORLD through Open MPI. The only file that calls MPI: every return code is checked and becomes a
/// `CommunicatorError` naming the call (errors are set to return, not to abort inside MPI).
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    let comm: MPI_Comm
    /// Gatherv counts → (counts, displacements) as Int32, made once per distinct layout (a model has two):
    /// the per-token gathers allocate nothing.
    var gatherLayouts: [[Int]: (counts: [Int32], displs: [Int32])] = [:]

    /// True when this process was started by mpirun (Open MPI sets these), so `MPI_Init` is worth calling.
    public static var launchedByMPI: Bool {
        getenv("OMPI_COMM_WORLD_SIZE") != nil || getenv("PMIX_RANK") != nil
    }

    public init() throws {
        var provided: Int32 = 0
        try MPICommunicator.check(MPI_Init_thread(nil, nil, cmpi_thread_funneled(), &provided), "MPI_Init_thread")
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
        throw CommunicatorError.mpi(call: call, code: code, message: String(cString: buf))
    }

    func checkRoot(_ root: Int, _ call: String) throws {
        guard root >= 0 && root < size else {
            throw CommunicatorError.argument("\(call): root \(root) outside 0..<\(size)")
        }
    }

    public func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) throws {
        try checkRoot(root, "MPI_Bcast")
        guard bytes <= Int(Int32.max) else { throw CommunicatorError.argument("MPI_Bcast of \(bytes) bytes") }
        try MPICommunicator.check(MPI_Bcast(buffer, Int32(bytes), cmpi_uint8(), Int32(root), comm), "MPI_Bcast")
    }

    public func gatherv(_ send: UnsafePointer<Float>, count: Int, into recv: UnsafeMutablePointer<Float>?,
                        counts: [Int], root: Int) throws {
        try checkRoot(root, "MPI_Gatherv")
        guard counts.count == size, counts[rank] == count else {
            throw CommunicatorError.argument(
                "MPI_Gatherv on rank \(rank): expected \(size) counts with counts[\(rank)] = \(count), found \(counts)")
        }
        if rank == root && recv == nil { throw CommunicatorError.argument("MPI_Gatherv: root has no receive buffer") }
        if gatherLayouts[counts] == nil {
            let c32 = counts.map { Int32($0) }
            var d32 = [Int32](repeating: 0, count: size)
            for r in 1..<max(1, size) { d32[r] = d32[r - 1] + c32[r - 1] }
            gatherLayouts[counts] = (c32, d32)
        }
        let layout = gatherLayouts[counts]!
        try layout.counts.withUnsafeBufferPointer { c in
            try layout.displs.withUnsafeBufferPointer { d in
                try MPICommunicator.check(
                    MPI_Gatherv(send, Int32(count), cmpi_float(), recv, c.baseAddress, d.baseAddress, cmpi_float(),
                                Int32(root), comm), "MPI_Gatherv")
            }
        }
    }

    public func reduceSum(_ send: UnsafePointer<Float>, into recv: UnsafeMutablePointer<Float>?, count: Int,
                          root: Int) throws {
        try checkRoot(root, "MPI_Reduce")
        if rank == root && recv == nil { throw CommunicatorError.argument("MPI_Reduce: root has no receive buffer") }
        try MPICommunicator.check(
            MPI_Reduce(send, recv, Int32(count), cmpi_float(), cmpi_op_sum(), Int32(root), comm), "MPI_Reduce")
    }

    public func barrier() throws { try MPICommunicator.check(MPI_Barrier(comm), "MPI_Barrier") }

    public func abort(_ message: String, code: Int32) -> Never {
        fputs("actsparse: rank \(rank)/\(size): \(message)\n", stderr)
        fflush(stderr)
        MPI_Abort(comm, code)
        exit(code)  // MPI_Abort does not return; this keeps the type checker and a broken MPI honest
    }

    public func finalize() { MPI_Finalize() }
}

extension MPICommunicator {
    /// The world communicator: MPI when launched by mpirun, otherwise the single-process one.
    public static func world() throws -> Communicator {
        launchedByMPI ? try MPICommunicator() : LocalCommunicator()
    }
}
