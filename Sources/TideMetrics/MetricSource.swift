import AsyncHTTPClient
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOSSL
import TideAPI
import NIOCore

/// How a source authenticates. Values never appear in logs or errors.
public enum SourceCredentials: Sendable, Hashable {
    case none
    case bearer(String)
    case basic(username: String, password: String)

    /// The `Authorization` header value, if any.
    var authorization: String? {
        switch self {
        case .none: return nil
        case .bearer(let token): return "Bearer \(token)"
        case .basic(let username, let password): return "Basic \(Data("\(username):\(password)".utf8).base64EncodedString())"
        }
    }
}

/// What a source needs besides its spec, already read from Secrets or files.
public struct SourceSecrets: Sendable, Hashable {
    public var credentials: SourceCredentials
    /// The CA to trust instead of the system roots.
    public var caPEM: [UInt8]?
    /// Header values from Secrets, by header name as the spec spells it.
    public var headers: [String: String]

    public init(credentials: SourceCredentials = .none, caPEM: [UInt8]? = nil, headers: [String: String] = [:]) {
        self.credentials = credentials
        self.caPEM = caPEM
        self.headers = headers
    }
}

/// Something a metric is read from. Each kind lives in its own file
/// (``PrometheusQuerySource``, ``HTTPJSONSource``); ``MetricSources/make(_:secrets:)``
/// builds the one a spec names.
public protocol MetricSource: Sendable {
    /// Reads the metric once. Never throws: every failure is `.unavailable` with a
    /// reason a user can act on.
    func read() async -> MetricReading
    /// Releases connections. Call once, after the last read.
    func shutdown() async
}

public enum MetricSources {
    /// The source a metric's spec names, with its timeout and secrets.
    public static func make(_ spec: MetricSourceSpec, secrets: SourceSecrets) throws -> any MetricSource {
        let timeout = DurationText.parse(spec.timeout ?? Defaults.queryTimeout) ?? .seconds(5)
        switch spec {
        case .prometheus(let source): return try PrometheusQuerySource(source, timeout: timeout, secrets: secrets)
        case .http(let source): return try HTTPJSONSource(source, timeout: timeout, secrets: secrets)
        }
    }
}

extension HTTPClient {
    /// A client for one metric source: bounded connect and read times, no retried
    /// connections, TLS verified against the system roots or `caPEM`, no redirects
    /// followed (a source decides which it follows).
    static func forMetricSource(timeout: Duration, caPEM: [UInt8]?) throws -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(max(1, timeout.components.seconds)))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.redirectConfiguration = .disallow
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caPEM { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(caPEM)) }
        configuration.tlsConfiguration = tls
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }
}

/// A transport error in words, for any source: TLS problems and refused connections
/// said plainly.
func describeTransportError(_ error: any Error) -> String {
    if let error = error as? NIOSSLError { return "TLS: \(error)" }
    if let error = error as? BoringSSLError { return "TLS: \(error)" }
    let text = "\(error)"
    if text.contains("Connection refused") || text.contains("errno: 111") { return "connection refused" }
    return text
}
