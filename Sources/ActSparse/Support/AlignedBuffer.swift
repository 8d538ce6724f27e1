#if canImport(Glibc)
import Glibc
#endif

/// A zero-initialised, 64-byte aligned (2 MiB for large ones) byte buffer that owns its memory.
/// Large buffers are fresh anonymous mappings: the kernel hands out zero pages on first touch, so no memset pass
/// runs over them and the faults land on the threads that first write (the loaders' workers, in parallel) — a
/// memset here cost a quarter of a 7B model's load on one thread. They ask for transparent huge pages: +5–15 % on
/// GEMV here (THP is in `madvise` mode).
public final class AlignedBuffer: @unchecked Sendable {
    public let count: Int
    public let raw: UnsafeMutableRawPointer
    /// The whole mapping (large buffers), to unmap; nil for heap buffers.
    let mapping: (UnsafeMutableRawPointer, Int)?

    /// Throws `ActSparseError.memory` when the allocation fails (never traps). `hugePages: false` for buffers that
    /// fill gradually (the KV cache): a 2 MiB page is committed whole on its first write, 4 KiB ones as they fill.
    public init(bytes: Int, what: String = "a buffer", hugePages: Bool = true) throws {
        let big = bytes >= 4 << 20
        let alignment = big ? 2 << 20 : 64
        let (padded, overflow) = max(64, bytes).addingReportingOverflow(alignment - 1)
        guard bytes >= 0, !overflow else {
            throw ActSparseError.memory(what: what, needed: bytes, available: Memory.available())
        }
        let size = padded / alignment * alignment
        count = bytes
        if big {
            // Map size + one alignment, keep the aligned middle.
            let length = size + alignment
            guard let m = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), m != MAP_FAILED else {
                throw ActSparseError.memory(what: what, needed: size, available: Memory.available())
            }
            let start = (Int(bitPattern: m) + alignment - 1) / alignment * alignment
            raw = UnsafeMutableRawPointer(bitPattern: start)!
            mapping = (m, length)
            _ = madvise(raw, size, hugePages ? 14 /* MADV_HUGEPAGE */ : 15 /* MADV_NOHUGEPAGE */)
        } else {
            var p: UnsafeMutableRawPointer?
            guard posix_memalign(&p, alignment, size) == 0, let p else {
                throw ActSparseError.memory(what: what, needed: size, available: Memory.available())
            }
            memset(p, 0, size)
            raw = p
            mapping = nil
        }
    }

    deinit {
        if let (m, length) = mapping { munmap(m, length) } else { free(raw) }
    }

    /// Bytes of this buffer now in physical memory (mincore), for tests and reports; nil for heap buffers.
    public var residentBytes: Int? {
        guard let (m, length) = mapping else { return nil }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var flags = [UInt8](repeating: 0, count: (length + page - 1) / page)
        guard mincore(m, length, &flags) == 0 else { return nil }
        return flags.reduce(0) { $0 + Int($1 & 1) } * page
    }

    @inline(__always) public func pointer<T>(as _: T.Type) -> UnsafeMutablePointer<T> {
        raw.assumingMemoryBound(to: T.self)
    }
}
