#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import KubeClient
import KubeProbes
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
    struct FrontProxy: Sendable {
        var authenticator: RequestHeaderAuthenticator
        var clientCAs: [Certificate]
    }

    /// The serving identity, swapped per handshake.
    let served: ServedCertificate
    private let frontProxy: Mutex<FrontProxy>

    public init(identity: MetricsAdapterServer.ServingIdentity, authenticator: RequestHeaderAuthenticator, now: Date = Date()) throws {
        served = try Self.adapterErrors { try ServedCertificate(pair: identity, now: now) }
        frontProxy = Mutex(FrontProxy(authenticator: authenticator, clientCAs: try Self.certificates(authenticator.clientCAPEM)))
    }

    /// The adapter's errors for an unusable pair (its callers and logs name them so).
    static func adapterErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch ServedCertificate.Failure.unusable(let why) {
            throw ServingCertificate.Failure.unusable(why)
        }
    }

    /// When the serving certificate in use expires (Unix seconds).
    public var notValidAfter: Double? { served.notValidAfter }

    static func certificates(_ pem: String) throws -> [Certificate] {
        guard let certificates = try? PEMDocument.parseMultiple(pemString: pem).map({ try Certificate(pemDocument: $0) }), !certificates.isEmpty
        else { throw ServingCertificate.Failure.unusable("the front-proxy client CA holds no certificate") }
        return certificates
    }

    public var identity: MetricsAdapterServer.ServingIdentity { served.pair }
    public var authenticator: RequestHeaderAuthenticator { frontProxy.withLock { $0.authenticator } }
    var since: Date { served.since }

    /// Serves `identity` from the next handshake on; throws (and keeps the old one) if it
    /// does not parse.
    public func replace(identity: MetricsAdapterServer.ServingIdentity, now: Date = Date()) throws {
        try Self.adapterErrors { try served.replace(identity, now: now) }
    }

    /// Authenticates with `authenticator` (its client CA) from the next request on.
    public func replace(authenticator: RequestHeaderAuthenticator) throws {
        let cas = try Self.certificates(authenticator.clientCAPEM)
        frontProxy.withLock { $0 = FrontProxy(authenticator: authenticator, clientCAs: cas) }
    }

    /// The server's TLS configuration: the current identity is chosen per handshake, and
    /// client certificates are verified against the current front-proxy CA.
    func tlsConfiguration() -> TLSConfiguration {
        var tls = served.tlsConfiguration()
        tls.certificateVerification = .optionalVerification
        return tls
    }

    /// Verifies a client's chain (leaf first) against the current front-proxy CA, as
    /// BoringSSL would against fixed trust roots.
    func verifyClient(_ presented: [NIOSSLCertificate]) async -> NIOSSLVerificationResult {
        guard let leafDER = try? presented.first?.toDERBytes(), let leaf = try? Certificate(derEncoded: leafDER) else { return .failed }
        let intermediates = presented.dropFirst().compactMap { try? Certificate(derEncoded: $0.toDERBytes()) }
        let roots = frontProxy.withLock { $0.clientCAs }
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
/// - a minted serving certificate is renewed at two thirds of its lifetime (see
///   ``ServingCertificate/Minter``: the new CA joins the APIService's `caBundle` beside
///   the current one before the new certificate is served);
/// - certificate files (a mounted cert-manager Secret) are re-read when they change; a
///   half-written or broken pair is logged and the old one kept;
/// - the front-proxy settings (`kube-system/extension-apiserver-authentication`) are
///   re-read, and a changed client CA is used from the next connection.
public struct CertificateRotation: ServiceLifecycle.Service {
    public enum Source: Sendable {
        /// Minted by `minter`; `caPEM` is the CA of the certificate served first.
        case minted(ServingCertificate.Minter, caPEM: String)
        /// Read from these files, re-read when they change.
        case files(certificate: String, key: String)
    }

    let material: TLSMaterial
    let source: Source
    let client: KubeClient
    /// How often files and the front-proxy settings are looked at.
    let checkInterval: Duration
    let logger: Logger

    public init(material: TLSMaterial, source: Source, client: KubeClient, checkInterval: Duration, logger: Logger) {
        self.material = material
        self.source = source
        self.client = client
        self.checkInterval = checkInterval
        self.logger = logger
    }

    public func run() async throws {
        var servedCA: String?
        if case .minted(_, let caPEM) = source { servedCA = caPEM }
        while true {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: checkInterval) }
            } catch {
                return
            }
            if Task.isShuttingDownGracefully || Task.isCancelled { return }
            switch source {
            case .minted(let minter, _):
                if let renewed = await renew(minter, servedCA: servedCA) { servedCA = renewed }
                if let servedCA { await minter.publishOptional(caPEM: servedCA, client: client) }
            case .files(let certificateFile, let keyFile):
                reload(certificateFile: certificateFile, keyFile: keyFile)
            }
            await refreshFrontProxy()
        }
    }

    /// Mints and serves a new certificate once two thirds of the current one's lifetime
    /// has passed; returns the new CA, or `nil` when it is not time yet or minting failed
    /// (logged, retried at the next look).
    func renew(_ minter: ServingCertificate.Minter, servedCA: String?) async -> String? {
        guard Date().timeIntervalSince(material.since) >= minter.lifetime * 2 / 3 else { return nil }
        do {
            let minted = try await minter.mint(client: client, previousCA: servedCA)
            try material.replace(identity: minted.identity)
            logger.info("renewed the serving certificate", metadata: ["lifetime": "\(Int(minter.lifetime)) s"])
            return minted.caPEM
        } catch {
            logger.warning("could not renew the serving certificate; serving the current one and retrying", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Serves the files' pair if it differs from the one served and is usable.
    func reload(certificateFile: String, keyFile: String) {
        let files = MetricsAdapterServer.ServingIdentity(
            certificateChainPEM: Self.read(certificateFile) ?? "", keyPEM: Self.read(keyFile) ?? "")
        guard files != material.identity else { return }
        do {
            try material.replace(identity: files)
            logger.info("reloaded the serving certificate from its files", metadata: ["certificate": "\(certificateFile)"])
        } catch {
            // cert-manager writes the two files one after the other: the next look
            // usually finds a matching pair.
            logger.warning(
                "the serving certificate files changed but do not hold a usable pair yet; serving the previous one",
                metadata: ["certificate": "\(certificateFile)", "error": "\(error)"])
        }
    }

    func refreshFrontProxy() async {
        do {
            let next = try await MetricsAdapter.authenticator(client)
            guard next != material.authenticator else { return }
            try material.replace(authenticator: next)
            logger.info("the front-proxy settings changed; using the new client CA from the next connection")
        } catch {
            logger.warning("could not re-read the front-proxy settings; keeping the current ones", metadata: ["error": "\(error)"])
        }
    }

    static func read(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }
}
