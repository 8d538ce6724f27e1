import ActSparse
import ActSparseGeneration
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import UnixSignals
import Synchronization

/// An OpenAI-compatible HTTP server over a `Generator`: `POST /v1/chat/completions` and `/v1/completions`
/// (streaming as server-sent events, or one JSON answer), `GET /v1/models`, `/health` and `/metrics`
/// (Prometheus text). Batch 1: requests wait in the generator's bounded queue; a full queue answers 429 with
/// `Retry-After`; a client that disconnects from a stream cancels its generation at the next token.
///
/// The generator's driving thread is not the server's: under mpirun it is the main thread (MPI is initialised
/// FUNNELED), which runs `generator.serveQueue()` while `run` serves HTTP on NIO's threads.
public final class OpenAIServer: Sendable {
    public let generator: Generator
    public let options: ServerOptions
    let metrics = ServerMetrics()
    let sequence = Atomic<Int>(0)
    let started = Int(Date().timeIntervalSince1970)

    public init(generator: Generator, options: ServerOptions) {
        self.generator = generator
        self.options = options
    }

    /// HTTP requests being answered (a stream counts until its last byte).
    public var inFlight: Int { metrics.inFlight }

    /// Serves until one of `signals` or a failure to listen (thrown). On the signal: stops accepting, ends the
    /// queued requests with 503, lets the running one finish, closes the generator and returns.
    /// `onListening` gets the base URL once the socket is bound.
    public func run(signals: [StopSignal] = [.term, .int],
                    onListening: @escaping @Sendable (String) -> Void) async throws {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: APIMiddleware(apiKey: options.apiKey, metrics: metrics))
        router.get("/health") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: "{\"status\":\"ok\"}")))
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: self.metrics.text(
                        queueDepth: self.generator.queueDepth, queueLimit: self.generator.queueLimit,
                        model: self.generator.name))))
        }
        router.get("/v1/models") { _, _ in
            struct Model: Encodable { var id: String, object = "model", created: Int, owned_by = "actsparse" }
            struct List: Encodable { var object = "list", data: [Model] }
            return try OpenAIServer.json(List(data: [Model(id: self.generator.name, created: self.started)]))
        }
        router.post("/v1/chat/completions") { request, _ in try await self.complete(request, chat: true) }
        router.post("/v1/completions") { request, _ in try await self.complete(request, chat: false) }

        var logger = Logger(label: "actsparse.serve")
        logger.logLevel = .warning
        let host = options.host, port = options.port
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "actsparse"),
            onServerRunning: { channel in onListening("http://\(host):\(channel.localAddress?.port ?? port)") },
            logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: app), .init(service: Drain(generator: generator))],
            gracefulShutdownSignals: signals.map(\.unix), logger: logger))
        try await group.run()
        generator.close()
    }

    /// Signals that stop the server gracefully.
    public enum StopSignal: Sendable {
        case term, int, usr1
        var unix: UnixSignal {
            switch self {
            case .term: return .sigterm
            case .int: return .sigint
            case .usr1: return .sigusr1
            }
        }
    }

    /// Shut down first (a service group stops its services in reverse order): the queue refuses new requests
    /// and ends the queued ones, then the HTTP server waits for the running one.
    struct Drain: Service {
        let generator: Generator
        func run() async throws {
            try? await gracefulShutdown()
            generator.close(failQueued: true)
        }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: try JSONEncoder.api.encode(value))))
    }

    /// Names this model answers to: its own, its catalog aliases, its file name.
    func serves(_ model: String) -> Bool {
        if model == generator.name { return true }
        if let e = ModelCatalog.entry(named: model), e.name == generator.name { return true }
        let file = URL(fileURLWithPath: generator.llm.gguf.path).lastPathComponent
        return model == file || model + ".gguf" == file
    }
}
