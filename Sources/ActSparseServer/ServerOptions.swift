/// Where and how `OpenAIServer` listens.
public struct ServerOptions: Sendable {
    /// Interface to bind (127.0.0.1: this machine only; 0.0.0.0: every interface — set an API key).
    public var host = "127.0.0.1"
    /// 0: any free port (the listening line names it).
    public var port = 8080
    /// When set, every /v1 request needs `Authorization: Bearer <key>` (401 otherwise).
    public var apiKey: String?
    /// Larger request bodies are refused with 413 before they are parsed.
    public var maxBodyBytes = 1 << 20
    /// Seconds from arrival (queue wait included) after which a generation ends (finish_reason "length").
    public var requestTimeout = 600.0

    public init(host: String = "127.0.0.1", port: Int = 8080, apiKey: String? = nil) {
        self.host = host
        self.port = port
        self.apiKey = apiKey
    }
}
