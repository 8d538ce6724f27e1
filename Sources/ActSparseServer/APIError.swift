import Foundation
import Hummingbird

/// An error answered in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}` with its HTTP status.
struct APIError: Error, HTTPResponseError, CustomStringConvertible {
    var status: HTTPResponse.Status
    var message: String
    var type: String
    var param: String?
    var code: String?
    /// Seconds a client should wait before retrying (429, 503).
    var retryAfter: Int?

    var description: String { "\(status.code) \(type): \(message)" }

    static func invalid(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: .badRequest, message: message, type: "invalid_request_error", param: param, code: code)
    }

    var json: Data {
        struct Body: Encodable {
            struct Inner: Encodable { var message: String, type: String, param: String?, code: String? }
            var error: Inner
        }
        let body = Body(error: .init(message: message, type: type, param: param, code: code))
        return (try? JSONEncoder.api.encode(body)) ?? Data("{\"error\":{\"message\":\"error\"}}".utf8)
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: json)))
    }
}

extension JSONEncoder {
    /// Compact, keys sorted (stable output for tests and logs), no escaped slashes.
    static let api: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()
}
