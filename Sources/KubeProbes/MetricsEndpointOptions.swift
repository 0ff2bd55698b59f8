import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeClient

/// The flags of a `/metrics` endpoint, the same for the operator and the metrics adapter
/// and named as kubebuilder v4 names them: `--metrics-bind-address` (`:8443`),
/// `--metrics-secure` (true: HTTPS, every scrape's token reviewed; false: plain HTTP,
/// open), `--metrics-cert-path` with `--metrics-cert-name` and `--metrics-cert-key` (a
/// mounted certificate, re-read when it changes; without it a self-signed one is minted
/// and renewed).
public struct MetricsEndpointOptions: ParsableArguments, Sendable {
    @Option(help: "Address of /metrics, host:port or :port; 0 disables.")
    public var metricsBindAddress = ":8443"

    @Option(help: "Serve /metrics over HTTPS and only to a token allowed 'get' on the /metrics URL (true), or over plain HTTP to anyone (false).")
    public var metricsSecure = true

    @Option(help: "Directory of the metrics serving certificate (e.g. a mounted cert-manager Secret); without it a self-signed one is minted and renewed.")
    public var metricsCertPath: String?

    @Option(help: "The certificate file in --metrics-cert-path.")
    public var metricsCertName = "tls.crt"

    @Option(help: "The key file in --metrics-cert-path.")
    public var metricsCertKey = "tls.key"

    public init() {}

    public func validate() throws {
        _ = try address()
        if let path = metricsCertPath, path.isEmpty { throw ValidationError("--metrics-cert-path must not be empty") }
        if !metricsSecure, metricsCertPath != nil {
            throw ValidationError("--metrics-cert-path needs --metrics-secure=true: plain HTTP serves no certificate")
        }
    }

    /// The bound address, or `nil` when disabled.
    public func address() throws -> (host: String, port: Int)? {
        do {
            return try BindAddress.parse(metricsBindAddress)
        } catch {
            throw ValidationError("--metrics-bind-address must be host:port, :port or 0, not '\(metricsBindAddress)'")
        }
    }

    /// How to serve: plain, or HTTPS whose scrapes `client`'s API server reviews, with the
    /// certificate from `--metrics-cert-path` or a self-signed one named `commonName`.
    public func security(client: KubeClient, commonName: String) throws -> MetricsServer.Security {
        guard metricsSecure else { return .plain }
        let source: ServedCertificate.Source
        if let directory = metricsCertPath {
            let base = URL(fileURLWithPath: directory)
            source = .files(certificate: base.appendingPathComponent(metricsCertName).path, key: base.appendingPathComponent(metricsCertKey).path)
        } else {
            source = .selfSigned(commonName: commonName, names: [commonName, "localhost", "127.0.0.1"], lifetime: 365 * 86_400)
        }
        return .secure(authorizer: MetricsAuthorizer(client: client), certificate: try ServedCertificate(source: source), refreshInterval: .seconds(30))
    }
}
