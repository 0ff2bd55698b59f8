import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SwiftASN1
import X509

/// A throw-away certificate authority: it signs server certificates (LocalKube's
/// HTTPS mode, the metrics adapter's generated serving certificate) and client
/// certificates for tests of mutual TLS. Keys are P-256 and live only in memory.
public struct CertificateAuthority: Sendable {
    /// A PEM certificate and its PEM (PKCS#8) private key.
    public struct Identity: Sendable {
        public var certificatePEM: String
        public var keyPEM: String
    }

    public let certificatePEM: String
    private let key: P256.Signing.PrivateKey
    private let name: DistinguishedName

    /// Mints a new CA named `commonName`.
    public init(commonName: String = "Tide LocalKube CA") throws {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(commonName) }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3_600), notValidAfter: now.addingTimeInterval(365 * 86_400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: .init(key))
        self.key = key
        self.name = name
        self.certificatePEM = try certificate.serializeAsPEM().pemString
    }

    /// A server certificate for the loopback names (`localhost`, `127.0.0.1`, `::1`).
    public func issueServerCertificate() throws -> Identity {
        try issueServerCertificate(
            commonName: "localkube", dnsNames: ["localhost"],
            ipAddresses: [[127, 0, 0, 1], [UInt8](repeating: 0, count: 15) + [1]])
    }

    /// A server certificate for `dnsNames` and `ipAddresses` (4 or 16 bytes each), valid
    /// for `lifetime` seconds from now (30 days unless given).
    public func issueServerCertificate(
        commonName: String, dnsNames: [String], ipAddresses: [[UInt8]] = [], lifetime: TimeInterval = 30 * 86_400
    ) throws -> Identity {
        try issue(
            commonName: commonName, usage: .serverAuth, lifetime: lifetime,
            names: dnsNames.map { .dnsName($0) } + ipAddresses.map { .ipAddress(ASN1OctetString(contentBytes: ArraySlice($0))) })
    }

    /// A client certificate for user `commonName` in `organizations` (Kubernetes groups).
    public func issueClientCertificate(commonName: String, organizations: [String] = []) throws -> Identity {
        try issue(commonName: commonName, organizations: organizations, usage: .clientAuth, names: [])
    }

    private func issue(
        commonName: String, organizations: [String] = [], usage: ExtendedKeyUsage.Usage, lifetime: TimeInterval = 30 * 86_400,
        names: [GeneralName]
    ) throws -> Identity {
        let leafKey = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            for organization in organizations { OrganizationName(organization) }
            CommonName(commonName)
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(leafKey.publicKey),
            notValidBefore: now.addingTimeInterval(-min(3_600, lifetime)), notValidAfter: now.addingTimeInterval(lifetime),
            issuer: name, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([usage])
                if !names.isEmpty { SubjectAlternativeNames(names) }
            },
            issuerPrivateKey: .init(key))
        return Identity(certificatePEM: try certificate.serializeAsPEM().pemString, keyPEM: leafKey.pemRepresentation)
    }
}
