#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Hummingbird
import HummingbirdTLS
import Logging
import NIOSSL
import Prometheus
import ServiceLifecycle

/// Serves `/metrics` (Prometheus text from a registry) on its own address, as a service,
/// the way kubebuilder v4 projects do by default:
///
/// - ``Security/secure(authorizer:certificate:refreshInterval:)``: HTTPS with
///   ``ServedCertificate`` (refreshed every `refreshInterval`), and every request
///   authenticated and authorized by ``MetricsAuthorizer``: 401 without a valid token,
///   403 for a user without `get` on `/metrics`, 503 when the API server cannot say;
/// - ``Security/plain``: plain HTTP, open to anyone who can reach the address (only with
///   `--metrics-secure=false`).
///
/// Nothing else is served here: the health probes stay on their own plain address, so the
/// kubelet needs no token.
public struct MetricsServer: ServiceLifecycle.Service {
    public enum Security: Sendable {
        case plain
        case secure(authorizer: MetricsAuthorizer, certificate: ServedCertificate, refreshInterval: Duration)
    }

    public let host: String
    public let port: Int
    let registry: PrometheusCollectorRegistry
    let security: Security
    let onBound: @Sendable (Int) -> Void
    let logger: Logger

    public init(
        host: String, port: Int, registry: PrometheusCollectorRegistry, security: Security, onBound: @escaping @Sendable (Int) -> Void = { _ in },
        logger: Logger = Logger(label: "tide.metrics")
    ) {
        self.host = host
        self.port = port
        self.registry = registry
        self.security = security
        self.onBound = onBound
        self.logger = logger
    }

    public func run() async throws {
        let router = Router()
        let registry = self.registry
        let security = self.security
        let logger = self.logger
        router.get("metrics") { request, _ -> Response in
            if case .secure(let authorizer, _, _) = security {
                let verdict = await authorizer.verdict(authorization: request.headers[.authorization])
                switch verdict {
                case .allowed:
                    break
                case .unauthenticated(let why):
                    logger.debug("refused an unauthenticated scrape", metadata: ["why": "\(why)"])
                    var headers = HTTPFields()
                    headers[.wwwAuthenticate] = "Bearer"
                    return Self.text(401, "Unauthorized: \(why)\n", headers: headers)
                case .forbidden(let user):
                    logger.debug("refused a scrape", metadata: ["user": "\(user)"])
                    return Self.text(403, "Forbidden: user \"\(user)\" may not get \(MetricsAuthorizer.path)\n")
                case .unavailable(let why):
                    logger.warning("cannot check a scrape's access; refusing it", metadata: ["why": "\(why)"])
                    return Self.text(503, "Service Unavailable: \(why)\n")
                }
            }
            return Self.exposition(registry)
        }
        let onBound = self.onBound
        let configuration = ApplicationConfiguration(address: .hostname(host, port: port), serverName: "tide-metrics")
        switch security {
        case .plain:
            let app = Application(
                router: router, configuration: configuration, onServerRunning: { onBound($0.localAddress?.port ?? 0) }, logger: logger)
            // `run()`, not `runService()`: the enclosing group's graceful shutdown stops it.
            try await app.run()
        case .secure(_, let certificate, let refreshInterval):
            let app = Application(
                router: router, server: try .tls(.http1(), tlsConfiguration: certificate.tlsConfiguration()), configuration: configuration,
                onServerRunning: { onBound($0.localAddress?.port ?? 0) }, logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await app.run() }
                group.addTask {
                    while !Task.isCancelled {
                        do {
                            try await Task.sleep(for: refreshInterval)
                        } catch {
                            return
                        }
                        do {
                            if let changed = try certificate.refresh() { logger.info("\(changed)") }
                        } catch {
                            logger.warning("cannot refresh the metrics serving certificate; serving the current one", metadata: ["error": "\(error)"])
                        }
                    }
                }
                // The server ends at graceful shutdown; the refresher goes with it.
                try await group.next()
                group.cancelAll()
            }
        }
    }

    /// `registry` in Prometheus' text format.
    static func exposition(_ registry: PrometheusCollectorRegistry) -> Response {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16 * 1024)
        registry.emit(into: &buffer)
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: buffer)))
    }

    static func text(_ status: Int, _ body: String, headers: HTTPFields = HTTPFields()) -> Response {
        var headers = headers
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: .init(code: status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}
