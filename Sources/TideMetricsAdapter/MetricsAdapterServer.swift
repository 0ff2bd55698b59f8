#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPTypes
import Hummingbird
import HummingbirdTLS
import KubeProbes
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import SwiftASN1
import X509

/// A request's context: Hummingbird's, plus the connection (for its client certificate).
public struct AdapterRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}

/// The adapter's HTTPS server: TLS with the serving certificate, client certificates
/// verified against the front-proxy CA when presented, request-header authentication,
/// then ``ExternalMetricsAPI`` and ``CustomMetricsAPI``. `/healthz`, `/livez` and `/readyz` answer without
/// authentication (the kubelet probes them without a certificate).
///
/// A client that presents no certificate gets `401` and a Status, nothing else; one
/// whose certificate the front-proxy CA did not sign fails the TLS handshake.
public struct MetricsAdapterServer: ServiceLifecycle.Service {
    /// The serving certificate chain and key, PEM.
    public typealias ServingIdentity = ServedCertificate.Pair

    public let host: String
    public let port: Int
    let material: TLSMaterial
    let responder: AdapterResponder
    let onBound: @Sendable (Int) -> Void
    let logger: Logger

    /// - Parameters:
    ///   - material: the serving identity and front-proxy settings, read afresh for
    ///     each connection (see ``CertificateRotation``).
    ///   - onRequest: called after each answered request with its path's kind
    ///     (`discovery`, `metric`, `probe`, `other`), status and seconds taken.
    public init(
        host: String, port: Int, material: TLSMaterial, api: ExternalMetricsAPI, custom: CustomMetricsAPI? = nil,
        onRequest: @escaping @Sendable (String, Int, Double) -> Void = { _, _, _ in },
        onBound: @escaping @Sendable (Int) -> Void = { _ in }, logger: Logger = Logger(label: "tide.metrics-adapter")
    ) {
        self.host = host
        self.port = port
        self.material = material
        self.responder = AdapterResponder(api: api, custom: custom, material: material, onRequest: onRequest, logger: logger)
        self.onBound = onBound
        self.logger = logger
    }

    public func run() async throws {
        let onBound = self.onBound
        let material = self.material
        let channel = TLSChannelConfiguration(
            tlsConfiguration: material.tlsConfiguration(),
            customAsyncVerificationCallback: { certificates in await material.verifyClient(certificates) })
        let app = Application(
            responder: responder, server: try .tls(.http1(), configuration: channel),
            configuration: .init(address: .hostname(host, port: port), serverName: "tide-metrics-adapter"),
            onServerRunning: { channel in onBound(channel.localAddress?.port ?? 0) }, logger: logger)
        // `run()`, not `runService()`: the latter starts a service group of its own
        // that reacts to SIGTERM by itself, so the server would stop at once instead of
        // when the enclosing group's graceful shutdown reaches it.
        try await app.run()
    }
}

struct AdapterResponder: HTTPResponder {
    typealias Context = AdapterRequestContext

    let api: ExternalMetricsAPI
    let custom: CustomMetricsAPI?
    let material: TLSMaterial
    let onRequest: @Sendable (String, Int, Double) -> Void
    let logger: Logger

    func respond(to request: Request, context: Context) async throws -> Response {
        let start = ContinuousClock.now
        let path = request.uri.path
        let kind = Self.kind(of: path)
        let answer = await answer(request, path: path, kind: kind, channel: context.channel)
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        onRequest(kind, answer.status, seconds)
        logger.debug("request", metadata: ["path": "\(path)", "status": "\(answer.status)", "ms": "\(Int(seconds * 1_000))"])
        var headers = HTTPFields()
        headers[.contentType] = kind == "probe" ? "text/plain; charset=utf-8" : "application/json"
        return Response(
            status: HTTPResponse.Status(code: answer.status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
    }

    func answer(_ request: Request, path: String, kind: String, channel: any Channel) async -> AdapterResponse {
        if kind == "probe" {
            return request.method == .get ? AdapterResponse(status: 200, body: Array("ok".utf8)) : .failure(405, "MethodNotAllowed", "probes take GET")
        }
        let peer = try? await channel.nioSSL_peerCertificate().get()
        let commonName = peer.flatMap(Self.commonName)
        let headers = request.headers.map { (name: $0.name.rawName, value: $0.value) }
        let user: UserInfo
        switch material.authenticator.authenticate(certificateCommonName: commonName, headers: headers) {
        case .success(let found):
            user = found
        case .failure(.noUser) where kind == "discovery":
            // The aggregator's own availability checks name no user; discovery says
            // nothing a front-proxy certificate's holder may not know.
            user = UserInfo(name: commonName ?? "front-proxy")
        case .failure(let failure):
            logger.info("refused an unauthenticated request", metadata: ["path": "\(path)", "why": "\(failure)"])
            return .failure(401, "Unauthorized", "Unauthorized: \(failure)")
        }
        let query = PercentDecoding.query(request.uri.query ?? "")
        if let custom, CustomMetricsAPI.serves(path) {
            return await custom.respond(method: request.method.rawValue, path: path, query: query, user: user)
        }
        return await api.respond(method: request.method.rawValue, path: path, query: query, user: user)
    }

    static func kind(of path: String) -> String {
        switch path {
        case "/healthz", "/livez", "/readyz": return "probe"
        case "/apis/\(ExternalMetricsAPI.group)", "/apis/\(ExternalMetricsAPI.group)/", "/apis/\(ExternalMetricsAPI.groupVersion)",
            "/apis/\(ExternalMetricsAPI.groupVersion)/":
            return "discovery"
        default:
            if CustomMetricsAPI.isDiscovery(path) { return "discovery" }
            if CustomMetricsAPI.serves(path), path.contains("/namespaces/") { return "metric" }
            return path.hasPrefix("/apis/\(ExternalMetricsAPI.groupVersion)/namespaces/") ? "metric" : "other"
        }
    }

    /// The subject's common name of a (verified) client certificate.
    static func commonName(_ certificate: NIOSSLCertificate) -> String? {
        guard let parsed = try? Certificate(derEncoded: try certificate.toDERBytes()) else { return nil }
        for name in parsed.subject {
            for attribute in name where attribute.type == .RDNAttributeType.commonName {
                if let text = String(attribute.value) { return text }
            }
        }
        return nil
    }
}
