#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization
import KubeAPI

/// Everything needed to talk to one API server: where it is, how to trust it and who
/// Tide is. Produced by ``KubeConfigLoader`` or built directly (tests, LocalKube).
///
/// The description never includes token or key material.
public struct ClusterConnection: Sendable, CustomStringConvertible {
    /// Base URL, e.g. `https://10.0.0.1:443`.
    public var server: URL
    /// PEM bytes of the certificate authorities to trust; `nil` means the system roots.
    public var certificateAuthorityPEM: [UInt8]?
    /// Skip server certificate verification. Only set when a kubeconfig asks for it.
    public var insecureSkipTLSVerify: Bool
    /// Client certificate and key (PEM) for mutual TLS.
    public var clientCertificate: ClientCertificate?
    /// How a bearer token is obtained, if any.
    public var credential: Credential
    /// The namespace of the selected context (or of the service account in-cluster).
    public var namespace: String
    /// Which source this connection came from, e.g. `kubeconfig /home/me/.kube/config (context kind)`.
    public var source: String
    /// The `User-Agent` sent with every request, e.g. `tide-operator/0.1`.
    public var userAgent: String = "tide/0.1"

    public init(
        server: URL, certificateAuthorityPEM: [UInt8]? = nil, insecureSkipTLSVerify: Bool = false,
        clientCertificate: ClientCertificate? = nil, credential: Credential = .none, namespace: String = "default",
        source: String = "explicit"
    ) {
        self.server = server
        self.certificateAuthorityPEM = certificateAuthorityPEM
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.clientCertificate = clientCertificate
        self.credential = credential
        self.namespace = namespace
        self.source = source
    }

    public struct ClientCertificate: Sendable {
        public var certificatePEM: [UInt8]
        public var keyPEM: [UInt8]

        public init(certificatePEM: [UInt8], keyPEM: [UInt8]) {
            self.certificatePEM = certificatePEM
            self.keyPEM = keyPEM
        }
    }

    public var description: String {
        var auth: [String] = []
        if clientCertificate != nil { auth.append("client certificate") }
        switch credential {
        case .none: break
        case .token: auth.append("bearer token")
        case .tokenFile(let source): auth.append("token file \(source.path)")
        case .exec(let plugin): auth.append("exec plugin \(plugin.configuration.command)")
        }
        let tls = insecureSkipTLSVerify ? "TLS unverified" : (certificateAuthorityPEM == nil ? "system CAs" : "cluster CA")
        return "\(server.absoluteString) [\(tls); \(auth.isEmpty ? "anonymous" : auth.joined(separator: ", "))] from \(source)"
    }
}

extension ClusterConnection {
    /// The exec credential plugin, when the credential is one.
    var exec: ExecCredentialPlugin? {
        if case .exec(let plugin) = credential { return plugin }
        return nil
    }
}

/// How Tide authenticates with a bearer token.
public enum Credential: Sendable {
    case none
    /// A fixed token (kubeconfig `token`).
    case token(RedactedString)
    /// A token read from a file and re-read periodically (kubeconfig `tokenFile`, the
    /// in-cluster service-account token, which the kubelet rotates).
    case tokenFile(TokenFile)
    /// A token from a kubeconfig `exec` credential plugin, cached until it expires and
    /// fetched again after a 401.
    case exec(ExecCredentialPlugin)
}

/// A string that never prints its value (tokens).
public struct RedactedString: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}

/// A token file that is re-read at most every `refreshInterval`, so a rotated
/// service-account token is picked up without a restart.
public final class TokenFile: Sendable {
    public let path: String
    public let refreshInterval: Duration
    private let cached: Mutex<(token: RedactedString, readAt: ContinuousClock.Instant)?>

    public init(path: String, refreshInterval: Duration = .seconds(60)) {
        self.path = path
        self.refreshInterval = refreshInterval
        self.cached = Mutex(nil)
    }

    /// The current token.
    ///
    /// - Throws: ``KubeConfigError`` if the file cannot be read or is empty. A read
    ///   failure after an earlier success keeps the last good token.
    public func token() throws -> RedactedString {
        let now = ContinuousClock.now
        if let cached = cached.withLock({ $0 }), now - cached.readAt < refreshInterval {
            return cached.token
        }
        do {
            let text = try String(contentsOfFile: path, encoding: .utf8)
                .trimmingWhitespace()
            guard !text.isEmpty else {
                throw KubeConfigError.invalid(source: "token file \(path)", reason: "the file is empty")
            }
            let token = RedactedString(text)
            cached.withLock { $0 = (token, now) }
            return token
        } catch {
            if let previous = cached.withLock({ $0 }) { return previous.token }
            if let error = error as? KubeConfigError { throw error }
            throw KubeConfigError.invalid(source: "token file \(path)", reason: "cannot be read")
        }
    }
}
