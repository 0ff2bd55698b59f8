#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import KubeClient
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import SwiftASN1
import Synchronization
import X509

/// The TLS material the adapter serves with right now: its serving identity and the
/// front-proxy settings (client CA, allowed names, headers).
///
/// Every TLS handshake and every request reads the current value, so a renewed
/// certificate, a rewritten certificate file or a new front-proxy CA takes effect on the
/// next connection, without a restart and without dropping the connections already open.
public final class TLSMaterial: Sendable {
    struct Current: Sendable {
        var identity: MetricsAdapterServer.ServingIdentity
        var chain: [NIOSSLCertificate]
        var key: NIOSSLPrivateKey
        var authenticator: RequestHeaderAuthenticator
        var clientCAs: [Certificate]
        /// When the identity was loaded or minted.
        var since: Date
    }

    private let current: Mutex<Current>

    public init(identity: MetricsAdapterServer.ServingIdentity, authenticator: RequestHeaderAuthenticator, now: Date = Date()) throws {
        current = Mutex(Current(
            identity: identity, chain: try Self.chain(identity), key: try Self.key(identity), authenticator: authenticator,
            clientCAs: try Self.certificates(authenticator.clientCAPEM), since: now))
    }

    static func chain(_ identity: MetricsAdapterServer.ServingIdentity) throws -> [NIOSSLCertificate] {
        let chain = try NIOSSLCertificate.fromPEMBytes(Array(identity.certificateChainPEM.utf8))
        guard !chain.isEmpty else { throw ServingCertificate.Failure.unusable("the certificate file holds no PEM certificate") }
        return chain
    }

    static func key(_ identity: MetricsAdapterServer.ServingIdentity) throws -> NIOSSLPrivateKey {
        try NIOSSLPrivateKey(bytes: Array(identity.keyPEM.utf8), format: .pem)
    }

    static func certificates(_ pem: String) throws -> [Certificate] {
        let certificates = try PEMDocument.parseMultiple(pemString: pem).map { try Certificate(pemDocument: $0) }
        guard !certificates.isEmpty else { throw ServingCertificate.Failure.unusable("the front-proxy client CA holds no certificate") }
        return certificates
    }

    public var identity: MetricsAdapterServer.ServingIdentity { current.withLock { $0.identity } }
    public var authenticator: RequestHeaderAuthenticator { current.withLock { $0.authenticator } }
    var since: Date { current.withLock { $0.since } }

    /// Serves `identity` from the next handshake on; throws (and keeps the old one) if it
    /// does not parse or the key does not belong to the certificate's kind.
    public func replace(identity: MetricsAdapterServer.ServingIdentity, now: Date = Date()) throws {
        let chain = try Self.chain(identity)
        let key = try Self.key(identity)
        current.withLock {
            $0.identity = identity
            $0.chain = chain
            $0.key = key
            $0.since = now
        }
    }

    /// Authenticates with `authenticator` (its client CA) from the next request on.
    public func replace(authenticator: RequestHeaderAuthenticator) throws {
        let cas = try Self.certificates(authenticator.clientCAPEM)
        current.withLock {
            $0.authenticator = authenticator
            $0.clientCAs = cas
        }
    }

    /// The server's TLS configuration: the current identity is chosen per handshake, and
    /// client certificates are verified against the current front-proxy CA.
    func tlsConfiguration() -> TLSConfiguration {
        let (chain, key) = current.withLock { ($0.chain, $0.key) }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.certificateVerification = .optionalVerification
        tls.minimumTLSVersion = .tlsv12
        tls.sslContextCallback = { [self] _, promise in
            var override = NIOSSLContextConfigurationOverride()
            let (chain, key) = current.withLock { ($0.chain, $0.key) }
            override.certificateChain = chain.map { .certificate($0) }
            override.privateKey = .privateKey(key)
            promise.succeed(override)
        }
        return tls
    }

    /// Verifies a client's chain (leaf first) against the current front-proxy CA, as
    /// BoringSSL would against fixed trust roots.
    func verifyClient(_ presented: [NIOSSLCertificate]) async -> NIOSSLVerificationResult {
        guard let leafDER = try? presented.first?.toDERBytes(), let leaf = try? Certificate(derEncoded: leafDER) else { return .failed }
        let intermediates = presented.dropFirst().compactMap { try? Certificate(derEncoded: $0.toDERBytes()) }
        let roots = current.withLock { $0.clientCAs }
        var verifier = Verifier(rootCertificates: CertificateStore(roots)) {
            RFC5280Policy()
        }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore(intermediates))
        if case .validCertificate = result { return .certificateVerified }
        return .failed
    }
}

/// Keeps the adapter's TLS material fresh, as a service beside the server:
///
/// - a minted serving certificate is renewed at two thirds of its lifetime, with a new
///   CA whose certificate joins the APIService's `caBundle` before the new certificate
///   is served (the bundle holds the new CA and the one before it, so the aggregator
///   trusts both sides of the switch);
/// - certificate files (a mounted cert-manager Secret) are re-read when they change; a
///   half-written or broken pair is logged and the old one kept;
/// - the front-proxy settings (`kube-system/extension-apiserver-authentication`) are
///   re-read, and a changed client CA is used from the next connection.
public struct CertificateRotation: ServiceLifecycle.Service {
    public enum Source: Sendable {
        /// Minted here: renewed before it expires, its CA published to the APIService.
        case minted(MintSettings)
        /// Read from files, re-read when they change.
        case files(certificate: String, key: String)
    }

    public struct MintSettings: Sendable {
        public var service: String
        public var namespace: String
        public var extraNames: [String] = []
        public var extraAddresses: [[UInt8]] = []
        /// How long a minted certificate is valid; it is renewed at two thirds of it.
        public var lifetime: TimeInterval = 30 * 86_400
        /// The APIService whose `caBundle` follows the minted CA; `nil` publishes nothing.
        public var apiService: String?
        /// The CA of the certificate being served (the first in the published bundle).
        public var caPEM: String

        public init(service: String, namespace: String, caPEM: String) {
            self.service = service
            self.namespace = namespace
            self.caPEM = caPEM
        }
    }

    let material: TLSMaterial
    let source: Source
    let client: KubeClient?
    /// How often files and the front-proxy settings are looked at.
    let checkInterval: Duration
    let logger: Logger

    public init(material: TLSMaterial, source: Source, client: KubeClient?, checkInterval: Duration, logger: Logger) {
        self.material = material
        self.source = source
        self.client = client
        self.checkInterval = checkInterval
        self.logger = logger
    }

    public func run() async throws {
        var mint: MintSettings?
        if case .minted(let settings) = source { mint = settings }
        var previousCA: String?
        var lastFiles: (String, String)?
        if case .files(let certificate, let key) = source {
            lastFiles = (Self.read(certificate) ?? "", Self.read(key) ?? "")
        }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: checkInterval) }
            } catch {
                return
            }
            if Task.isShuttingDownGracefully || Task.isCancelled { return }
            switch source {
            case .minted:
                guard var settings = mint else { break }
                let age = Date().timeIntervalSince(material.since)
                guard age >= settings.lifetime * 2 / 3 else { break }
                do {
                    let minted = try ServingCertificate.mint(
                        service: settings.service, namespace: settings.namespace, extraNames: settings.extraNames,
                        ipAddresses: settings.extraAddresses, lifetime: settings.lifetime)
                    if let apiService = settings.apiService, let client {
                        // Trust first, then serve: the bundle holds the new CA and the current one.
                        try await ServingCertificate.publish(
                            caPEM: Self.bundle(minted.caPEM, settings.caPEM), apiService: apiService, namespace: settings.namespace,
                            service: settings.service, client: client)
                    }
                    try material.replace(identity: minted.identity)
                    previousCA = settings.caPEM
                    settings.caPEM = minted.caPEM
                    mint = settings
                    logger.info(
                        "renewed the serving certificate",
                        metadata: ["lifetime": "\(Int(settings.lifetime)) s", "previousCAKept": "\(previousCA != nil)"])
                } catch {
                    logger.warning("could not renew the serving certificate; serving the current one and retrying", metadata: ["error": "\(error)"])
                }
            case .files(let certificateFile, let keyFile):
                let certificate = Self.read(certificateFile) ?? ""
                let key = Self.read(keyFile) ?? ""
                guard let last = lastFiles, (certificate, key) != last else { break }
                do {
                    try material.replace(identity: .init(certificateChainPEM: certificate, keyPEM: key))
                    lastFiles = (certificate, key)
                    logger.info("reloaded the serving certificate from its files", metadata: ["certificate": "\(certificateFile)"])
                } catch {
                    // cert-manager writes the two files one after the other: the next look
                    // usually finds a matching pair.
                    logger.warning(
                        "the serving certificate files changed but do not hold a usable pair yet; serving the previous one",
                        metadata: ["certificate": "\(certificateFile)", "error": "\(error)"])
                }
            }
            if let client { await refreshFrontProxy(client) }
        }
    }

    func refreshFrontProxy(_ client: KubeClient) async {
        do {
            let next = try await MetricsAdapter.authenticator(client)
            guard next != material.authenticator else { return }
            try material.replace(authenticator: next)
            logger.info("the front-proxy settings changed; using the new client CA from the next connection")
        } catch {
            logger.warning("could not re-read the front-proxy settings; keeping the current ones", metadata: ["error": "\(error)"])
        }
    }

    /// PEM certificates one after the other, each on lines of its own.
    static func bundle(_ certificates: String...) -> String {
        certificates.map { $0.trimmingWhitespace() + "\n" }.joined()
    }

    static func read(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }
}
