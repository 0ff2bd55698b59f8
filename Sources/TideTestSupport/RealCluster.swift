import Foundation
import Synchronization
import KubeAPI
import KubeClient

/// A real Kubernetes control plane (upstream etcd, kube-apiserver and
/// kube-controller-manager) for the tests whose behaviour depends on the API server:
/// validation, CEL, server-side apply, RBAC, admission, garbage collection.
///
/// Started once per test process by `scripts/envtest.sh` (or reused when
/// `scripts/test.sh` started it and exported `TIDE_ENVTEST_KUBECONFIG`), on free
/// loopback ports, and stopped by PID when the process exits (a watchdog stops it if
/// the process is killed).
///
/// Guarantees: where the binaries are present (`KUBEBUILDER_ASSETS` or the envtest
/// archive beside the repository), ``shared()`` either returns a ready control plane
/// or throws: a control plane that does not come up fails the tests, it never skips
/// them. Where they are absent, ``isAvailable`` is false and the suites that use it
/// are skipped with ``skipReason``.
public final class RealCluster: Sendable {
    /// The folder with the certificates, the kubeconfig and the logs.
    public let directory: URL
    public let kubeconfigPath: String
    public let server: URL
    public let caPEM: [UInt8]

    init(directory: URL, environment: [String: String]) throws {
        self.directory = directory
        guard let kubeconfig = environment["TIDE_ENVTEST_KUBECONFIG"], let server = environment["TIDE_ENVTEST_SERVER"].flatMap(URL.init(string:))
        else { throw CommandFailed(description: "envtest environment in \(directory.path) is incomplete") }
        self.kubeconfigPath = kubeconfig
        self.server = server
        self.caPEM = Array(try Data(contentsOf: directory.appendingPathComponent("ca.crt")))
    }

    /// The repository root (where `scripts/` lives).
    public static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Whether the tier can run here: a control plane was started for this run, or
    /// its binaries can be found.
    public static let isAvailable: Bool = {
        let environment = ProcessInfo.processInfo.environment
        if environment["TIDE_ENVTEST_KUBECONFIG"] != nil { return true }
        if let assets = environment["KUBEBUILDER_ASSETS"], !assets.isEmpty { return true }
        let archive = repositoryRoot.appendingPathComponent("../shared/envtest/kube-1.28.7-linux-amd64.tar.xz").standardizedFileURL.path
        return FileManager.default.fileExists(atPath: archive)
    }()

    /// The one line a skipped suite shows.
    public static let skipReason =
        "real-cluster tier skipped: no control-plane binaries; set KUBEBUILDER_ASSETS to a folder with etcd, kube-apiserver and kube-controller-manager 1.28.7 (setup-envtest use 1.28.7 -p path)"

    private static let starter = Starter()

    /// The control plane of this test process, started on first use.
    public static func shared() async throws -> RealCluster { try await starter.cluster() }

    actor Starter {
        var task: Task<RealCluster, any Error>?

        func cluster() async throws -> RealCluster {
            if let task { return try await task.value }
            let task = Task { try await RealCluster.start() }
            self.task = task
            return try await task.value
        }
    }

    static func start() async throws -> RealCluster {
        let environment = ProcessInfo.processInfo.environment
        if environment["TIDE_ENVTEST_KUBECONFIG"] != nil, let dir = environment["TIDE_ENVTEST_DIR"] {
            return try RealCluster(directory: URL(fileURLWithPath: dir), environment: environment)
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tide-envtest-\(getpid())")
        let script = repositoryRoot.appendingPathComponent("scripts/envtest.sh").path
        _ = try await runCommand("/bin/bash", [script, "up", directory.path, "--owner", String(getpid())])
        stopAtExit(script: script, directory: directory.path)
        let text = try String(contentsOf: directory.appendingPathComponent("env"), encoding: .utf8)
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        return try RealCluster(directory: directory, environment: values)
    }

    /// A client authenticated as the cluster administrator (group system:masters).
    public func adminClient(userAgent: String = "tide-test-admin") throws -> KubeClient {
        let certificate = Array(try Data(contentsOf: directory.appendingPathComponent("admin.crt")))
        let key = Array(try Data(contentsOf: directory.appendingPathComponent("admin.key")))
        var connection = ClusterConnection(
            server: server, certificateAuthorityPEM: caPEM,
            clientCertificate: .init(certificatePEM: certificate, keyPEM: key), source: "envtest admin")
        connection.userAgent = userAgent
        return try KubeClient(connection: connection, requestTimeout: .seconds(15))
    }

    /// A client authenticated with a bearer token (a ServiceAccount's).
    public func client(token: String, userAgent: String) throws -> KubeClient {
        var connection = ClusterConnection(server: server, certificateAuthorityPEM: caPEM, credential: .token(RedactedString(token)), source: "envtest token")
        connection.userAgent = userAgent
        return try KubeClient(connection: connection, requestTimeout: .seconds(15))
    }

    /// Runs `kubectl` as the administrator and returns its standard output.
    @discardableResult
    public func kubectl(_ arguments: [String]) async throws -> String {
        guard let kubectl = kubectlPath else { throw CommandFailed(description: "kubectl is not installed (scripts/test.sh installs it)") }
        return try await runCommand(kubectl, ["--kubeconfig", kubeconfigPath] + arguments)
    }

    /// A token for `serviceAccount` from the TokenRequest API (what the kubelet mounts).
    public func serviceAccountToken(_ serviceAccount: String, namespace: String, admin: KubeClient) async throws -> String {
        let body: JSONValue = ["apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": ["expirationSeconds": 3600]]
        let reply = try await admin.request(
            .POST, path: "/api/v1/namespaces/\(namespace)/serviceaccounts/\(serviceAccount)/token",
            body: Array(try KubeJSON.encoder.encode(body)), contentType: "application/json", as: JSONValue.self)
        guard let token = reply["status"]?["token"]?.stringValue else {
            throw CommandFailed(description: "TokenRequest for \(namespace)/\(serviceAccount) returned no token")
        }
        return token
    }

    /// A namespace with a name no earlier test used (a re-created namespace pays a
    /// live etcd read for 30 s after its deletion).
    public func freshNamespace(_ prefix: String, admin: KubeClient, labels: [String: String] = [:]) async throws -> String {
        let name = "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
        _ = try await admin.clusterScoped(Namespace.self).create(Namespace(name: name, labels: labels.isEmpty ? nil : labels))
        return name
    }

    /// Write requests (POST, PUT, PATCH, APPLY, DELETE) the API server has served,
    /// summed from its own `apiserver_request_total`, for the `group/resource/subresource`
    /// keys in `resources` (e.g. `apps/deployments/`, `tide.dev/applications/status`).
    public func writeRequestCount(admin: KubeClient, resources: Set<String>) async throws -> Int {
        let total = try await admin.apiServerRequestCounts()
            .filter { ["POST", "PUT", "PATCH", "APPLY", "DELETE"].contains($0.verb) && resources.contains("\($0.group)/\($0.resource)/\($0.subresource)") }
            .reduce(0) { $0 + $1.count }
        return Int(total)
    }
}

/// Stops the control plane this process started when the process exits normally
/// (the watchdog of `scripts/envtest.sh` covers every other exit). Spawns with
/// posix_spawn: Foundation's Process cannot run inside an exit handler.
private func stopAtExit(script: String, directory: String) {
    ExitHook.arguments.withLock { $0 = ["/bin/bash", script, "down", directory] }
    atexit {
        let arguments = ExitHook.arguments.withLock { $0 }
        guard !arguments.isEmpty else { return }
        var pointers: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in pointers { free(pointer) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/bin/bash", nil, nil, &pointers, environ) == 0 else { return }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }
}

private enum ExitHook {
    static let arguments = Mutex<[String]>([])
}

extension RealCluster {
    /// Writes a kubeconfig that authenticates with `token` (for a binary run as a
    /// ServiceAccount). The caller removes the file.
    public func writeKubeconfig(token: String, to url: URL) throws {
        try KubeConfigFile.writeTokenKubeconfig(
            server: server, certificateAuthorityPath: directory.appendingPathComponent("ca.crt").path, token: token, to: url)
    }
}
