import AsyncHTTPClient
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// A connection to one Kubernetes API server.
///
/// Create it from a ``ClusterConnection`` (or ``load(kubeconfigPath:context:logger:)``),
/// take typed resource handles from it, and call ``shutdown()`` when done.
///
/// Guarantees:
/// - TLS is verified against the cluster CA (or the system roots) unless the
///   configuration explicitly set `insecure-skip-tls-verify`.
/// - Every non-2xx answer becomes a ``KubeError`` carrying the server's `Status`.
/// - Unary requests are bounded by ``requestTimeout``; watches by their own
///   `timeoutSeconds` plus an idle-read timeout.
/// - Logs carry method, path, status and duration, never headers or bodies.
public final class KubeClient: Sendable {
    public let connection: ClusterConnection
    /// Upper bound on a unary request, from send to the last body byte.
    public let requestTimeout: Duration
    /// Unary requests: idle reads are bounded by ``requestTimeout``.
    let http: HTTPClient
    /// Watches: idle reads are bounded by the idle-read timeout, a little above the
    /// longest `timeoutSeconds` Tide asks for, so a silent dead connection is noticed.
    let streamingHTTP: HTTPClient
    let logger: Logger
    let baseURL: String

    /// - Throws: ``KubeConfigError`` if the TLS material cannot be used.
    public init(
        connection: ClusterConnection, requestTimeout: Duration = .seconds(30),
        idleReadTimeout: Duration = .seconds(320), logger: Logger = Logger(label: "tide.kube-client")
    ) throws {
        self.connection = connection
        self.requestTimeout = requestTimeout
        self.logger = logger
        var base = connection.server.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base

        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(10), read: Self.timeAmount(requestTimeout))
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 16)
        // Fail a request at once when the server is unreachable or its certificate is
        // wrong; callers (the watcher, the controller) retry with their own backoff.
        configuration.connectionPool.retryConnectionEstablishment = false
        if connection.server.scheme == "https" {
            configuration.tlsConfiguration = try Self.tlsConfiguration(for: connection)
        }
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        configuration.timeout = .init(connect: .seconds(10), read: Self.timeAmount(idleReadTimeout))
        self.streamingHTTP = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// Loads configuration (see ``KubeConfigLoader``) and connects.
    public static func load(
        kubeconfigPath: String? = nil, context: String? = nil, logger: Logger = Logger(label: "tide.kube-client")
    ) throws -> KubeClient {
        let connection = try KubeConfigLoader(kubeconfigPath: kubeconfigPath, context: context).load()
        return try KubeClient(connection: connection, logger: logger)
    }

    /// Closes every connection. Call once, when the client is no longer used.
    public func shutdown() async throws {
        try await http.shutdown()
        try await streamingHTTP.shutdown()
    }

    static func tlsConfiguration(for connection: ClusterConnection) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if connection.insecureSkipTLSVerify {
            tls.certificateVerification = .none
        } else if let ca = connection.certificateAuthorityPEM {
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca))
            } catch {
                throw KubeConfigError.invalid(source: connection.source, reason: "certificate authority is not valid PEM")
            }
        }
        if let client = connection.clientCertificate {
            do {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(client.certificatePEM).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: client.keyPEM, format: .pem))
            } catch {
                throw KubeConfigError.invalid(source: connection.source, reason: "client certificate or key is not valid PEM")
            }
        }
        return tls
    }

    // MARK: Resource handles

    /// A handle on a namespaced type within one namespace: every verb.
    public func namespaced<K: NamespacedObject>(_ type: K.Type, in namespace: String) -> ResourceClient<K, SingleScope> {
        ResourceClient(client: self, resource: K.resource, namespace: namespace)
    }

    /// A handle on a cluster-scoped type: every verb.
    public func clusterScoped<K: ClusterScopedObject>(_ type: K.Type) -> ResourceClient<K, SingleScope> {
        ResourceClient(client: self, resource: K.resource, namespace: nil)
    }

    /// A handle on a namespaced type across all namespaces: list and watch only.
    public func allNamespaces<K: NamespacedObject>(_ type: K.Type) -> ResourceClient<K, AllNamespacesScope> {
        ResourceClient(client: self, resource: K.resource, namespace: nil)
    }

    /// A handle for a type served somewhere other than its default descriptor (for
    /// example an untyped ``DynamicObject`` of a custom resource).
    public func resource<K: KubernetesObject>(
        _ type: K.Type, at resource: ResourceDescriptor, namespace: String?
    ) -> ResourceClient<K, SingleScope> {
        ResourceClient(client: self, resource: resource, namespace: resource.namespaced ? namespace : nil)
    }

    // MARK: Discovery

    /// The server's `/version`.
    public func serverVersion() async throws -> JSONValue {
        try await request(.GET, path: "/version", as: JSONValue.self)
    }

    /// Whether `group/version` currently serves `plural` (discovery, not cached).
    public func serves(group: String, version: String, plural: String) async throws -> Bool {
        let path = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        do {
            let list = try await request(.GET, path: path, as: JSONValue.self)
            return list["resources"]?.arrayValue?.contains { $0["name"]?.stringValue == plural } ?? false
        } catch KubeError.notFound {
            return false
        }
    }

    // MARK: Requests

    /// Sends a request and decodes a 2xx body as `T`.
    public func request<T: Decodable>(
        _ method: HTTPMethod, path: String, query: [(String, String)] = [], body: [UInt8]? = nil,
        contentType: String? = nil, as type: T.Type
    ) async throws -> T {
        let response = try await send(method, path: path, query: query, body: body, contentType: contentType)
        do {
            return try KubeJSON.decoder.decode(T.self, from: Data(response.body))
        } catch {
            throw KubeError.undecodable(type: String(describing: T.self), reason: Self.describe(decodingError: error))
        }
    }

    /// A completed response.
    public struct Response: Sendable {
        public var code: Int
        public var headers: HTTPHeaders
        public var body: [UInt8]
    }

    /// Sends a request and returns a 2xx response; anything else throws ``KubeError``.
    public func send(
        _ method: HTTPMethod, path: String, query: [(String, String)] = [], body: [UInt8]? = nil,
        contentType: String? = nil
    ) async throws -> Response {
        do {
            return try await sendOnce(method, path: path, query: query, body: body, contentType: contentType)
        } catch KubeError.unauthorized where connection.exec != nil {
            // An exec plugin's token was revoked or expired early: ask the plugin again, once.
            connection.exec?.invalidate()
            return try await sendOnce(method, path: path, query: query, body: body, contentType: contentType)
        }
    }

    func sendOnce(
        _ method: HTTPMethod, path: String, query: [(String, String)], body: [UInt8]?, contentType: String?
    ) async throws -> Response {
        let started = ContinuousClock.now
        let request = try makeRequest(method, path: path, query: query, body: body, contentType: contentType)
        let result: Response
        do {
            // The deadline bounds the wait for the response head; the unary client's idle
            // read timeout (also `requestTimeout`) bounds a body that stalls.
            let response = try await http.execute(request, deadline: .now() + Self.timeAmount(requestTimeout))
            let bytes = try await response.body.collect(upTo: 256 * 1024 * 1024)
            result = Response(code: Int(response.status.code), headers: response.headers, body: Array(buffer: bytes))
        } catch {
            logger.debug("request failed", metadata: ["method": "\(method.rawValue)", "path": "\(path)"])
            throw KubeError.transport(Self.describe(transportError: error))
        }
        logger.trace(
            "request",
            metadata: [
                "method": "\(method.rawValue)", "path": "\(path)", "code": "\(result.code)",
                "duration": "\(ContinuousClock.now - started)",
            ])
        guard (200..<300).contains(result.code) else {
            throw Self.error(code: result.code, headers: result.headers, body: result.body)
        }
        return result
    }

    /// Opens a streaming GET (a watch) and returns the response once its head is in.
    /// A non-2xx answer is read whole and thrown as ``KubeError``.
    func openStream(path: String, query: [(String, String)]) async throws -> HTTPClientResponse {
        let request = try makeRequest(.GET, path: path, query: query, body: nil, contentType: nil)
        let response: HTTPClientResponse
        do {
            response = try await streamingHTTP.execute(request, deadline: .now() + Self.timeAmount(requestTimeout))
        } catch {
            throw KubeError.transport(Self.describe(transportError: error))
        }
        let code = Int(response.status.code)
        guard (200..<300).contains(code) else {
            // The watcher's retry asks an exec plugin again.
            if code == 401 { connection.exec?.invalidate() }
            let bytes = (try? await response.body.collect(upTo: 1024 * 1024)).map { Array(buffer: $0) } ?? []
            throw Self.error(code: code, headers: response.headers, body: bytes)
        }
        return response
    }

    func makeRequest(
        _ method: HTTPMethod, path: String, query: [(String, String)], body: [UInt8]?, contentType: String?
    ) throws -> HTTPClientRequest {
        var url = baseURL + path
        if !query.isEmpty {
            url += "?" + query.map { "\(Self.percentEncode($0.0))=\(Self.percentEncode($0.1))" }.joined(separator: "&")
        }
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: connection.userAgent)
        switch connection.credential {
        case .none: break
        case .token(let secret): request.headers.add(name: "Authorization", value: "Bearer \(secret.value)")
        case .tokenFile(let file): request.headers.add(name: "Authorization", value: "Bearer \(try file.token().value)")
        case .exec(let plugin):
            do {
                request.headers.add(name: "Authorization", value: "Bearer \(try plugin.token().value)")
            } catch {
                throw KubeError.transport("\(error)")
            }
        }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType ?? "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        return request
    }

    /// Builds the typed error for a non-2xx answer, decoding a `Status` body when there is one.
    static func error(code: Int, headers: HTTPHeaders, body: [UInt8]) -> KubeError {
        var status: Status
        if let decoded = try? KubeJSON.decoder.decode(Status.self, from: Data(body)), decoded.kind == "Status" {
            status = decoded
        } else {
            let text = String(decoding: body.prefix(512), as: UTF8.self).trimmingWhitespace()
            status = Status(message: text.isEmpty ? "HTTP \(code)" : text, reason: nil, code: code)
        }
        if status.code == nil { status.code = code }
        var retryAfter: Duration?
        if let header = headers.first(name: "Retry-After"), let seconds = Int(header.trimmingWhitespace()) {
            retryAfter = .seconds(seconds)
        } else if let seconds = status.details?.retryAfterSeconds {
            retryAfter = .seconds(seconds)
        }
        return KubeError.from(code: code, status: status, retryAfter: retryAfter)
    }

    /// Percent-encodes a query parameter value (everything but unreserved characters).
    public static func percentEncode(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var encoded: [UInt8] = []
        encoded.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"):
                encoded.append(byte)
            default:
                encoded += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }

    static func describe(transportError error: any Error) -> String {
        if let error = error as? HTTPClientError {
            if error == .deadlineExceeded || error == .readTimeout { return "timed out" }
            if error == .connectTimeout { return "connect timed out" }
            return "\(error)"
        }
        if let error = error as? NIOSSLError { return "TLS: \(error)" }
        if let error = error as? BoringSSLError { return "TLS: \(error)" }
        if error is CancellationError { return "cancelled" }
        return "\(error)"
    }

    static func describe(decodingError error: any Error) -> String { UndecodableObject.describe(error) }
}
