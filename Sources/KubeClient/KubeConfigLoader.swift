#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOSSL
import KubeAPI

/// Why a configuration could not be loaded.
///
/// Messages name files, contexts and fields, never token or key contents.
public enum KubeConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    /// One source was present but unusable.
    case invalid(source: String, reason: String)
    /// No source produced a connection. Each attempt says what was tried and why it failed.
    case noUsableSource(attempts: [Attempt])

    public struct Attempt: Sendable, Hashable, CustomStringConvertible {
        public var source: String
        public var reason: String
        public var description: String { "\(source): \(reason)" }
    }

    public var description: String {
        switch self {
        case .invalid(let source, let reason):
            return "\(source): \(reason)"
        case .noUsableSource(let attempts):
            return "no usable Kubernetes configuration; tried "
                + attempts.map(\.description).joined(separator: "; ")
        }
    }
}

/// Finds and loads cluster configuration the way Kubernetes tools do.
///
/// Sources, in order (the controller-runtime order):
/// 1. an explicit kubeconfig path (`--kubeconfig`): used alone;
/// 2. `KUBECONFIG`, a colon-separated list of files merged with kubectl's rule (the
///    first file to set a value wins; listed files that do not exist are skipped);
/// 3. in-cluster: `KUBERNETES_SERVICE_HOST`/`KUBERNETES_SERVICE_PORT` and the mounted
///    service-account token, `ca.crt` and namespace;
/// 4. `~/.kube/config`.
///
/// A source that is absent is skipped; a source that is present but broken stops the
/// search with an error that lists every source tried and why each failed, so a typo
/// in `KUBECONFIG` never silently falls through to another cluster.
public struct KubeConfigLoader: Sendable {
    public var kubeconfigPath: String?
    public var context: String?
    public var environment: [String: String]
    public var homeDirectory: String
    /// Where the service-account files are mounted in a pod.
    public var serviceAccountDirectory: String

    public init(
        kubeconfigPath: String? = nil, context: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        homeDirectory: String = FilePaths.home,
        serviceAccountDirectory: String = "/var/run/secrets/kubernetes.io/serviceaccount"
    ) {
        self.kubeconfigPath = kubeconfigPath
        self.context = context
        self.environment = environment
        self.homeDirectory = homeDirectory
        self.serviceAccountDirectory = serviceAccountDirectory
    }

    /// Loads the first usable source.
    public func load() throws -> ClusterConnection {
        var attempts: [KubeConfigError.Attempt] = []
        func fail(_ source: String, _ error: any Error) -> KubeConfigError {
            let reason: String
            if case .invalid(_, let why) = error as? KubeConfigError { reason = why } else { reason = "\(error)" }
            attempts.append(.init(source: source, reason: reason))
            return .noUsableSource(attempts: attempts)
        }

        if let path = kubeconfigPath {
            let source = "--kubeconfig \(path)"
            do { return try loadKubeconfig(files: [path], requireAll: true) } catch { throw fail(source, error) }
        }

        if let list = environment["KUBECONFIG"], !list.isEmpty {
            let files = list.split(separator: ":").map(String.init).filter { !$0.isEmpty }
            let source = "KUBECONFIG=\(list)"
            let existing = files.filter { FileManager.default.fileExists(atPath: $0) }
            if existing.isEmpty {
                attempts.append(.init(source: source, reason: "none of the listed files exists"))
            } else {
                do { return try loadKubeconfig(files: existing, requireAll: false) } catch { throw fail(source, error) }
            }
        } else {
            attempts.append(.init(source: "KUBECONFIG", reason: "not set"))
        }

        if let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty {
            let source = "in-cluster"
            do { return try loadInCluster(host: host) } catch { throw fail(source, error) }
        } else {
            attempts.append(.init(source: "in-cluster", reason: "KUBERNETES_SERVICE_HOST not set"))
        }

        let home = FilePaths.join(homeDirectory, ".kube/config")
        if FileManager.default.fileExists(atPath: home) {
            do { return try loadKubeconfig(files: [home], requireAll: true) } catch { throw fail(home, error) }
        }
        attempts.append(.init(source: home, reason: "file does not exist"))
        throw KubeConfigError.noUsableSource(attempts: attempts)
    }

    /// Loads and merges kubeconfig files, then resolves the selected context.
    public func loadKubeconfig(files: [String], requireAll: Bool) throws -> ClusterConnection {
        var merged = KubeConfigFile()
        // Each entry remembers the directory of the file that defined it, for relative paths.
        var directoryOfCluster: [String: String] = [:]
        var directoryOfUser: [String: String] = [:]
        for file in files {
            guard FileManager.default.fileExists(atPath: file) else {
                if requireAll { throw KubeConfigError.invalid(source: file, reason: "file does not exist") }
                continue
            }
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw KubeConfigError.invalid(source: file, reason: "file cannot be read as UTF-8 text")
            }
            let parsed: KubeConfigFile
            do {
                parsed = try KubeConfigFile.parse(text)
            } catch {
                throw KubeConfigError.invalid(source: file, reason: "not a valid kubeconfig YAML document (\(Self.describe(error)))")
            }
            let directory = FilePaths.directory(of: file)
            for cluster in parsed.clusters where directoryOfCluster[cluster.name] == nil {
                directoryOfCluster[cluster.name] = directory
            }
            for user in parsed.users where directoryOfUser[user.name] == nil {
                directoryOfUser[user.name] = directory
            }
            merged = merged.merged(with: parsed)
        }
        let sourceName = files.joined(separator: ":")
        return try resolve(
            merged, source: sourceName, clusterDirectory: { directoryOfCluster[$0] ?? "." },
            userDirectory: { directoryOfUser[$0] ?? "." })
    }

    /// Resolves the selected context of a parsed kubeconfig into a connection.
    public func resolve(
        _ config: KubeConfigFile, source: String, clusterDirectory: (String) -> String = { _ in "." },
        userDirectory: (String) -> String = { _ in "." }
    ) throws -> ClusterConnection {
        guard let contextName = context ?? config.currentContext, !contextName.isEmpty else {
            throw KubeConfigError.invalid(
                source: source, reason: "no current-context is set and no --context was given")
        }
        guard let namedContext = config.contexts.first(where: { $0.name == contextName }) else {
            let known = config.contexts.map(\.name).joined(separator: ", ")
            throw KubeConfigError.invalid(
                source: source, reason: "context '\(contextName)' not found (known contexts: \(known.isEmpty ? "none" : known))")
        }
        let ctx = namedContext.context
        guard let cluster = config.clusters.first(where: { $0.name == ctx.cluster })?.cluster else {
            throw KubeConfigError.invalid(
                source: source, reason: "context '\(contextName)' refers to cluster '\(ctx.cluster)', which is not defined")
        }
        guard let serverText = cluster.server, let server = URL(string: serverText),
            let scheme = server.scheme, ["http", "https"].contains(scheme), server.host != nil
        else {
            throw KubeConfigError.invalid(
                source: source, reason: "cluster '\(ctx.cluster)' has no valid server URL (\(cluster.server ?? "missing"))")
        }
        let clusterDir = clusterDirectory(ctx.cluster)
        var caPEM: [UInt8]?
        if let data = cluster.certificateAuthorityData {
            caPEM = try Self.decodeBase64(data, what: "cluster '\(ctx.cluster)' certificate-authority-data", source: source)
        } else if let path = cluster.certificateAuthority {
            caPEM = try Self.readFile(
                Self.absolute(path, relativeTo: clusterDir), what: "cluster '\(ctx.cluster)' certificate-authority",
                source: source)
        }
        if let caPEM {
            try Self.validateCertificates(caPEM, what: "cluster '\(ctx.cluster)' certificate authority", source: source)
        }

        var clientCertificate: ClusterConnection.ClientCertificate?
        var credential = Credential.none
        if let userName = ctx.user, !userName.isEmpty {
            guard let user = config.users.first(where: { $0.name == userName })?.user else {
                throw KubeConfigError.invalid(
                    source: source, reason: "context '\(contextName)' refers to user '\(userName)', which is not defined")
            }
            let userDir = userDirectory(userName)
            if user.authProvider != nil {
                throw KubeConfigError.invalid(
                    source: source,
                    reason: "user '\(userName)' uses an auth-provider plugin, which kubectl itself no longer runs; "
                        + "use the provider's exec plugin (for example gke-gcloud-auth-plugin or kubelogin), a token or a client certificate")
            }
            let what = "user '\(userName)'"
            var certPEM: [UInt8]?
            var keyPEM: [UInt8]?
            if let data = user.clientCertificateData {
                certPEM = try Self.decodeBase64(data, what: "\(what) client-certificate-data", source: source)
            } else if let path = user.clientCertificate {
                certPEM = try Self.readFile(Self.absolute(path, relativeTo: userDir), what: "\(what) client-certificate", source: source)
            }
            if let data = user.clientKeyData {
                keyPEM = try Self.decodeBase64(data, what: "\(what) client-key-data", source: source)
            } else if let path = user.clientKey {
                keyPEM = try Self.readFile(Self.absolute(path, relativeTo: userDir), what: "\(what) client-key", source: source)
            }
            switch (certPEM, keyPEM) {
            case (let cert?, let key?):
                try Self.validateCertificates(cert, what: "\(what) client certificate", source: source)
                do {
                    _ = try NIOSSLPrivateKey(bytes: key, format: .pem)
                } catch {
                    throw KubeConfigError.invalid(source: source, reason: "\(what) client key is not a valid PEM private key")
                }
                clientCertificate = .init(certificatePEM: cert, keyPEM: key)
            case (nil, nil):
                break
            default:
                throw KubeConfigError.invalid(
                    source: source, reason: "\(what) sets a client certificate or a client key but not both")
            }
            if let exec = user.exec {
                guard ExecCredentialPlugin.versions.contains(exec.apiVersion) else {
                    throw KubeConfigError.invalid(source: source, reason: "\(what): \(ExecCredentialPlugin.Failure.unsupportedVersion(exec.apiVersion))")
                }
                credential = .exec(ExecCredentialPlugin(exec, directory: userDir))
            } else if let token = user.token, !token.isEmpty {
                credential = .token(RedactedString(token))
            } else if let tokenFile = user.tokenFile, !tokenFile.isEmpty {
                let path = Self.absolute(tokenFile, relativeTo: userDir)
                let file = TokenFile(path: path)
                do { _ = try file.token() } catch {
                    throw KubeConfigError.invalid(source: source, reason: "\(what) tokenFile \(path) cannot be read or is empty")
                }
                credential = .tokenFile(file)
            }
        }
        return ClusterConnection(
            server: server, certificateAuthorityPEM: caPEM, insecureSkipTLSVerify: cluster.insecureSkipTLSVerify ?? false,
            clientCertificate: clientCertificate, credential: credential,
            namespace: (ctx.namespace?.isEmpty == false ? ctx.namespace : nil) ?? "default",
            source: "kubeconfig \(source) (context \(contextName))")
    }

    /// Builds the in-cluster connection from the service environment and the mounted
    /// service-account files. IPv6 hosts are bracketed in the URL.
    public func loadInCluster(host: String) throws -> ClusterConnection {
        let port = environment["KUBERNETES_SERVICE_PORT"].flatMap { $0.isEmpty ? nil : $0 } ?? "443"
        let hostPart = host.contains(":") ? "[\(host)]" : host
        guard let server = URL(string: "https://\(hostPart):\(port)") else {
            throw KubeConfigError.invalid(source: "in-cluster", reason: "KUBERNETES_SERVICE_HOST/PORT do not form a URL")
        }
        let dir = serviceAccountDirectory
        let tokenPath = FilePaths.join(dir, "token")
        let caPath = FilePaths.join(dir, "ca.crt")
        let tokenFile = TokenFile(path: tokenPath)
        do { _ = try tokenFile.token() } catch {
            throw KubeConfigError.invalid(source: "in-cluster", reason: "service-account token \(tokenPath) cannot be read or is empty")
        }
        let ca = try Self.readFile(caPath, what: "service-account CA", source: "in-cluster")
        try Self.validateCertificates(ca, what: "service-account CA \(caPath)", source: "in-cluster")
        let namespacePath = FilePaths.join(dir, "namespace")
        let namespace = (try? String(contentsOfFile: namespacePath, encoding: .utf8))?
            .trimmingWhitespace()
        return ClusterConnection(
            server: server, certificateAuthorityPEM: ca, credential: .tokenFile(tokenFile),
            namespace: (namespace?.isEmpty == false ? namespace : nil) ?? "default", source: "in-cluster service account")
    }

    static func absolute(_ path: String, relativeTo directory: String) -> String {
        if path.hasPrefix("/") { return path }
        if path.hasPrefix("~/") {
            return FilePaths.join(FilePaths.home, String(path.dropFirst(2)))
        }
        return FilePaths.join(directory, path)
    }

    static func readFile(_ path: String, what: String, source: String) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw KubeConfigError.invalid(source: source, reason: "\(what) file \(path) does not exist")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KubeConfigError.invalid(source: source, reason: "\(what) file \(path) cannot be read")
        }
        return Array(data)
    }

    static func decodeBase64(_ text: String, what: String, source: String) throws -> [UInt8] {
        let compact = text.filter { !$0.isWhitespace }
        guard let data = Data(base64Encoded: compact) else {
            throw KubeConfigError.invalid(source: source, reason: "\(what) is not valid base64")
        }
        return Array(data)
    }

    static func validateCertificates(_ pem: [UInt8], what: String, source: String) throws {
        let certificates = try? NIOSSLCertificate.fromPEMBytes(pem)
        guard let certificates, !certificates.isEmpty else {
            throw KubeConfigError.invalid(source: source, reason: "\(what) is not a valid PEM certificate")
        }
    }

    /// Describes a parse error without quoting the document, which may hold secrets.
    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as KubeConfigYAML.SyntaxError:
            return error.description
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
            DecodingError.dataCorrupted(let context):
            return "unexpected value at \(path(context.codingPath))"
        case DecodingError.keyNotFound(let key, let context):
            return "missing field '\(key.stringValue)' at \(path(context.codingPath))"
        default:
            return "unreadable document"
        }
    }

    private static func path(_ codingPath: [any CodingKey]) -> String {
        let text = codingPath.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
        return text.isEmpty ? "the top level" : text
    }
}
