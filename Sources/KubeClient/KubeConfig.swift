#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import KubeAPI

/// The parts of a kubeconfig file Tide reads (`clusters`, `users`, `contexts`,
/// `current-context`). Unknown fields are ignored, as kubectl does.
public struct KubeConfigFile: Sendable, Hashable, Decodable {
    public var clusters: [NamedCluster]
    public var users: [NamedUser]
    public var contexts: [NamedContext]
    public var currentContext: String?

    public init(
        clusters: [NamedCluster] = [], users: [NamedUser] = [], contexts: [NamedContext] = [],
        currentContext: String? = nil
    ) {
        self.clusters = clusters
        self.users = users
        self.contexts = contexts
        self.currentContext = currentContext
    }

    private enum CodingKeys: String, CodingKey {
        case clusters, users, contexts
        case currentContext = "current-context"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        clusters = try container.decodeIfPresent([NamedCluster].self, forKey: .clusters) ?? []
        users = try container.decodeIfPresent([NamedUser].self, forKey: .users) ?? []
        contexts = try container.decodeIfPresent([NamedContext].self, forKey: .contexts) ?? []
        currentContext = try container.decodeIfPresent(String.self, forKey: .currentContext)
    }

    public struct NamedCluster: Sendable, Hashable, Decodable {
        public var name: String
        public var cluster: Cluster
    }

    public struct Cluster: Sendable, Hashable, Decodable {
        public var server: String?
        public var certificateAuthority: String?
        public var certificateAuthorityData: String?
        public var insecureSkipTLSVerify: Bool?
        public var tlsServerName: String?

        private enum CodingKeys: String, CodingKey {
            case server
            case certificateAuthority = "certificate-authority"
            case certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
            case tlsServerName = "tls-server-name"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            server = try container.decodeIfPresent(String.self, forKey: .server)
            certificateAuthority = try container.decodeIfPresent(String.self, forKey: .certificateAuthority)
            certificateAuthorityData = try container.decodeIfPresent(String.self, forKey: .certificateAuthorityData)
            tlsServerName = try container.decodeIfPresent(String.self, forKey: .tlsServerName)
            // YAML scalars arrive as text; JSON kubeconfigs carry a real boolean.
            if let flag = try? container.decodeIfPresent(Bool.self, forKey: .insecureSkipTLSVerify) {
                insecureSkipTLSVerify = flag
            } else if let text = try container.decodeIfPresent(String.self, forKey: .insecureSkipTLSVerify) {
                switch text {
                case "true", "True", "TRUE": insecureSkipTLSVerify = true
                case "false", "False", "FALSE": insecureSkipTLSVerify = false
                default:
                    throw DecodingError.dataCorruptedError(
                        forKey: .insecureSkipTLSVerify, in: container, debugDescription: "expected true or false")
                }
            } else {
                insecureSkipTLSVerify = nil
            }
        }
    }

    public struct NamedUser: Sendable, Hashable, Decodable {
        public var name: String
        public var user: User
    }

    public struct User: Sendable, Hashable, Decodable {
        public var clientCertificate: String?
        public var clientCertificateData: String?
        public var clientKey: String?
        public var clientKeyData: String?
        public var token: String?
        public var tokenFile: String?
        public var username: String?
        public var exec: ExecCredentialPlugin.Configuration?
        public var authProvider: JSONValueBox?

        private enum CodingKeys: String, CodingKey {
            case clientCertificate = "client-certificate"
            case clientCertificateData = "client-certificate-data"
            case clientKey = "client-key"
            case clientKeyData = "client-key-data"
            case token, tokenFile, username, exec
            case authProvider = "auth-provider"
        }
    }

    public struct NamedContext: Sendable, Hashable, Decodable {
        public var name: String
        public var context: Context
    }

    public struct Context: Sendable, Hashable, Decodable {
        public var cluster: String
        public var user: String?
        public var namespace: String?
    }

    /// Marks that a section is present without modelling it.
    public struct JSONValueBox: Sendable, Hashable, Decodable {
        public init(from decoder: any Decoder) throws {}
    }

    /// Parses a kubeconfig (YAML or JSON, see ``KubeConfigYAML`` for the YAML read).
    /// Relative file paths inside stay relative; see ``KubeConfigLoader`` for how they
    /// are resolved.
    public static func parse(_ yaml: String) throws -> KubeConfigFile {
        let document = try KubeConfigYAML.parse(yaml)
        if document == .null { return KubeConfigFile() }
        return try document.decode(as: KubeConfigFile.self)
    }

    /// Merges `other` under `self` with kubectl's rule: the first file to define a
    /// name (or the current context) wins.
    public func merged(with other: KubeConfigFile) -> KubeConfigFile {
        var result = self
        for cluster in other.clusters where !result.clusters.contains(where: { $0.name == cluster.name }) {
            result.clusters.append(cluster)
        }
        for user in other.users where !result.users.contains(where: { $0.name == user.name }) {
            result.users.append(user)
        }
        for context in other.contexts where !result.contexts.contains(where: { $0.name == context.name }) {
            result.contexts.append(context)
        }
        if (result.currentContext ?? "").isEmpty { result.currentContext = other.currentContext }
        return result
    }
}

extension KubeConfigFile {
    /// Writes a kubeconfig with one cluster and one bearer-token user, readable only
    /// by its owner (the token is a secret). For running a binary as a ServiceAccount.
    public static func writeTokenKubeconfig(server: URL, certificateAuthorityPath: String, token: String, to url: URL) throws {
        let text = """
            apiVersion: v1
            kind: Config
            clusters:
            - name: cluster
              cluster: {server: \(server.absoluteString), certificate-authority: \(certificateAuthorityPath)}
            users:
            - name: token
              user: {token: \(token)}
            contexts:
            - name: cluster
              context: {cluster: cluster, user: token}
            current-context: cluster
            """
        try text.write(to: url, atomically: true, encoding: .utf8)
        chmod(url.path, 0o600)
    }
}
