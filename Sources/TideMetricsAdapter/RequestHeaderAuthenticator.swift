#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI

/// A user as the aggregator vouches for it.
public struct UserInfo: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var groups: [String]
    public var extra: [String: [String]]

    public init(name: String, groups: [String] = [], extra: [String: [String]] = [:]) {
        self.name = name
        self.groups = groups
        self.extra = extra
    }

    public var description: String { groups.isEmpty ? name : "\(name) (groups \(groups.joined(separator: ", ")))" }
}

/// Authenticates requests the way every extension API server behind kube-apiserver's
/// aggregator does ("request-header" authentication): the connection's client
/// certificate must be signed by the front-proxy CA (checked by TLS) and, when the
/// cluster lists allowed names, carry one of them as its common name; the user and
/// groups are then read from the headers the cluster names (`X-Remote-User`,
/// `X-Remote-Group`, `X-Remote-Extra-*`).
///
/// The settings come from ConfigMap `kube-system/extension-apiserver-authentication`,
/// which kube-apiserver writes from its `--requestheader-*` flags.
public struct RequestHeaderAuthenticator: Sendable, Hashable {
    /// PEM of the CA that signs the aggregator's client certificate.
    public var clientCAPEM: String
    /// Common names a front-proxy certificate may carry; empty allows any the CA signed.
    public var allowedNames: [String]
    public var usernameHeaders: [String]
    public var groupHeaders: [String]
    public var extraHeaderPrefixes: [String]

    public static let configMapNamespace = "kube-system"
    public static let configMapName = "extension-apiserver-authentication"

    public enum ConfigurationError: Error, Hashable, CustomStringConvertible {
        case missingClientCA
        case notAJSONList(key: String)

        public var description: String {
            switch self {
            case .missingClientCA:
                return "ConfigMap kube-system/extension-apiserver-authentication has no requestheader-client-ca-file: "
                    + "kube-apiserver runs without --requestheader-client-ca-file, so it cannot front an aggregated API"
            case .notAJSONList(let key):
                return "ConfigMap kube-system/extension-apiserver-authentication key \(key) is not a JSON list of strings"
            }
        }
    }

    public init(clientCAPEM: String, allowedNames: [String], usernameHeaders: [String], groupHeaders: [String], extraHeaderPrefixes: [String]) {
        self.clientCAPEM = clientCAPEM
        self.allowedNames = allowedNames
        self.usernameHeaders = usernameHeaders
        self.groupHeaders = groupHeaders
        self.extraHeaderPrefixes = extraHeaderPrefixes
    }

    /// Reads the settings from the ConfigMap's data.
    public init(configMap data: [String: String]) throws {
        guard let ca = data["requestheader-client-ca-file"], !ca.trimmingWhitespace().isEmpty else { throw ConfigurationError.missingClientCA }
        func list(_ key: String, default fallback: [String]) throws -> [String] {
            guard let text = data[key], !text.trimmingWhitespace().isEmpty else { return fallback }
            guard let values = try? JSONDecoder().decode([String].self, from: Data(text.utf8)) else { throw ConfigurationError.notAJSONList(key: key) }
            return values
        }
        self.init(
            clientCAPEM: ca,
            allowedNames: try list("requestheader-allowed-names", default: []),
            usernameHeaders: try list("requestheader-username-headers", default: ["X-Remote-User"]),
            groupHeaders: try list("requestheader-group-headers", default: ["X-Remote-Group"]),
            extraHeaderPrefixes: try list("requestheader-extra-headers-prefix", default: ["X-Remote-Extra-"]))
    }

    /// Why a request is not authenticated. Each says what the client lacked, never
    /// a header's value.
    public enum Failure: Error, Hashable, CustomStringConvertible {
        case noClientCertificate
        case nameNotAllowed(String)
        case noUser

        public var description: String {
            switch self {
            case .noClientCertificate: return "no front-proxy client certificate: this API is served through kube-apiserver only"
            case .nameNotAllowed(let name): return "client certificate \(name.debugDescription) is not one of the allowed front-proxy names"
            case .noUser: return "the front proxy named no user"
            }
        }
    }

    /// The user a request speaks for.
    ///
    /// - Parameters:
    ///   - certificateCommonName: the common name of the verified client certificate,
    ///     or `nil` when the client presented none.
    ///   - headers: the request's headers, names in any case.
    public func authenticate(certificateCommonName: String?, headers: [(name: String, value: String)]) -> Result<UserInfo, Failure> {
        guard let commonName = certificateCommonName else { return .failure(.noClientCertificate) }
        if !allowedNames.isEmpty, !allowedNames.contains(commonName) { return .failure(.nameNotAllowed(commonName)) }
        func values(_ name: String) -> [String] {
            headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
        }
        guard let user = usernameHeaders.lazy.compactMap({ values($0).first }).first(where: { !$0.isEmpty }) else {
            return .failure(.noUser)
        }
        let groups = groupHeaders.flatMap { values($0) }
        // Extra keys arrive percent-encoded (`X-Remote-Extra-Acme.com%2Fproject`).
        var extra: [String: [String]] = [:]
        for prefix in extraHeaderPrefixes.map({ $0.lowercased() }) {
            for header in headers where header.name.lowercased().hasPrefix(prefix) {
                let key = PercentDecoding.decode(String(header.name.lowercased().dropFirst(prefix.count)))
                extra[key, default: []].append(header.value)
            }
        }
        return .success(UserInfo(name: user, groups: groups, extra: extra))
    }
}
