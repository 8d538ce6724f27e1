#if canImport(Glibc)
import Glibc
#endif

/// A GGUF (v2/v3) file, memory-mapped: metadata, tensor infos and tensor data, validated on open.
/// Every error names the file and what was expected and found.
public final class GGUFFile: @unchecked Sendable {
    public enum Value: Sendable {
        case int(Int64), uint(UInt64), float(Double), bool(Bool), string(String), array([Value])

        public var int: Int? {
            switch self {
            case let .int(v): return Int(v)
            case let .uint(v): return Int(v)
            default: return nil
            }
        }
        public var float: Double? {
            switch self {
            case let .float(v): return v
            case let .int(v): return Double(v)
            case let .uint(v): return Double(v)
            default: return nil
            }
        }
        public var string: String? { if case let .string(s) = self { return s } else { return nil } }
        public var bool: Bool? { if case let .bool(b) = self { return b } else { return nil } }
        public var array: [Value]? { if case let .array(a) = self { return a } else { return nil } }
    }

    public struct TensorInfo: Sendable {
        public let name: String
        /// ggml order: dims[0] is contiguous (for a linear weight: IC), dims[1] the rows (OC)
        public let dims: [Int]
        public let type: GGMLType
        /// Byte offset of the data from the start of the file.
        public let offset: Int
        public var elements: Int { dims.reduce(1, *) }
        public var bytes: Int { elements / type.blockSize * type.blockBytes }
    }

    public let path: String
    public let version: Int
    public let metadata: [String: Value]
    public let tensors: [String: TensorInfo]
    /// Tensor names in file order.
    public let tensorNames: [String]
    let base: UnsafeRawPointer
    public let size: Int

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ActSparseError.file(path: path, problem: "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ActSparseError.file(path: path, problem: "cannot stat") }
        size = Int(st.st_size)
        guard size >= 24 else {
            throw ActSparseError.file(path: path, problem: "truncated: \(size) bytes, a GGUF header needs at least 24")
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw ActSparseError.file(path: path, problem: "cannot mmap \(size) bytes")
        }
        base = UnsafeRawPointer(p)
        var r = Reader(base: base, size: size, path: path)
        do {
            let magic = try r.u32()
            guard magic == 0x4655_4747 else {  // "GGUF" little-endian
                throw ActSparseError.file(path: path, problem:
                    "bad magic: expected 0x46554747 (\"GGUF\"), found 0x\(String(magic, radix: 16)) (not a GGUF file)")
            }
            let v = Int(try r.u32())
            guard v == 2 || v == 3 else {
                throw ActSparseError.file(path: path, problem: "unsupported GGUF version: expected 2 or 3, found \(v)")
            }
            version = v
            let nTensors = Int(try r.u64()), nKV = Int(try r.u64())
            guard nTensors < 1 << 20, nKV < 1 << 20 else {
                throw ActSparseError.file(path: path, problem: "implausible counts: \(nTensors) tensors, \(nKV) keys")
            }
            var md: [String: Value] = [:]
            for _ in 0..<nKV {
                let key = try r.string()
                md[key] = try r.value(type: try r.u32())
            }
            metadata = md
            let alignment = md["general.alignment"]?.int ?? 32
            var infos: [(String, [Int], UInt32, Int)] = []
            for _ in 0..<nTensors {
                let name = try r.string()
                let nd = Int(try r.u32())
                guard nd >= 1 && nd <= 4 else {
                    throw ActSparseError.file(path: path, problem: "tensor \(name): expected 1–4 dims, found \(nd)")
                }
                let dims = try (0..<nd).map { _ in Int(try r.u64()) }
                infos.append((name, dims, try r.u32(), Int(try r.u64())))
            }
            let dataStart = (r.offset + alignment - 1) / alignment * alignment
            var t: [String: TensorInfo] = [:]
            var names: [String] = []
            for (name, dims, rawType, rel) in infos {
                guard let type = GGMLType(rawValue: rawType) else {
                    throw ActSparseError.file(path: path, problem: "tensor \(name): unsupported type \(rawType) " +
                        "(supported: F32, F16, BF16, Q4_0, Q4_1, Q8_0)")
                }
                guard dims.allSatisfy({ $0 > 0 }), dims[0] % type.blockSize == 0 else {
                    throw ActSparseError.file(path: path, problem: "tensor \(name): dims \(dims) do not fit " +
                        "\(type) blocks of \(type.blockSize)")
                }
                let info = TensorInfo(name: name, dims: dims, type: type, offset: dataStart + rel)
                guard info.offset + info.bytes <= size else {
                    throw ActSparseError.file(path: path, problem: "tensor \(name): data \(info.offset)..<" +
                        "\(info.offset + info.bytes) lies beyond the file's \(size) bytes (truncated?)")
                }
                t[name] = info
                names.append(name)
            }
            tensors = t
            tensorNames = names
        } catch {
            munmap(UnsafeMutableRawPointer(mutating: base), size)
            throw error
        }
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), size) }

    /// The tensor named `name`, checked against the dims the model expects.
    public func tensor(_ name: String, dims expected: [Int]? = nil) throws -> TensorInfo {
        guard let t = tensors[name] else { throw ActSparseError.file(path: path, problem: "missing tensor \(name)") }
        if let expected, t.dims != expected {
            throw ActSparseError.file(path: path, problem: "tensor \(name): expected dims \(expected), found \(t.dims)")
        }
        return t
    }

    /// Raw bytes of a tensor.
    public func data(_ t: TensorInfo) -> UnsafeRawPointer { base + t.offset }

    public func int(_ key: String) throws -> Int {
        guard let v = metadata[key]?.int else { throw ActSparseError.file(path: path, problem: "missing integer \(key)") }
        return v
    }

    public func float(_ key: String) throws -> Double {
        guard let v = metadata[key]?.float else { throw ActSparseError.file(path: path, problem: "missing number \(key)") }
        return v
    }

    public func string(_ key: String) throws -> String {
        guard let v = metadata[key]?.string else { throw ActSparseError.file(path: path, problem: "missing string \(key)") }
        return v
    }
}

// MARK: - Bounds-checked little-endian reader

struct Reader {
    let base: UnsafeRawPointer
    let size: Int
    let path: String
    var offset = 0

    mutating func need(_ n: Int) throws {
        guard n >= 0, offset + n <= size else {
            throw ActSparseError.file(path: path, problem: "truncated: need \(n) bytes at offset \(offset), " +
                                      "file has \(size)")
        }
    }
    mutating func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
        try need(MemoryLayout<T>.size)
        defer { offset += MemoryLayout<T>.size }
        return T(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: T.self))
    }
    mutating func u32() throws -> UInt32 { try read(UInt32.self) }
    mutating func u64() throws -> UInt64 { try read(UInt64.self) }
    mutating func string() throws -> String {
        let n = Int(try u64())
        try need(n)
        defer { offset += n }
        return String(decoding: UnsafeRawBufferPointer(start: base + offset, count: n), as: UTF8.self)
    }

    mutating func value(type: UInt32) throws -> GGUFFile.Value {
        switch type {
        case 0: return .uint(UInt64(try read(UInt8.self)))
        case 1: return .int(Int64(try read(Int8.self)))
        case 2: return .uint(UInt64(try read(UInt16.self)))
        case 3: return .int(Int64(try read(Int16.self)))
        case 4: return .uint(UInt64(try read(UInt32.self)))
        case 5: return .int(Int64(try read(Int32.self)))
        case 6: return .float(Double(Float(bitPattern: try read(UInt32.self))))
        case 7: return .bool(try read(UInt8.self) != 0)
        case 8: return .string(try string())
        case 9:
            let t = try u32()
            let n = Int(try u64())
            guard n <= size - offset else {
                throw ActSparseError.file(path: path, problem: "array of \(n) elements at \(offset) beyond the file")
            }
            var a: [GGUFFile.Value] = []
            a.reserveCapacity(n)
            for _ in 0..<n { a.append(try value(type: t)) }
            return .array(a)
        case 10: return .uint(try u64())
        case 11: return .int(Int64(bitPattern: try u64()))
        case 12: return .float(Double(bitPattern: try u64()))
        default:
            throw ActSparseError.file(path: path, problem: "unknown metadata value type \(type) at offset \(offset)")
        }
    }
}
