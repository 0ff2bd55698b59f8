#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeCertificates
import NIOCore
import NIOSSL
import Synchronization

/// The certificate an HTTPS endpoint serves right now, swapped without a restart: every
/// TLS handshake reads the current pair, so a renewed or rewritten certificate is served
/// from the next connection on, and open connections are not dropped.
///
/// Two sources, as kubebuilder's metrics server has them:
/// - ``Source/files(certificate:key:)``: PEM files (a mounted cert-manager Secret),
///   re-read by ``refresh(now:)`` when they change; a half-written or broken pair is
///   refused and the served one kept;
/// - ``Source/selfSigned(commonName:names:lifetime:)``: minted at start, in memory only,
///   and minted again by ``refresh(now:)`` once two thirds of its lifetime has passed.
public final class ServedCertificate: Sendable {
    public enum Source: Sendable, Hashable {
        case files(certificate: String, key: String)
        case selfSigned(commonName: String, names: [String], lifetime: TimeInterval)
    }

    public enum Failure: Error, Hashable, CustomStringConvertible {
        case unreadable(path: String)
        case unusable(String)

        public var description: String {
            switch self {
            case .unreadable(let path): return "cannot read \(path)"
            case .unusable(let why): return why
            }
        }
    }

    /// A certificate chain and its key, PEM.
    public struct Pair: Sendable, Hashable {
        public var certificateChainPEM: String
        public var keyPEM: String

        public init(certificateChainPEM: String, keyPEM: String) {
            self.certificateChainPEM = certificateChainPEM
            self.keyPEM = keyPEM
        }
    }

    struct Current: Sendable {
        var pair: Pair
        var chain: [NIOSSLCertificate]
        var key: NIOSSLPrivateKey
        var since: Date
    }

    public let source: Source
    private let current: Mutex<Current>

    /// Loads or mints the first pair; throws when the files cannot be read or do not hold
    /// a usable pair.
    public init(source: Source, now: Date = Date()) throws {
        self.source = source
        let pair = try Self.pair(from: source)
        current = Mutex(try Self.parse(pair, since: now))
    }

    /// Serves `pair` from the first handshake on.
    public init(pair: Pair, now: Date = Date()) throws {
        self.source = .files(certificate: "", key: "")
        current = Mutex(try Self.parse(pair, since: now))
    }

    /// The pair served now.
    public var pair: Pair { current.withLock { $0.pair } }
    /// When the pair served now was loaded or minted.
    public var since: Date { current.withLock { $0.since } }
    /// When the served certificate expires (Unix seconds).
    public var notValidAfter: Double? { current.withLock { $0.chain.first.map { Double($0.notValidAfter) } } }

    /// Serves `pair` from the next handshake on; throws (and keeps the old one) if it does
    /// not parse.
    public func replace(_ pair: Pair, now: Date = Date()) throws {
        let parsed = try Self.parse(pair, since: now)
        current.withLock { $0 = parsed }
    }

    /// Re-reads changed files, or mints a new self-signed pair when due. Returns what
    /// changed, for the log, or `nil` when nothing did; throws when changed files do not
    /// hold a usable pair (the served one is kept).
    @discardableResult
    public func refresh(now: Date = Date()) throws -> String? {
        switch source {
        case .files(let certificate, let key):
            guard !certificate.isEmpty else { return nil }
            let pair = try Self.pair(from: source)
            guard pair != self.pair else { return nil }
            try replace(pair, now: now)
            return "reloaded the serving certificate from \(certificate) and \(key)"
        case .selfSigned(_, _, let lifetime):
            guard now.timeIntervalSince(since) >= lifetime * 2 / 3 else { return nil }
            try replace(try Self.pair(from: source), now: now)
            return "minted a new self-signed serving certificate"
        }
    }

    /// The server's TLS configuration; the current pair is chosen per handshake.
    public func tlsConfiguration() -> TLSConfiguration {
        let (chain, key) = current.withLock { ($0.chain, $0.key) }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
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

    static func pair(from source: Source) throws -> Pair {
        switch source {
        case .files(let certificate, let key):
            return try read(certificate: certificate, key: key)
        case .selfSigned(let commonName, let names, let lifetime):
            let authority = try CertificateAuthority(commonName: "\(commonName)-ca@\(Int(Date().timeIntervalSince1970))")
            let addresses = names.compactMap(IPAddressText.bytes)
            let leaf = try authority.issueServerCertificate(
                commonName: commonName, dnsNames: names.filter { IPAddressText.bytes($0) == nil }, ipAddresses: addresses, lifetime: lifetime)
            return Pair(certificateChainPEM: leaf.certificatePEM, keyPEM: leaf.keyPEM)
        }
    }

    /// The pair in PEM files `certificate` and `key`, unchecked.
    public static func read(certificate: String, key: String) throws(Failure) -> Pair {
        guard let chain = FileManager.default.contents(atPath: certificate) else { throw Failure.unreadable(path: certificate) }
        guard let keyPEM = FileManager.default.contents(atPath: key) else { throw Failure.unreadable(path: key) }
        return Pair(certificateChainPEM: String(decoding: chain, as: UTF8.self), keyPEM: String(decoding: keyPEM, as: UTF8.self))
    }

    static func parse(_ pair: Pair, since: Date) throws -> Current {
        guard let chain = try? NIOSSLCertificate.fromPEMBytes(Array(pair.certificateChainPEM.utf8)), !chain.isEmpty else {
            throw Failure.unusable("the certificate file holds no PEM certificate")
        }
        guard let key = try? NIOSSLPrivateKey(bytes: Array(pair.keyPEM.utf8), format: .pem) else {
            throw Failure.unusable("the key file holds no PEM private key")
        }
        return Current(pair: pair, chain: chain, key: key, since: since)
    }
}

/// Dotted IPv4 text as the 4 bytes a certificate's IP address names.
enum IPAddressText {
    static func bytes(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        let bytes = parts.compactMap { UInt8($0) }
        return bytes.count == 4 ? bytes : nil
    }
}
