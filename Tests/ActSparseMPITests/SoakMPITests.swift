import ActSparseTestSupport
import Testing

@Suite("soak under mpirun", .serialized, Requires.model, Requires.mpirun)
struct SoakMPITests {
    @Test("1 200 tokens on 2 ranks: anonymous RSS grows < 1 % after one cycle of prompts, on every rank")
    func flatMemory() throws { try Soak.check(ranks: 2) }
}
