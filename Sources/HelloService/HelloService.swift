#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Hummingbird
import Logging
import CoreMetrics
import Metrics
import Prometheus
import Synchronization

/// The sample microservice: `GET /hello` greets and counts, `/metrics` and
/// `/q/metrics` serve Prometheus text, `/stats` the same figures as JSON (for Tide's
/// HTTP metric source), `/healthz` answers `ok`.
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
    public let stats = RequestStats()

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
        let stats = self.stats
        router.get("hello") { _, _ -> String in
            let start = ContinuousClock.now
            stats.begin(at: start)
            defer { stats.end() }
            if work > .zero { try await Task.sleep(for: work) }
            requests.increment()
            let elapsed = ContinuousClock.now - start
            duration.recordNanoseconds(Int64(elapsed.components.seconds) * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
            return "Hello, \(greeting)!\n"
        }
        router.get("healthz") { _, _ in "ok\n" }
        router.get("stats") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: stats.json())))
        }
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

/// Live request figures for `/stats`: `{"inFlight": 2, "requests": 1234,
/// "requestsPerSecond": 12.5}`, the rate over the last ``window`` seconds.
public final class RequestStats: Sendable {
    public static let window = 10
    struct State {
        var inFlight = 0
        var total = 0
        /// Requests started in each of the last `window` whole seconds, by second.
        var perSecond: [(second: Int64, count: Int)] = []
    }
    let state = Mutex(State())
    let origin = ContinuousClock.now

    public init() {}

    func second(_ instant: ContinuousClock.Instant) -> Int64 { (instant - origin).components.seconds }

    func begin(at instant: ContinuousClock.Instant) {
        let now = second(instant)
        state.withLock { state in
            state.inFlight += 1
            state.total += 1
            if let last = state.perSecond.last, last.second == now {
                state.perSecond[state.perSecond.count - 1].count += 1
            } else {
                state.perSecond.append((now, 1))
            }
            state.perSecond.removeAll { $0.second <= now - Int64(Self.window) }
        }
    }

    func end() { state.withLock { $0.inFlight -= 1 } }

    /// The figures now, as JSON.
    public func json(at instant: ContinuousClock.Instant = .now) -> String {
        let now = second(instant)
        let (inFlight, total, recent) = state.withLock { state in
            (state.inFlight, state.total, state.perSecond.filter { $0.second > now - Int64(Self.window) && $0.second < now }.reduce(0) { $0 + $1.count })
        }
        // Whole seconds only: the current one is still filling. Early on, divide by the seconds that have passed.
        let seconds = max(1, min(Int64(Self.window - 1), now))
        let rate = Double(recent) / Double(seconds)
        return #"{"inFlight": \#(inFlight), "requests": \#(total), "requestsPerSecond": \#((rate * 1000).rounded() / 1000)}"#
    }
}
