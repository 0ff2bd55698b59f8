import Foundation
import Hummingbird
import Logging
import CoreMetrics
import Metrics
import Prometheus

/// The sample microservice: `GET /hello` greets and counts, `/metrics` and
/// `/q/metrics` serve Prometheus text, `/healthz` answers `ok`.
public struct HelloService: Sendable {
    public struct Configuration: Sendable {
        public var host = "0.0.0.0"
        public var port = 8080
        public var greeting = ProcessInfo.processInfo.environment["GREETING"] ?? "World"
        /// Artificial time spent per `/hello`, so load tests mean something.
        public var work: Duration = .zero
        public init() {}
    }

    public let configuration: Configuration
    public let registry: PrometheusCollectorRegistry
    let requests: CoreMetrics.Counter
    let duration: Metrics.Timer

    public init(configuration: Configuration, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.configuration = configuration
        self.registry = registry
        let factory = PrometheusMetricsFactory(registry: registry)
        requests = CoreMetrics.Counter(label: "hello_requests_total", factory: factory)
        duration = Metrics.Timer(label: "hello_request_duration_seconds", preferredDisplayUnit: .seconds, factory: factory)
    }

    /// The Hummingbird application; run it with `runService()` for signal handling.
    public func application(logger: Logger = Logger(label: "hello-service"), onBound: @escaping @Sendable (Int) -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router()
        let greeting = configuration.greeting
        let work = configuration.work
        let requests = self.requests
        let duration = self.duration
        let registry = self.registry
        router.get("hello") { _, _ -> String in
            let start = ContinuousClock.now
            if work > .zero { try await Task.sleep(for: work) }
            requests.increment()
            let elapsed = ContinuousClock.now - start
            duration.recordNanoseconds(Int64(elapsed.components.seconds) * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
            return "Hello, \(greeting)!\n"
        }
        router.get("healthz") { _, _ in "ok\n" }
        let metrics: @Sendable (Request, BasicRequestContext) async throws -> Response = { _, _ in
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        router.get("metrics", use: metrics)
        router.get("q/metrics", use: metrics)
        return Application(
            router: router, configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "hello-service"),
            onServerRunning: { channel in onBound(channel.localAddress?.port ?? 0) }, logger: logger)
    }
}
