#if canImport(Glibc)
import Glibc
#endif

/// Writes a GGUF v3 file: metadata, tensor infos, then each tensor's data filled in place through a mapping of
/// the output file (a 4 GB synthetic model is never held twice in memory).
public struct GGUFWriter {
    public enum Value {
        case u32(UInt32), i32(Int32), u64(UInt64), f32(Float), bool(Bool), string(String)
        case strings([String]), f32s([Float]), i32s([Int32])
        /// A value written as is: its GGUF type id, then its bytes (tests' crafted files).
        case raw(UInt32, [UInt8])
    }
    public struct Tensor {
        public let name: String
        /// ggml order: dims[0] contiguous
        public let dims: [Int]
        public let type: GGMLType
        public init(_ name: String, _ dims: [Int], _ type: GGMLType) { self.name = name; self.dims = dims; self.type = type }
        public var bytes: Int { dims.reduce(1, *) / type.blockSize * type.blockBytes }
    }

    public var metadata: [(String, Value)] = []
    public var tensors: [Tensor] = []
    public let alignment = 32

    public init() {}

    /// A metadata value read from another file, in the writer's terms (copying a tokenizer).
    public static func value(_ v: GGUFFile.Value) -> Value? {
        switch v {
        case .int(let x): return Int32(exactly: x).map { .i32($0) } ?? .u64(UInt64(bitPattern: x))
        case .uint(let x): return UInt32(exactly: x).map { .u32($0) } ?? .u64(x)
        case .float(let x): return .f32(Float(x))
        case .bool(let b): return .bool(b)
        case .string(let s): return .string(s)
        case .array, .packed:
            let a = v.array ?? []
            if a.allSatisfy({ $0.string != nil }) { return .strings(a.compactMap(\.string)) }
            if a.allSatisfy({ if case .float = $0 { return true } else { return false } }) {
                return .f32s(a.compactMap { $0.float.map(Float.init) })
            }
            let ints = a.compactMap { $0.int.flatMap { Int32(exactly: $0) } }
            return ints.count == a.count ? .i32s(ints) : nil
        }
    }

    /// The header (metadata and tensor infos) for tensor data of `sizes` bytes each, each tensor's offset from
    /// the start of the data, and where the data starts.
    func header(sizes: [Int]) -> (bytes: [UInt8], offsets: [Int], dataStart: Int) {
        var head: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { head += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { head += $0 } }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); head += Array(s.utf8) }
        head += Array("GGUF".utf8)
        u32(3)
        u64(UInt64(tensors.count))
        u64(UInt64(metadata.count))
        for (k, v) in metadata {
            str(k)
            switch v {
            case .u32(let x): u32(4); u32(x)
            case .i32(let x): u32(5); u32(UInt32(bitPattern: x))
            case .u64(let x): u32(10); u64(x)
            case .f32(let x): u32(6); u32(x.bitPattern)
            case .bool(let b): u32(7); head.append(b ? 1 : 0)
            case .string(let s): u32(8); str(s)
            case .strings(let a): u32(9); u32(8); u64(UInt64(a.count)); for s in a { str(s) }
            case .f32s(let a): u32(9); u32(6); u64(UInt64(a.count)); for x in a { u32(x.bitPattern) }
            case .i32s(let a): u32(9); u32(5); u64(UInt64(a.count)); for x in a { u32(UInt32(bitPattern: x)) }
            case .raw(let type, let bytes): u32(type); head += bytes
            }
        }
        var offsets: [Int] = []
        var offset = 0
        for (t, size) in zip(tensors, sizes) {
            str(t.name)
            u32(UInt32(t.dims.count))
            for d in t.dims { u64(UInt64(d)) }
            u32(t.type.rawValue)
            u64(UInt64(offset))
            offsets.append(offset)
            offset += (size + alignment - 1) / alignment * alignment
        }
        return (head, offsets, (head.count + alignment - 1) / alignment * alignment)
    }

    /// The whole file in memory, with each tensor's data as given (tests' tiny and crafted files: the data need
    /// not match the dims).
    public func bytes(data: [[UInt8]]) -> [UInt8] {
        let (head, _, dataStart) = header(sizes: data.map(\.count))
        var out = head
        out += [UInt8](repeating: 0, count: dataStart - head.count)
        for d in data {
            out += d
            while out.count % alignment != 0 { out.append(0) }
        }
        return out
    }

    /// Writes the file; `fill(k, data)` writes tensor k's `tensors[k].bytes` bytes at `data`.
    public func write(to path: String, fill: (Int, UnsafeMutableRawPointer) throws -> Void) throws {
        let (head, offsets, dataStart) = header(sizes: tensors.map(\.bytes))
        let total = dataStart + (offsets.last.map { $0 + (tensors.last!.bytes + alignment - 1) / alignment * alignment } ?? 0)
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw ActSparseError.file(path: path, problem: "cannot create: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard ftruncate(fd, off_t(total)) == 0 else {
            throw ActSparseError.file(path: path, problem: "cannot size to \(total) bytes: \(String(cString: strerror(errno)))")
        }
        guard let p = mmap(nil, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw ActSparseError.file(path: path, problem: "cannot map \(total) bytes for writing")
        }
        defer { munmap(p, total) }
        head.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: head.count) }
        for k in tensors.indices {
            let at = p + dataStart + offsets[k]
            try fill(k, at)
            // Written pages go to the file; dropping them keeps the writer's memory flat.
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            let start = (dataStart + offsets[k]) / page * page
            msync(p + start, dataStart + offsets[k] + tensors[k].bytes - start, MS_ASYNC)
        }
    }
}
