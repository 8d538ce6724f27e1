import ActSparseGeneration
import Foundation
import Synchronization

/// Counters for `/metrics`, in Prometheus' text format (version 0.0.4). Written by request handlers, read by scrapes.
final class ServerMetrics: Sendable {
    struct State {
        /// "endpoint status" → count
        var requests: [String: Int] = [:]
        var promptTokens = 0, completionTokens = 0
        var decodeSteps = 0, decodeSeconds = 0.0
        var prefills = 0, prefillSeconds = 0.0
        var lastTokensPerSecond = 0.0, lastPrefillSeconds = 0.0
        /// [site] of the last request with a decode step
        var lastSparsity: [Double] = [0, 0, 0, 0]
        var inFlight = 0
    }
    let state = Mutex(State())

    func request(_ endpoint: String, status: Int) {
        state.withLock { $0.requests["\(endpoint) \(status)", default: 0] += 1 }
    }

    func started() { state.withLock { $0.inFlight += 1 } }
    func ended() { state.withLock { $0.inFlight -= 1 } }
    var inFlight: Int { state.withLock { $0.inFlight } }

    func record(_ u: GenerationUsage) {
        state.withLock { s in
            s.promptTokens += u.promptTokens
            s.completionTokens += u.completionTokens
            s.prefills += 1
            s.prefillSeconds += u.prefillSeconds
            s.lastPrefillSeconds = u.prefillSeconds
            s.decodeSteps += u.decodeSteps
            s.decodeSeconds += u.decodeSeconds
            if u.decodeSteps > 0 {
                s.lastTokensPerSecond = u.tokensPerSecond
                s.lastSparsity = u.realizedSparsity
            }
        }
    }

    func text(queueDepth: Int, queueLimit: Int, model: String) -> String {
        let s = state.withLock { $0 }
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(String, Double)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, v) in samples { out += "\(name)\(labels) \(v.isFinite ? String(v) : "NaN")\n" }
        }
        let m = "model=\"\(model)\""
        metric("actsparse_requests_total", "counter", "HTTP requests by endpoint and status.",
               s.requests.sorted { $0.key < $1.key }.map { k, v in
                   let parts = k.split(separator: " ")
                   return ("{endpoint=\"\(parts[0])\",status=\"\(parts[1])\"}", Double(v))
               })
        metric("actsparse_prompt_tokens_total", "counter", "Prompt tokens prefilled.", [("{\(m)}", Double(s.promptTokens))])
        metric("actsparse_completion_tokens_total", "counter", "Tokens generated.", [("{\(m)}", Double(s.completionTokens))])
        metric("actsparse_decode_seconds_total", "counter", "Seconds in decode steps.", [("{\(m)}", s.decodeSeconds)])
        metric("actsparse_decode_steps_total", "counter", "Decode steps.", [("{\(m)}", Double(s.decodeSteps))])
        metric("actsparse_prefill_seconds_total", "counter", "Seconds in prompt prefills.", [("{\(m)}", s.prefillSeconds)])
        metric("actsparse_prefills_total", "counter", "Prompt prefills.", [("{\(m)}", Double(s.prefills))])
        metric("actsparse_decode_tokens_per_second", "gauge", "Decode tokens/s of the last request.",
               [("{\(m)}", s.lastTokensPerSecond)])
        metric("actsparse_prefill_milliseconds", "gauge", "Prefill time of the last request.",
               [("{\(m)}", s.lastPrefillSeconds * 1e3)])
        metric("actsparse_realized_sparsity", "gauge", "Realized sparsity of the last request's decode, per site (layer mean).",
               zip(["attention", "output", "gate_up", "down"], s.lastSparsity).map { ("{\(m),site=\"\($0)\"}", $1) })
        metric("actsparse_queue_depth", "gauge", "Requests queued or running.", [("{\(m)}", Double(queueDepth))])
        metric("actsparse_queue_limit", "gauge", "Requests that may wait while one runs.", [("{\(m)}", Double(queueLimit))])
        metric("actsparse_requests_in_flight", "gauge", "HTTP requests being answered.", [("{\(m)}", Double(s.inFlight))])
        return out
    }
}
