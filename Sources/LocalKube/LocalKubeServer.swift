import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import KubeAPI
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import KubeCertificates

/// How a LocalKube server listens and whom it lets in.
public struct LocalKubeOptions: Sendable {
    /// Loopback address to bind; port 0 picks a free port.
    public var host: String = "127.0.0.1"
    public var port: Int = 0
    /// Serve HTTPS with a freshly minted CA (see ``LocalKubeServer/certificateAuthority``).
    public var tls: Bool = false
    /// With ``tls``: reject clients without a certificate signed by the CA.
    public var requireClientCertificate: Bool = false
    /// When set, every request must carry `Authorization: Bearer <token>` (or, with
    /// TLS, a verified client certificate).
    public var bearerToken: String?
    /// Changes kept for watches to resume from.
    public var historyLimit: Int = 10_000
    /// How often open watches that asked for bookmarks receive one.
    public var bookmarkInterval: Duration = .seconds(5)
    /// Create namespaces on first use instead of answering 404.
    public var autoCreateNamespaces: Bool = false
    /// Watch length when the client gives no `timeoutSeconds`.
    public var defaultWatchTimeout: Duration = .seconds(1_800)

    public init() {}
}

/// An in-memory Kubernetes API server on loopback, speaking the REST protocol well
/// enough for KubeClient, the operator, the scaler and `kubectl`.
///
/// Start it with ``start(options:logger:)``, point a client at ``url``, and call
/// ``stop()`` at the end. ``store``, ``faults`` and ``requests`` give tests direct
/// access to state, fault injection and request counts.
public final class LocalKubeServer: Sendable {
    public let options: LocalKubeOptions
    public let store: ObjectStore
    public let faults: FaultInjector
    public let requests: RequestCounter
    /// The ServiceAccount tokens issued through TokenRequest; tests may issue their own.
    public let tokens: TokenIssuer
    /// The CA of an HTTPS server, for trusting it and minting client certificates.
    public let certificateAuthority: CertificateAuthority?
    /// The bound port.
    public let port: Int
    private let services: BackgroundServices

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    public var url: URL {
        URL(string: "\(options.tls ? "https" : "http")://\(options.host.contains(":") ? "[\(options.host)]" : options.host):\(port)")!
    }

    private init(
        options: LocalKubeOptions, store: ObjectStore, faults: FaultInjector, requests: RequestCounter, tokens: TokenIssuer,
        certificateAuthority: CertificateAuthority?, port: Int, services: BackgroundServices
    ) {
        self.options = options
        self.store = store
        self.faults = faults
        self.requests = requests
        self.tokens = tokens
        self.certificateAuthority = certificateAuthority
        self.port = port
        self.services = services
    }

    /// Starts a server and returns once it accepts connections.
    public static func start(
        options: LocalKubeOptions = LocalKubeOptions(), logger: Logger = Logger(label: "tide.local-kube")
    ) async throws -> LocalKubeServer {
        let store = ObjectStore(historyLimit: options.historyLimit, autoCreateNamespaces: options.autoCreateNamespaces)
        let faults = FaultInjector()
        let requests = RequestCounter()
        let tokens = TokenIssuer()
        let responder = LocalKubeResponder(
            store: store, faults: faults, requests: requests, tokens: tokens, options: options, logger: logger)

        var ca: CertificateAuthority?
        let server: HTTPServerBuilder
        if options.tls {
            let authority = try CertificateAuthority()
            let identity = try authority.issueServerCertificate()
            var tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(identity.certificatePEM.utf8)).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(identity.keyPEM.utf8), format: .pem)))
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(authority.certificatePEM.utf8)))
            tls.certificateVerification = options.requireClientCertificate ? .noHostnameVerification : .none
            server = try .tls(.http1(), tlsConfiguration: tls)
            ca = authority
        } else {
            server = .http1()
        }

        let (portStream, portContinuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            responder: responder, server: server,
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: "local-kube"),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: logger)
        let services = BackgroundServices([app], logger: logger)
        var port = 0
        for await bound in portStream {
            port = bound
            break
        }
        guard port > 0 else {
            if case .failure(let error) = await services.cancel() { throw error }
            throw APIError(code: 500, reason: "InternalError", message: "LocalKube could not bind \(options.host):\(options.port)")
        }
        return LocalKubeServer(
            options: options, store: store, faults: faults, requests: requests, tokens: tokens, certificateAuthority: ca, port: port,
            services: services)
    }

    /// Closes every watch and stops the server.
    public func stop() async {
        store.dropAllWatches()
        // Connections a client keeps open must not hold the shutdown for long.
        await services.stop(within: .seconds(5))
    }

    /// A kubeconfig (YAML) for this server, as `kubectl --kubeconfig` reads it.
    public func kubeconfig(clientIdentity: CertificateAuthority.Identity? = nil, token: String? = nil) -> String {
        var lines = ["apiVersion: v1", "kind: Config", "clusters:", "- name: local-kube", "  cluster:"]
        lines.append("    server: \(url.absoluteString)")
        if let ca = certificateAuthority {
            lines.append("    certificate-authority-data: \(Data(ca.certificatePEM.utf8).base64EncodedString())")
        }
        lines += ["users:", "- name: local-kube", "  user:"]
        var userFields: [String] = []
        if let identity = clientIdentity {
            userFields.append("    client-certificate-data: \(Data(identity.certificatePEM.utf8).base64EncodedString())")
            userFields.append("    client-key-data: \(Data(identity.keyPEM.utf8).base64EncodedString())")
        }
        if let token { userFields.append("    token: \(token)") }
        lines += userFields.isEmpty ? ["    {}"] : userFields
        lines += [
            "contexts:", "- name: local-kube", "  context:", "    cluster: local-kube", "    user: local-kube",
            "    namespace: default", "current-context: local-kube",
        ]
        return lines.joined(separator: "\n") + "\n"
    }
}
