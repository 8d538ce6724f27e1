import ActSparse
#if canImport(Glibc)
import Glibc
#endif

/// One process, no MPI: the same code paths as a 1-rank MPI job, without mpirun.
public final class LocalCommunicator: Communicator {
    public let rank = 0
    public let size = 1
    /// Unused: one process never waits for a peer.
    public var timeout: Double = 0
    public var throwsOnTimeout = false

    public init() {}

    public func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) throws {
        guard root == 0 else { throw CommunicatorError.argument("broadcast root \(root) in a 1-rank communicator") }
    }

    public func gatherv(_ send: UnsafePointer<Float>, count: Int, into recv: UnsafeMutablePointer<Float>?,
                        counts: [Int], root: Int) throws {
        guard root == 0, counts == [count], let recv else {
            throw CommunicatorError.argument("gatherv: expected root 0, counts [\(count)] and a receive buffer, " +
                                             "found root \(root), counts \(counts)")
        }
        if recv != UnsafeMutablePointer(mutating: send) { recv.update(from: send, count: count) }
    }

    public func reduceSum(_ send: UnsafePointer<Float>, into recv: UnsafeMutablePointer<Float>?, count: Int,
                          root: Int) throws {
        guard root == 0, let recv else {
            throw CommunicatorError.argument("reduceSum: expected root 0 and a receive buffer, found root \(root)")
        }
        if recv != UnsafeMutablePointer(mutating: send) { recv.update(from: send, count: count) }
    }

    public func allReduceSum(_ send: UnsafePointer<Float>, into recv: UnsafeMutablePointer<Float>, count: Int) throws {
        if recv != UnsafeMutablePointer(mutating: send) { recv.update(from: send, count: count) }
    }

    public func allGatherv(_ send: UnsafePointer<Float>, count: Int, into recv: UnsafeMutablePointer<Float>,
                           counts: [Int]) throws {
        guard counts == [count] else {
            throw CommunicatorError.argument("allGatherv: expected counts [\(count)], found \(counts)")
        }
        if recv != UnsafeMutablePointer(mutating: send) { recv.update(from: send, count: count) }
    }

    public func allReduceMaxLoc(value: Float, index: Int32) throws -> (value: Float, index: Int32) { (value, index) }

    public func barrier() throws {}

    public func abort(_ message: String, code: Int32) -> Never {
        StandardError.write("actsparse: rank 0/1: \(message)\n")
        exit(code)
    }

    public func finalize() {}
}
