// MARK: - One process, sparse: the model with a `SparseMLP` in every layer

extension LlamaModel {
    /// The whole model of `gguf` in this process, with a `SparseMLP` in every layer (thresholds 0: dense until
    /// `setThresholds`). `context` caps the KV cache.
    public convenience init(gguf g: GGUFFile, threads: Int, context: Int = 2048,
                            kvPrecision: KVCache.Precision = .f16) throws {
        let c = try LlamaConfig(gguf: g)
        let packing = GrowableBuffer()  // the layers run one after another: one prefill packing buffer
        try self.init(gguf: g, threads: threads, context: context, kvPrecision: kvPrecision) { l in
            try SparseMLP(gguf: g, layer: l, config: c, threads: threads, packing: packing)
        }
    }

    /// Sets every site's thresholds, [layer][site] in `SparsitySite` order (`ThresholdTable.thresholds(plan)`):
    /// the attention sites here, the MLP sites in each `SparseMLP`. Other MLPs (a distributed one sets its own,
    /// a dense reference has none) refuse a non-zero MLP threshold.
    public func setThresholds(_ t: [[Float]]) throws {
        let n = config.layers, k = SparsitySite.allCases.count
        guard t.count == n, t.allSatisfy({ $0.count == k && $0.allSatisfy { $0.isFinite && $0 >= 0 } }) else {
            throw ActSparseError.invalidValue(what: "thresholds", expected: "\(n) layers × \(k) finite values ≥ 0",
                                              found: "\(t.count) layers")
        }
        try setAttentionThresholds(attention: t.map { $0[SparsitySite.attention.rawValue] },
                                   output: t.map { $0[SparsitySite.output.rawValue] })
        for (l, row) in t.enumerated() {
            let gateUp = row[SparsitySite.gateUp.rawValue], down = row[SparsitySite.down.rawValue]
            if let mlp = mlps[l] as? SparseMLP {
                mlp.thresholdGateUp = gateUp
                mlp.thresholdDown = down
            } else if gateUp > 0 || down > 0 {
                throw ActSparseError.invalidValue(what: "layer \(l) MLP thresholds", expected: "a SparseMLP",
                                                  found: "\(type(of: mlps[l]))")
            }
        }
    }
}
