#if canImport(Glibc)
import Glibc
#endif

/// A GGUF (v2/v3) file, memory-mapped: metadata, tensor infos and tensor data, validated on open.
/// Every error names the file and what was expected and found.
public final class GGUFFile: @unchecked Sendable {
    public enum Value: Sendable {
        case int(Int64), uint(UInt64), float(Double), bool(Bool), string(String), array([Value])
        /// An array of numbers or booleans kept as the file stores it (one byte of memory per byte of the file);
        /// `array` unpacks it on use.
        case packed(PackedArray)

        public var int: Int? {
            switch self {
            case let .int(v): return Int(exactly: v)
            case let .uint(v): return Int(exactly: v)
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
        public var array: [Value]? {
            switch self {
            case let .array(a): return a
            case let .packed(p): return p.values
            default: return nil
            }
        }
    }

    /// A metadata array of fixed-size elements (GGUF types 0–7 and 10–12), little-endian as in the file.
    public struct PackedArray: Sendable {
        public let type: UInt32
        public let count: Int
        let bytes: [UInt8]

        /// Bytes per element of the fixed-size GGUF value types; nil for strings and arrays.
        static func elementBytes(_ type: UInt32) -> Int? {
            switch type {
            case 0, 1, 7: return 1
            case 2, 3: return 2
            case 4, 5, 6: return 4
            case 10, 11, 12: return 8
            default: return nil
            }
        }

        public var values: [Value] {
            bytes.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return [] }
                var r = Reader(base: base, size: raw.count, path: "")
                return (0..<count).compactMap { _ in try? r.value(type: type) }
            }
        }
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
    /// Which file this is on which machine (host, device, inode, size, modification time), or "memory:<name>":
    /// two ranks with equal identities read the same bytes.
    public let identity: String
    /// Bytes of the header: metadata and tensor table (the data follows, aligned).
    public let headerBytes: Int
    /// Called with the file bytes of each tensor slice `plainWeights` has repacked (a progress bar).
    public var onRepacked: ((Int) -> Void)?
    /// The bytes are an mmap of the file (unmapped on deinit), or a private copy (freed on deinit).
    let mapped: Bool

    /// What a file may ask for. Real models are far below every limit; a crafted header that exceeds one is
    /// refused before anything is allocated for it.
    public enum Limits {
        public static let tensors = 1 << 16, keys = 1 << 16
        /// Elements of one metadata array (a vocabulary of 256 K tokens plus merges fits easily).
        public static let arrayElements = 1 << 22
        /// Nesting of metadata arrays (the spec allows arrays of arrays; no real file goes past 2).
        public static let arrayDepth = 3
        public static let stringBytes = 1 << 26
        /// Elements of one tensor (2^40: far above any real tensor, far below Int overflow in byte counts).
        public static let tensorElements = 1 << 40
        public static let alignment = 1 << 16
    }

    public convenience init(path: String) throws {
        // Non-blocking: a FIFO would block open(2) until a writer comes; only a regular file is accepted.
        let (fd, st) = try RegularFile.open(path, what: "GGUF model file")
        defer { close(fd) }
        let size = Int(st.st_size)
        guard size >= 24 else {
            throw ActSparseError.file(path: path, problem: "truncated: \(size) bytes, a GGUF header needs at least 24")
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw ActSparseError.file(path: path, problem: "cannot mmap \(size) bytes")
        }
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let identity = "\(String(cBuffer: host)):\(st.st_dev):\(st.st_ino):\(size):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
        try self.init(path: path, base: UnsafeRawPointer(p), size: size, mapped: true, identity: identity)
    }

    /// A GGUF held in memory (`name` stands for the path in messages): the fuzzer's and tests' entry.
    public convenience init(bytes: UnsafeRawBufferPointer, name: String) throws {
        let copy = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes.count), alignment: 64)
        if let b = bytes.baseAddress { copy.copyMemory(from: b, byteCount: bytes.count) }
        guard bytes.count >= 24 else {
            copy.deallocate()
            throw ActSparseError.file(path: name, problem: "truncated: \(bytes.count) bytes, a GGUF header needs at least 24")
        }
        try self.init(path: name, base: UnsafeRawPointer(copy), size: bytes.count, mapped: false, identity: "memory:\(name)")
    }

    private init(path: String, base: UnsafeRawPointer, size: Int, mapped: Bool, identity: String) throws {
        self.path = path
        self.identity = identity
        self.base = base
        self.size = size
        self.mapped = mapped
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
            let nTensors = try r.count(limit: Limits.tensors, "tensor count")
            let nKV = try r.count(limit: Limits.keys, "metadata key count")
            var md: [String: Value] = [:]
            for _ in 0..<nKV {
                let key = try r.string()
                let value = try r.value(type: try r.u32())
                guard md.updateValue(value, forKey: key) == nil else {
                    throw ActSparseError.file(path: path, problem: "duplicate metadata key \(key)")
                }
            }
            metadata = md
            var alignment = 32
            if let a = md["general.alignment"] {
                guard let n = a.int, n > 0, n <= Limits.alignment, n & (n - 1) == 0 else {
                    throw ActSparseError.file(path: path, problem: "general.alignment: expected a power of two in " +
                                              "1...\(Limits.alignment), found \(a)")
                }
                alignment = n
            }
            var infos: [(String, [Int], UInt32, Int)] = []
            for _ in 0..<nTensors {
                let name = try r.string()
                let nd = Int(try r.u32())
                guard nd >= 1 && nd <= 4 else {
                    throw ActSparseError.file(path: path, problem: "tensor \(name): expected 1–4 dims, found \(nd)")
                }
                var dims: [Int] = []
                for _ in 0..<nd { dims.append(try r.count(limit: Limits.tensorElements, "tensor \(name) dimension")) }
                let type = try r.u32()
                infos.append((name, dims, type, try r.count(limit: Int.max, "tensor \(name) offset")))
            }
            headerBytes = r.offset
            let dataStart = (r.offset + alignment - 1) / alignment * alignment  // offset ≤ size: no overflow
            var t: [String: TensorInfo] = [:]
            var names: [String] = []
            for (name, dims, rawType, rel) in infos {
                guard let type = GGMLType(rawValue: rawType) else {
                    throw ActSparseError.file(path: path, problem: "tensor \(name): unsupported type \(GGMLType.describe(raw: rawType)) " +
                        "(supported: \(GGMLType.supportedList))")
                }
                var elements = 1
                for d in dims {
                    let (p, overflow) = elements.multipliedReportingOverflow(by: d)
                    guard d > 0, !overflow, p <= Limits.tensorElements else {
                        throw ActSparseError.file(path: path, problem: "tensor \(name): dims \(dims): expected " +
                            "positive dims with at most \(Limits.tensorElements) elements")
                    }
                    elements = p
                }
                guard dims[0] % type.blockSize == 0 else {
                    throw ActSparseError.file(path: path, problem: "tensor \(name): dims \(dims) do not fit " +
                        "\(type) blocks of \(type.blockSize)")
                }
                guard rel % alignment == 0 else {
                    throw ActSparseError.file(path: path, problem: "tensor \(name): data offset \(rel) is not a " +
                        "multiple of the alignment \(alignment)")
                }
                let bytes = elements / type.blockSize * type.blockBytes  // ≤ 2^40 · 34 / 32: no overflow
                let (offset, o1) = dataStart.addingReportingOverflow(rel)
                let (end, o2) = offset.addingReportingOverflow(bytes)
                guard !o1, !o2, end <= size else {
                    throw ActSparseError.file(path: path, problem: "tensor \(name): data at \(dataStart) + \(rel), " +
                        "\(bytes) bytes, lies beyond the file's \(size) bytes (truncated?)")
                }
                let info = TensorInfo(name: name, dims: dims, type: type, offset: offset)
                guard t.updateValue(info, forKey: name) == nil else {
                    throw ActSparseError.file(path: path, problem: "duplicate tensor name \(name)")
                }
                names.append(name)
            }
            try GGUFFile.proveLayout(infos: names.compactMap { t[$0] }, dataStart: dataStart, alignment: alignment,
                                     path: path)
            tensors = t
            tensorNames = names
        } catch {
            GGUFFile.release(base, size: size, mapped: mapped)
            throw error
        }
    }

    /// The tensor table must describe the data section exactly as writers lay it out (llama.cpp refuses anything
    /// else): in file order, each tensor starts where the previous one's bytes, padded to the alignment, end. So
    /// no two tensors share bytes and every tensor's declared type and shape account for all of its bytes (a
    /// wrong type would be read as other weights, with no error).
    static func proveLayout(infos: [TensorInfo], dataStart: Int, alignment: Int, path: String) throws {
        var expected = dataStart
        var previous: TensorInfo?
        for info in infos {
            guard info.offset == expected else {
                let rel = info.offset - dataStart, want = expected - dataStart
                let after = previous.map { p in "after \(p.name) (\(p.type) \(p.dims): \(p.bytes) bytes, padded to \(alignment))" }
                    ?? "as the first tensor"
                let why = info.offset < expected
                    ? "it overlaps the bytes before it (two tensors sharing data, or a type or shape before it declaring more bytes than it has)"
                    : "bytes lie unaccounted for before it (a type or shape declaring fewer bytes than the data has)"
                throw ActSparseError.file(path: path, problem: "tensor \(info.name): data offset \(rel), expected \(want) "
                    + "\(after): \(why)")
            }
            let padded = (info.bytes + alignment - 1) / alignment * alignment  // ≤ file size: no overflow
            expected = info.offset + padded
            previous = info
        }
    }

    private static func release(_ base: UnsafeRawPointer, size: Int, mapped: Bool) {
        if mapped { munmap(UnsafeMutableRawPointer(mutating: base), size) } else { base.deallocate() }
    }

    deinit { GGUFFile.release(base, size: size, mapped: mapped) }

    /// FNV-1a of the header (metadata and tensor table) and the file size: ranks compare it to be sure they
    /// opened the same model (the weights are not hashed: that would read the whole file).
    public var digest: UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for i in 0..<headerBytes { h = (h ^ UInt64(base.load(fromByteOffset: i, as: UInt8.self))) &* 0x100_0000_01B3 }
        return (h ^ UInt64(size)) &* 0x100_0000_01B3
    }

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
    /// Nesting of the metadata array being read.
    var depth = 0

    mutating func need(_ n: Int) throws {
        guard n >= 0, n <= size - offset else {
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

    /// A u64 count, length or offset that must fit 0...limit.
    mutating func count(limit: Int, _ what: String) throws -> Int {
        let at = offset
        let v = try u64()
        guard let n = Int(exactly: v), n <= limit else {
            throw ActSparseError.file(path: path, problem: "\(what) at offset \(at): expected at most \(limit), found \(v)")
        }
        return n
    }

    mutating func string() throws -> String {
        let n = try count(limit: GGUFFile.Limits.stringBytes, "string length")
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
            guard depth < GGUFFile.Limits.arrayDepth else {
                throw ActSparseError.file(path: path, problem: "metadata arrays nested deeper than " +
                                          "\(GGUFFile.Limits.arrayDepth) at offset \(offset)")
            }
            let t = try u32()
            let n = try count(limit: GGUFFile.Limits.arrayElements, "array length")
            // Every element takes at least one byte of the file: no count beyond what is left is believable,
            // and nothing is reserved from the count itself.
            guard n <= size - offset else {
                throw ActSparseError.file(path: path, problem: "array of \(n) elements at \(offset) beyond the file")
            }
            if let width = GGUFFile.PackedArray.elementBytes(t) {
                // Fixed-size elements: one copy of the file's bytes (n · width ≤ what is left: checked by need).
                let (total, overflow) = n.multipliedReportingOverflow(by: width)
                guard !overflow else { throw ActSparseError.file(path: path, problem: "array of \(n) elements at \(offset) beyond the file") }
                try need(total)
                defer { offset += total }
                let bytes = [UInt8](UnsafeRawBufferPointer(start: base + offset, count: total))
                return .packed(GGUFFile.PackedArray(type: t, count: n, bytes: bytes))
            }
            depth += 1
            defer { depth -= 1 }
            var a: [GGUFFile.Value] = []
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
