import ActSparse
import ActSparseDistributed
import Foundation
import Testing

/// The ranks' settings agreement: what travels, and the one line a difference gives (the mpirun matrix is in
/// AgreementMPITests).
@Suite("job settings")
struct JobSettingsTests {
    func settings(_ pairs: [(String, String?)], command: String = "generate") -> JobSettings {
        var s = JobSettings(command: command)
        for (k, v) in pairs { s.add(k, v) }
        return s
    }

    @Test("the wire form is fixed-size and decodes to the same settings; other bytes decode to nil")
    func roundTrip() throws {
        let s = settings([("--mode", "reduce"), ("--context", "2048"), ("thresholds", nil)])
        let wire = s.encoded()
        #expect(wire.count == JobSettings.wireBytes)
        #expect(JobSettings.decode(wire) == s)
        #expect(JobSettings.decode([UInt8](repeating: 0, count: JobSettings.wireBytes)) == nil)
        #expect(JobSettings.decode(Array(wire.prefix(100))) == nil)
        // A newline in a value cannot forge another setting.
        let forged = settings([("--prompt", "x\n--mode=gather")])
        #expect(try #require(JobSettings.decode(forged.encoded())).entries.filter { $0.name == "--mode" }.isEmpty)
    }

    @Test("a difference names the setting and both values, lower rank first, the same on both sides")
    func difference() {
        let a = settings([("--mode", "reduce"), ("--kv", "f16")]), b = settings([("--mode", "gather"), ("--kv", "f16")])
        let line = a.difference(from: b, rank: 0, otherRank: 1)
        #expect(line?.contains("ranks disagree on --mode: rank 0 has reduce, rank 1 has gather") == true, "\(line ?? "nil")")
        #expect(b.difference(from: a, rank: 1, otherRank: 0) == line)
        #expect(a.difference(from: a, rank: 0, otherRank: 1) == nil)
    }

    @Test("the command, a setting only one side has, and a non-settings buffer are differences; an unknown value is not")
    func kinds() {
        let gen = settings([]), eval = settings([], command: "eval")
        #expect(gen.difference(from: eval, rank: 0, otherRank: 2)?.contains("on command: rank 0 has generate, rank 2 has eval") == true)
        let extra = settings([("--tokens", "5")])
        #expect(gen.difference(from: extra, rank: 0, otherRank: 1)?.contains("--tokens: rank 0 has (none), rank 1 has 5") == true)
        let known = settings([("thresholds", "abc")]), unknown = settings([("thresholds", nil)])
        #expect(known.difference(from: unknown, rank: 0, otherRank: 1) == nil)
        #expect(known.difference(from: settings([("thresholds", "abd")]), rank: 0, otherRank: 1) != nil)
        #expect(gen.difference(from: nil, rank: 0, otherRank: 3)?.contains("rank 3 sent something that is not actsparse settings") == true)
    }

    @Test("every job's settings start with the protocol version and this binary's build id")
    func buildID() {
        let names = JobSettings(command: "x").entries.map(\.name)
        #expect(names.prefix(3) == ["protocol", "actsparse build", "command"])
        #expect(BuildInfo.buildID != "unknown" && BuildInfo.buildID.count >= 16, "\(BuildInfo.buildID)")
    }

    @Test("XXH64 matches the reference algorithm's published values, and a 1-bit change changes it")
    func xxh64() {
        // xxHash's own test vectors (seed 0): "", "a", "abc" and a 100-byte input that exercises the 32-byte stripes.
        #expect(ContentHash.xxh64([]) == 0xEF46_DB37_51D8_E999)
        #expect(ContentHash.xxh64(Array("a".utf8)) == 0xD24E_C4F1_A98C_6E5B)
        #expect(ContentHash.xxh64(Array("abc".utf8)) == 0x44BC_2CF5_AD77_0999)
        let long = (0..<100).map { UInt8($0) }  // bytes 0…99: the python xxhash package gives these two
        #expect(ContentHash.xxh64(long) == 0x6AC1_E580_3216_6597)
        #expect(ContentHash.xxh64(long, seed: 1) == 0x3D19_A3A2_098A_7023)
        var flipped = long
        flipped[77] ^= 1
        #expect(ContentHash.xxh64(long) != ContentHash.xxh64(flipped))
        #expect(ContentHash.xxh64(long, seed: 1) != ContentHash.xxh64(long))
    }
}
