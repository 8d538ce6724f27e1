import ActSparse
import ActSparseTestSupport
import Foundation
import Testing

/// The tensor table must describe the data exactly as writers lay it out: in file order, each tensor where the
/// previous one's padded bytes end. Before this check, tensors sharing bytes or declared with a type of another
/// size loaded and produced wrong text with exit 0.
@Suite("tensor layout")
struct TensorLayoutTests {
    let tiny = TinyGGUF()
    let good = TinyGGUF().bytes()

    /// Offset of tensor `name`'s info fields: dims at +0, then its u32 type, then its u64 data offset.
    func fields(_ bytes: [UInt8], _ name: String) throws -> (dims: Int, type: Int, offset: Int) {
        let info = try #require(TinyGGUF.infoOffset(bytes, tensor: name))
        let nd = Int(bytes[info + 8 + name.utf8.count])  // u32 little-endian, < 256
        let dims = info + 8 + name.utf8.count + 4
        return (dims, dims + 8 * nd, dims + 8 * nd + 4)
    }

    func u64(_ bytes: [UInt8], at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) } }

    func openError(_ bytes: [UInt8]) -> String? {
        do { _ = try GGUFFile(bytes: bytes.withUnsafeBytes { $0 }, name: "layout.gguf"); return nil } catch { return "\(error)" }
    }

    @Test("the writer's layout opens (the control)")
    func control() { #expect(openError(good) == nil) }

    @Test("a tensor pointing at another tensor's bytes is refused, naming it and the expected offset")
    func sharedBytes() throws {
        var b = good
        let up = try fields(b, "blk.0.ffn_up.weight"), gate = try fields(b, "blk.0.ffn_gate.weight")
        TinyGGUF.patch(&b, at: up.offset, u64: u64(b, at: gate.offset))  // up reads gate's bytes
        let msg = try #require(openError(b), "two tensors sharing bytes opened")
        #expect(msg.contains("layout.gguf") && msg.contains("tensor blk.0.ffn_up.weight: data offset") && msg.contains("overlaps"), "\(msg)")
    }

    @Test("a type whose blocks are smaller or larger than the bytes up to the next tensor is refused",
          arguments: [(GGMLType.q4_0, "unaccounted"), (GGMLType.q8_0, "overlaps")])
    func wrongType(_ type: GGMLType, _ needle: String) throws {
        var b = good
        let name = "blk.1.attn_q.weight"  // Q4_1 (20 bytes per 32): Q4_0 is 18, Q8_0 34
        let f = try fields(b, name)
        let raw = type.rawValue
        for k in 0..<4 { b[f.type + k] = UInt8(truncatingIfNeeded: raw >> (8 * UInt32(k))) }
        let msg = try #require(openError(b), "\(name) declared \(type) opened")
        #expect(msg.contains(needle) && msg.contains(name), "\(msg)")
    }

    @Test("offsets out of file order are refused (two tensors swapped)")
    func swapped() throws {
        var b = good
        let a = try fields(b, "blk.0.attn_norm.weight"), c = try fields(b, "blk.0.ffn_norm.weight")
        let oa = u64(b, at: a.offset), oc = u64(b, at: c.offset)
        TinyGGUF.patch(&b, at: a.offset, u64: oc)
        TinyGGUF.patch(&b, at: c.offset, u64: oa)
        let msg = try #require(openError(b), "swapped offsets opened")
        #expect(msg.contains("tensor blk.0.attn_norm.weight: data offset"), "\(msg)")
    }
}
