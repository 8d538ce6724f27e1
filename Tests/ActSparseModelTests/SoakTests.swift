import ActSparse
import ActSparseDistributed
import ActSparseTestSupport
import Foundation
import Testing

/// The short version of launch/soak: many tokens, prompts in turn, context reused; RssAnon flat after warm-up.
@Suite("soak", .serialized, Requires.model)
struct SoakTests {
    @Test("1 200 tokens in one process: anonymous RSS grows < 1 % after one cycle of prompts")
    func flatMemory() throws { try Soak.check(ranks: 1) }
}
