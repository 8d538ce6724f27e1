/// The collectives the per-token protocol needs, with one MPI implementation and one single-process one.
/// Buffers are raw pointers: the hot path hands over preallocated scratch, nothing is copied into arrays.
public protocol Communicator: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// Seconds a collective may wait for its peers before this rank aborts the job naming the collective and
    /// the peer (0: wait forever). Setup phases (loading) raise it; the per-token protocol keeps it short.
    var timeout: Double { get set }
    /// On a timeout, throw `CommunicatorError.timedOut` instead of aborting the job (a server answers its
    /// in-flight requests first, then aborts). Ignored where nothing can time out (one process).
    var throwsOnTimeout: Bool { get set }
    /// Sends `bytes` bytes at `buffer` from `root` to every rank.
    func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) throws
    /// Root receives every rank's `send` (counts[r] floats from rank r) into `recv`, packed in rank order.
    /// `recv` is only read on root (nil elsewhere is fine).
    func gatherv(_ send: UnsafePointer<Float>, count: Int, into recv: UnsafeMutablePointer<Float>?, counts: [Int],
                 root: Int) throws
    /// recv[0..<count] = Σ over ranks of send[0..<count], on root only.
    func reduceSum(_ send: UnsafePointer<Float>, into recv: UnsafeMutablePointer<Float>?, count: Int,
                   root: Int) throws
    /// recv[0..<count] = Σ over ranks of send[0..<count], on every rank (`recv` may be `send`: in place).
    func allReduceSum(_ send: UnsafePointer<Float>, into recv: UnsafeMutablePointer<Float>, count: Int) throws
    /// Every rank receives every rank's `send` (counts[r] floats from rank r) into `recv`, packed in rank order.
    func allGatherv(_ send: UnsafePointer<Float>, count: Int, into recv: UnsafeMutablePointer<Float>, counts: [Int])
        throws
    /// The largest `value` over ranks and the `index` that came with it (the smallest index among equal values),
    /// on every rank: a vocabulary-sliced argmax in one message.
    func allReduceMaxLoc(value: Float, index: Int32) throws -> (value: Float, index: Int32)
    func barrier() throws
    /// Ends the whole job at once (MPI_Abort): one line on stderr naming this rank, then exit `code` everywhere.
    func abort(_ message: String, code: Int32) -> Never
    /// Normal end of the job. Never call after a failure (it would hang the other ranks): call `abort`.
    func finalize()
}

public enum CommunicatorDefaults {
    /// Per-token collectives: far above any step here (a 7B decode step is ~0.2 s), short enough that a stuck
    /// peer ends the job within seconds.
    public static let timeout: Double = 3
    /// Loading and setup, where rank 0 reads and repacks more of the model than the others.
    public static let loadTimeout: Double = 600
}

public enum CommunicatorError: Error, CustomStringConvertible {
    case mpi(call: String, code: Int32, message: String)
    case argument(String)
    /// A collective got no answer within the timeout (only when `throwsOnTimeout`).
    case timedOut(String)

    public var description: String {
        switch self {
        case let .mpi(call, code, message): return "\(call) failed with MPI error \(code): \(message)"
        case let .argument(message), let .timedOut(message): return message
        }
    }
}

extension Communicator {
    public var isRoot: Bool { rank == 0 }

    public func broadcast<T>(_ buffer: UnsafeMutablePointer<T>, count: Int, root: Int = 0) throws {
        try broadcast(UnsafeMutableRawPointer(buffer), bytes: count * MemoryLayout<T>.stride, root: root)
    }

    /// Broadcasts one value from root; returns root's value on every rank.
    public func broadcast<T: BitwiseCopyable>(value: T, root: Int = 0) throws -> T {
        var v = value
        try withUnsafeMutableBytes(of: &v) { try broadcast($0.baseAddress!, bytes: $0.count, root: root) }
        return v
    }

    /// The status-word protocol: root says whether it can go on (0) or not (a code); every rank takes the same
    /// branch. Returns the code from root.
    public func agree(status: Int32, root: Int = 0) throws -> Int32 {
        try broadcast(value: status, root: root)
    }
}
