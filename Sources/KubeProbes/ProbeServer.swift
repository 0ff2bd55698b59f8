#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle

/// Serves `/healthz` (the process is alive), `/readyz` (200 only when `isReady` says
/// so, e.g. after caches synced) and, given a `registry`, `/metrics` (Prometheus text
/// format) on one plain, unauthenticated address, as a service. A process whose metrics
/// are secured serves them with ``MetricsServer`` instead and passes no registry here.
public struct ProbeServer: ServiceLifecycle.Service {
    public let host: String
    public let port: Int
    let registry: PrometheusCollectorRegistry?
    let isReady: @Sendable () -> Bool
    let onBound: @Sendable (Int) -> Void
    let logger: Logger

    public init(
        host: String = "0.0.0.0", port: Int, registry: PrometheusCollectorRegistry?, isReady: @escaping @Sendable () -> Bool,
        onBound: @escaping @Sendable (Int) -> Void = { _ in }, logger: Logger = Logger(label: "tide.probes")
    ) {
        self.host = host
        self.port = port
        self.registry = registry
        self.isReady = isReady
        self.onBound = onBound
        self.logger = logger
    }

    public func run() async throws {
        let router = Router()
        let isReady = self.isReady
        let registry = self.registry
        router.get("healthz") { _, _ in "ok" }
        router.get("readyz") { _, _ -> Response in
            let ready = isReady()
            return Response(
                status: ready ? .ok : .serviceUnavailable,
                body: ResponseBody(byteBuffer: ByteBuffer(string: ready ? "ok" : "not ready: caches not synced or not leading")))
        }
        if let registry {
            router.get("metrics") { _, _ in MetricsServer.exposition(registry) }
        }
        let onBound = self.onBound
        let app = Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "tide-probes"),
            onServerRunning: { channel in onBound(channel.localAddress?.port ?? 0) }, logger: logger)
        // `run()`, not `runService()`: the latter starts a service group of its own
        // that reacts to SIGTERM by itself, so the server would stop at once instead of
        // when the enclosing group's graceful shutdown reaches it.
        try await app.run()
    }
}
