import ActSparse
import ActSparseDistributed
import ActSparseGeneration
import ActSparseServer
import ArgumentParser
import Foundation
import Synchronization

/// The OpenAI-compatible HTTP server. Rank 0 listens and decodes one request at a time on its main thread
/// (MPI is initialised FUNNELED); the other ranks follow the same per-token protocol as `generate`, sleeping
/// (not spinning) between requests.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serves the model over an OpenAI-compatible HTTP API, alone or under launch/mpirun.",
        discussion: """
            Endpoints: POST /v1/chat/completions and /v1/completions (streaming with "stream": true), GET /v1/models, \
            /health, /metrics (Prometheus). Requests decode one at a time; up to --queue wait, more get 429. \
            SIGTERM or Ctrl-C: stop accepting, end queued requests with 503, finish the running one, exit 0. \
            A lost rank: requests in flight get 503 and the job exits non-zero (restart it from a supervisor).
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sparsityOptions: SparsityOptions
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var commOptions: CommOptions
    @Option(help: "Interface to listen on (0.0.0.0: every interface; then set --api-key).") var host = "127.0.0.1"
    @Option(help: "TCP port (0: any free port; the listening line names it).") var port = 8080
    @Option(help: ArgumentHelp("Require 'Authorization: Bearer KEY' on /v1 (default: ACTSPARSE_API_KEY, else none).",
                               valueName: "key"))
    var apiKey: String?
    @Option(help: "Requests that may wait while one decodes (more are refused with 429).") var queue = 16
    @Option(help: "Seconds a request may take from arrival, queue included (then it ends, finish_reason length).")
    var requestTimeout = 600.0
    @Option(help: "Largest request body in bytes (413 above).") var maxBody = 1 << 20

    /// What every rank must share (compared before the first collective).
    var settings: JobSettings {
        var s = JobSettings(command: "serve")
        s.add(modelOptions)
        s.add(sparsityOptions, model: modelOptions.model)
        return s
    }

    func run() throws {
        try withWorld(commOptions, settings: settings) { comm in
            try agreeOnConfiguration(comm) {
                if !(0...65535).contains(port) { return "--port must be in 0...65535, found \(port)" }
                if queue < 0 { return "--queue must be ≥ 0, found \(queue)" }
                if !(requestTimeout > 0 && requestTimeout.isFinite) { return "--request-timeout must be > 0 seconds" }
                if maxBody < 1024 { return "--max-body must be ≥ 1024 bytes" }
                return sparsityOptions.problem() ?? commOptions.problem() ?? modelOptions.problem()
            }
            let llm = try DistributedLlama(comm: comm, path: modelOptions.model, mode: modelOptions.mode, scope: modelOptions.shard,
                                           threads: threadOptions.resolved, context: modelOptions.context, kv: modelOptions.kv,
                                           activations: modelOptions.activations, stepTimeout: commOptions.resolved,
                                           progress: TerminalProgress.handler)
            guard llm.model != nil else {
                // mpirun passes signals on to every rank (SIGUSR1 too): rank 0 leads the shutdown, and
                // releases this rank with a stop step once its running request is done.
                for sig in [SIGINT, SIGTERM, SIGUSR1] { signal(sig, SIG_IGN) }
                return try llm.follow(idle: 0)
            }
            try serve(llm)
            try llm.stop()
        }
    }

    func serve(_ llm: DistributedLlama) throws {
        let generator = try sparsityOptions.generator(llm, model: modelOptions.model, queueLimit: queue).generator
        let plan = generator.plan
        var options = ServerOptions(host: host, port: port,
                                    apiKey: apiKey ?? ProcessInfo.processInfo.environment["ACTSPARSE_API_KEY"])
        options.maxBodyBytes = maxBody
        options.requestTimeout = requestTimeout
        let server = OpenAIServer(generator: generator, options: options)
        // A lost rank must not end the job from inside a collective: the requests in flight are answered first.
        llm.comm.throwsOnTimeout = true

        // One process: SIGTERM and Ctrl-C stop gracefully. Under mpirun they mean the job is being killed (mpirun
        // got one, or lost a rank and is ending the job; it exits 1 after a signal whatever the ranks do): the
        // requests in flight get 503 at once and this rank exits non-zero before mpirun's SIGKILL. mpirun passes
        // SIGUSR1 on without killing anything: that is the graceful stop of a job (launch/serve turns SIGTERM
        // into it).
        let ranks = llm.comm.size
        let graceful: [OpenAIServer.StopSignal] = llm.comm.size > 1 ? [.usr1] : [.term, .int, .usr1]
        var sources: [DispatchSourceSignal] = []
        if llm.comm.size > 1 {
            for sig in [SIGTERM, SIGINT] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler {
                    generator.fail("the job is ending (a rank was lost, or mpirun was signalled)")
                    // mpirun's SIGKILL follows its SIGTERM after 1 s (odls_base_sigkill_timeout): be out before.
                    ServeCommand.drain(server, seconds: 0.7)
                    StandardError.write("actsparse: rank 0/\(ranks): signal \(sig): the job is ending (a rank lost or "
                        + "mpirun signalled); requests in flight were answered 503\n")
                    _exit(5)
                }
                source.resume()
                sources.append(source)
            }
        }
        defer { sources.forEach { $0.cancel() } }

        let ended = DispatchSemaphore(value: 0)
        let failure = Mutex<String?>(nil)
        Task.detached {
            do {
                try await server.run(signals: graceful) { url in
                    print("listening on \(url) · model \(generator.name) · \(ranks) rank(s) · sparsity: \(plan.label)")
                    fflush(nil)
                }
            } catch {
                failure.withLock { $0 = "cannot serve on \(host):\(port): \(error)" }
                generator.close(failQueued: true)
            }
            ended.signal()
        }
        do {
            try generator.serveQueue()  // returns once the server closed the queue (a signal, or failing to listen)
        } catch {
            // The model failed (a rank lost, a collective timed out): every request in flight has its 503; let
            // them go out, then end the job (withWorld aborts it: non-zero exit on every rank).
            ServeCommand.drain(server, seconds: 2)
            throw error
        }
        ended.wait()
        if let message = failure.withLock({ $0 }) { throw ValidationError(message) }
    }

    /// Waits until every answer is handed to its socket (at most `seconds`), then a moment more for the event
    /// loop to write it: the process exits right after.
    static func drain(_ server: OpenAIServer, seconds: Double) {
        let deadline = Timing.now() + UInt64(seconds * 1e9)
        while server.inFlight > 0 && Timing.now() < deadline { usleep(5_000) }
        usleep(50_000)
    }
}
