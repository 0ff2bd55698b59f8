#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import KubeAPIExtensions
import KubeCertificates
import KubeClient
import KubeProbes

/// Where the adapter's serving certificate comes from: files (a mounted Secret in the
/// layout cert-manager writes: `tls.crt`, `tls.key`), or minted at start for the
/// adapter's Service with its CA published in the APIService's `caBundle`.
public enum ServingCertificate {
    public enum Failure: Error, Hashable, CustomStringConvertible {
        case unreadable(path: String)
        case heldByAnother(apiService: String, service: String)
        case notRegistered(apiService: String)
        case unusable(String)

        public var description: String {
            switch self {
            case .unreadable(let path): return "cannot read \(path)"
            case .heldByAnother(let apiService, let service):
                return "APIService \(apiService) is served by \(service), not by this adapter; Tide will not take it over "
                    + "(only one server can hold it: remove the other one first if Tide should serve it)"
            case .unusable(let why): return why
            case .notRegistered(let apiService):
                return "APIService \(apiService) does not exist: apply the metrics-adapter component of config/ first"
            }
        }
    }

    /// The identity in `certificateFile` and `keyFile` (PEM).
    public static func load(certificateFile: String, keyFile: String) throws -> MetricsAdapterServer.ServingIdentity {
        do {
            return try ServedCertificate.read(certificate: certificateFile, key: keyFile)
        } catch .unreadable(let path) {
            throw Failure.unreadable(path: path)
        } catch {
            throw Failure.unusable(error.description)
        }
    }

    /// A new CA and a certificate it signs for `service` in `namespace`: the names the
    /// aggregator dials (`<service>.<namespace>.svc`), plus any `extraNames`.
    public static func mint(
        service: String, namespace: String, extraNames: [String] = [], ipAddresses: [[UInt8]] = [], lifetime: TimeInterval = 30 * 86_400
    ) throws -> (identity: MetricsAdapterServer.ServingIdentity, caPEM: String) {
        let authority = try CertificateAuthority(commonName: "tide-metrics-adapter-ca@\(Int(Date().timeIntervalSince1970))")
        let names = [service, "\(service).\(namespace)", "\(service).\(namespace).svc", "\(service).\(namespace).svc.cluster.local"] + extraNames
        let leaf = try authority.issueServerCertificate(commonName: "\(service).\(namespace).svc", dnsNames: names, ipAddresses: ipAddresses, lifetime: lifetime)
        return (.init(certificateChainPEM: leaf.certificatePEM, keyPEM: leaf.keyPEM), authority.certificatePEM)
    }

    /// Mints the adapter's serving certificates and publishes their CA: the first at
    /// start, then each renewal.
    public struct Minter: Sendable {
        public var service: String
        public var namespace: String
        public var extraNames: [String] = []
        public var extraAddresses: [[UInt8]] = []
        /// How long a minted certificate is valid.
        public var lifetime: TimeInterval = 30 * 86_400
        /// The APIService whose `caBundle` follows the minted CA; `nil` publishes nothing.
        public var apiService: String?
        /// APIServices that get the CA too when they name this adapter's Service (the
        /// `custom.metrics.k8s.io` ones); one that another server holds, or that does
        /// not exist, is passed to `onSkipped` and left as it is.
        public var optionalAPIServices: [String] = []
        public var onSkipped: @Sendable (String, any Error) -> Void = { _, _ in }

        public init(service: String, namespace: String) {
            self.service = service
            self.namespace = namespace
        }

        /// A new certificate and its CA, the CA published first: beside `previousCA` (the
        /// CA of the certificate served until now), so the aggregator trusts both sides
        /// of the switch.
        public func mint(client: KubeClient, previousCA: String?) async throws -> (identity: MetricsAdapterServer.ServingIdentity, caPEM: String) {
            let minted = try ServingCertificate.mint(
                service: service, namespace: namespace, extraNames: extraNames, ipAddresses: extraAddresses, lifetime: lifetime)
            if let apiService {
                let bundle = ([minted.caPEM] + (previousCA.map { [$0] } ?? [])).map { $0.trimmingWhitespace() + "\n" }.joined()
                try await ServingCertificate.publish(caPEM: bundle, apiService: apiService, namespace: namespace, service: service, client: client)
                await publishOptional(caPEM: bundle, client: client)
            }
            return minted
        }

        /// Publishes `caPEM` into each optional APIService that names this adapter's
        /// Service (nothing to write where it is there already); the others go to
        /// `onSkipped`. Run at start and at every look, so APIServices applied later
        /// are served too.
        public func publishOptional(caPEM: String, client: KubeClient) async {
            for optional in optionalAPIServices {
                do {
                    try await ServingCertificate.publish(caPEM: caPEM, apiService: optional, namespace: namespace, service: service, client: client)
                } catch {
                    onSkipped(optional, error)
                }
            }
        }
    }

    /// Whether `apiService` is this adapter's to update: it must name Service
    /// `service` in `namespace`.
    public static func checkOwnership(_ apiService: APIService, namespace: String, service: String) throws {
        let name = apiService.name
        guard let reference = apiService.spec?.service else {
            throw Failure.heldByAnother(apiService: name, service: "kube-apiserver itself (no spec.service)")
        }
        guard reference.namespace == namespace, reference.name == service else {
            throw Failure.heldByAnother(apiService: name, service: "Service \(reference.namespace ?? "")/\(reference.name ?? "")")
        }
    }

    /// Publishes `caPEM` (one CA, or several concatenated while a renewal switches
    /// over) as the `caBundle` of APIService `name`, after checking that it names this
    /// adapter's Service. Never creates or takes over an APIService.
    public static func publish(caPEM: String, apiService name: String, namespace: String, service: String, client: KubeClient) async throws {
        let apiServices = client.clusterScoped(APIService.self)
        guard let current = try await apiServices.getIfPresent(name) else { throw Failure.notRegistered(apiService: name) }
        try checkOwnership(current, namespace: namespace, service: service)
        let bundle = Data(caPEM.utf8).base64EncodedString()
        guard current.spec?.caBundle != bundle else { return }
        _ = try await apiServices.mergePatch(name, patch: ["spec": ["caBundle": .string(bundle), "insecureSkipTLSVerify": .null]])
    }
}
