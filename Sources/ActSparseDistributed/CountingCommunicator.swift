import ActSparse

/// A communicator that counts what passes through it: collectives and their payload bytes (the data of one
/// collective: a broadcast's buffer, a gather's or all-gather's total, a reduction's vector) and the time spent
/// in them (nothing on one rank, where they are no-ops). `generate` reports these per token and per layer.
public final class CountingCommunicator: Communicator {
    public let base: Communicator
    public private(set) var collectives = 0
    public private(set) var bytes = 0
    public private(set) var nanos: UInt64 = 0

    public init(_ base: Communicator) { self.base = base }

    public var rank: Int { base.rank }
    public var size: Int { base.size }
    public var timeout: Double {
        get { base.timeout }
        set { base.timeout = newValue }
    }
    public var throwsOnTimeout: Bool {
        get { base.throwsOnTimeout }
        set { base.throwsOnTimeout = newValue }
    }

    public func reset() { collectives = 0; bytes = 0; nanos = 0 }

    @inline(__always) func counted<T>(_ payload: Int, _ body: () throws -> T) rethrows -> T {
        let t0 = Timing.now()
        defer { if base.size > 1 { collectives += 1; bytes += payload; nanos &+= Timing.now() - t0 } }
        return try body()
    }

    public func broadcast(_ buffer: UnsafeMutableRawPointer, bytes n: Int, root: Int) throws {
        try counted(n) { try base.broadcast(buffer, bytes: n, root: root) }
    }

    public func gatherv(_ send: UnsafePointer<Float>, count: Int, into recv: UnsafeMutablePointer<Float>?, counts: [Int],
                        root: Int) throws {
        try counted(4 * counts.reduce(0, +)) { try base.gatherv(send, count: count, into: recv, counts: counts, root: root) }
    }

    public func reduceSum(_ send: UnsafePointer<Float>, into recv: UnsafeMutablePointer<Float>?, count: Int, root: Int) throws {
        try counted(4 * count) { try base.reduceSum(send, into: recv, count: count, root: root) }
    }

    public func allReduceSum(_ send: UnsafePointer<Float>, into recv: UnsafeMutablePointer<Float>, count: Int) throws {
        try counted(4 * count) { try base.allReduceSum(send, into: recv, count: count) }
    }

    public func allGatherv(_ send: UnsafePointer<Float>, count: Int, into recv: UnsafeMutablePointer<Float>,
                           counts: [Int]) throws {
        try counted(4 * counts.reduce(0, +)) { try base.allGatherv(send, count: count, into: recv, counts: counts) }
    }

    public func allReduceMaxLoc(value: Float, index: Int32) throws -> (value: Float, index: Int32) {
        try counted(8) { try base.allReduceMaxLoc(value: value, index: index) }
    }

    public func barrier() throws { try counted(0) { try base.barrier() } }
    public func abort(_ message: String, code: Int32) -> Never { base.abort(message, code: code) }
    public func finalize() { base.finalize() }
}
