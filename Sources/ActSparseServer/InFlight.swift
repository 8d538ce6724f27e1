import Hummingbird
import Synchronization

/// One HTTP request in `ServerMetrics.inFlight` until its response's last byte is handed to the channel — not
/// when the handler returns, which is before anything is written. A shutdown that waits for the count to reach
/// zero (a lost rank: answer 503, then exit) would otherwise exit with the 503s unsent. A response Hummingbird
/// drops unwritten (the client went away) releases its token, and the count, in `deinit`.
final class InFlight: Sendable {
    let metrics: ServerMetrics
    let ended = Atomic<Bool>(false)

    init(_ metrics: ServerMetrics) {
        self.metrics = metrics
        metrics.started()
    }

    func end() {
        if !ended.exchange(true, ordering: .relaxed) { metrics.ended() }
    }

    deinit { end() }

    /// `response` with a body that ends `token` once written.
    static func covering(_ response: Response, _ token: InFlight?) -> Response {
        guard let token else { return response }
        var response = response
        let body = response.body
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            defer { token.end() }
            try await body.write(writer)
        }
        return response
    }
}
