import ActSparse
import ArgumentParser

/// Where a uniform `--sparsity` applies: the MLP's two inputs, or every thresholded input of every block (q/k/v,
/// o, gate/up, down) so that model-wide speed can be measured at a chosen sparsity.
enum SparsityScope: String, CaseIterable, ExpressibleByArgument {
    case mlp, model

    static let help = ArgumentHelp("Where a uniform --sparsity applies: mlp (gate/up and down inputs) or model (also "
        + "the attention input q/k/v and the output projection's; needs a table calibrated with attention sites).")

    /// Every layer at `gateUp`/`down` on the MLP and, in model scope, `attention` on both attention inputs.
    func plan(layers: Int, gateUp: Double, down: Double, attention: Double) -> SparsityPlan {
        .uniform(layers: layers, gateUp: gateUp, down: down, attention: self == .model ? attention : 0)
    }
}
