import Hummingbird

/// Around every route: the API key (on /v1), errors as OpenAI-shaped JSON (never Hummingbird's text), the
/// request counter by endpoint and status, and the in-flight count of /v1 requests.
struct APIMiddleware<Context: RequestContext>: RouterMiddleware {
    let apiKey: String?
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        let endpoint = request.uri.path
        let known = ["/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/metrics"].contains(endpoint)
        let label = known ? endpoint : "other"
        let token = endpoint.hasPrefix("/v1") ? InFlight(metrics) : nil
        return InFlight.covering(try await answer(request, context: context, next: next, label: label), token)
    }

    func answer(_ request: Request, context: Context, next: (Request, Context) async throws -> Response,
                label: String) async throws -> Response {
        let endpoint = request.uri.path
        do {
            if let apiKey, endpoint.hasPrefix("/v1"),
               request.headers[.authorization] != "Bearer \(apiKey)" {
                throw APIError(status: .unauthorized, message: "missing or wrong API key: send 'Authorization: Bearer <key>'",
                               type: "invalid_request_error", code: "invalid_api_key")
            }
            let response = try await next(request, context)
            metrics.request(label, status: response.status.code)
            return response
        } catch {
            let e = APIMiddleware.api(error)
            metrics.request(label, status: e.status.code)
            return try e.response(from: request, context: context)
        }
    }

    static func api(_ error: Error) -> APIError {
        if let e = error as? APIError { return e }
        if let e = error as? HTTPError {
            switch e.status {
            case .contentTooLarge:
                return APIError(status: e.status, message: "the request body is too large", type: "invalid_request_error")
            case .notFound:
                return APIError(status: e.status, message: "no such endpoint", type: "invalid_request_error",
                                code: "not_found")
            default:
                return APIError(status: e.status, message: e.body ?? e.status.reasonPhrase, type: "invalid_request_error")
            }
        }
        return APIError(status: .internalServerError, message: "\(error)", type: "server_error")
    }
}
