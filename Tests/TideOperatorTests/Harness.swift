import Foundation
import KubeAPI
import KubeClient
import KubeRuntime
import LocalKube
import Logging
import ServiceLifecycle
import TideAPI
import TideOperator
import Testing
@_exported import TideTestSupport

/// The repository root, for the CRD and manifests.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Where an end-to-end test runs: LocalKube (in process, fault injection) or the real
/// control plane (kube-apiserver, etcd and kube-controller-manager 1.28.7).
enum Backend: String, Sendable, CustomTestStringConvertible {
    case localKube = "LocalKube"
    case realCluster = "real API server"

    var testDescription: String { rawValue }

    /// The backends this machine has; the real one only where its binaries are.
    static let available: [Backend] = {
        if RealCluster.isAvailable { return [.localKube, .realCluster] }
        print(RealCluster.skipReason)
        return [.localKube]
    }()
}

/// What is installed once per test process on the real control plane, as a user
/// installs Tide: the CRD and `config/default` applied with kubectl, and a token of
/// the operator's own ServiceAccount, which holds exactly the RBAC `config/` gives it.
actor RealClusterInstall {
    static let shared = RealClusterInstall()

    struct Installed: Sendable {
        var cluster: RealCluster
        var admin: KubeClient
        var operatorToken: String
    }

    private var task: Task<Installed, any Error>?

    func installed() async throws -> Installed {
        if let task { return try await task.value }
        let task = Task { () throws -> Installed in
            let cluster = try await RealCluster.shared()
            let admin = try cluster.adminClient()
            let root = repositoryRoot.path
            try await cluster.kubectl(["apply", "-f", "\(root)/crds/"])
            try await cluster.kubectl(["wait", "--for=condition=Established", "--timeout=60s", "crd/applications.tide.dev", "crd/autoscalers.tide.dev"])
            try await cluster.kubectl(["apply", "-k", "\(root)/config/default"])
            let token = try await cluster.serviceAccountToken("tide-operator", namespace: "tide-system", admin: admin)
            return Installed(cluster: cluster, admin: admin, operatorToken: token)
        }
        self.task = task
        return try await task.value
    }
}

/// A Tide operator running in process against a backend, scoped to one namespace.
///
/// On LocalKube the namespace is `demo` of a fresh server; on the real server it is a
/// fresh namespace (restricted Pod Security enforced) and the operator authenticates
/// with its ServiceAccount's token.
struct OperatorHarness {
    let backend: Backend
    let namespace: String
    /// What the test acts with, as a user would (LocalKube: anonymous; real: admin).
    let client: KubeClient
    let operatorClient: KubeClient
    /// LocalKube only: faults and request counting.
    let localServer: LocalKubeServer?
    let cluster: RealCluster?
    let tide: TideOperator
    let group: ServiceGroup
    let run: Task<Void, any Error>

    /// The LocalKube server (only for LocalKube tests).
    var server: LocalKubeServer {
        get throws { try #require(localServer, "this test needs LocalKube") }
    }

    /// Where the leader-election Lease lives (its RBAC is in `tide-system`).
    var leaseNamespace: String { backend == .realCluster ? "tide-system" : "default" }

    static func start(
        _ backend: Backend = .localKube, sharing other: OperatorHarness? = nil, configure: (inout OperatorOptions) -> Void = { _ in }
    ) async throws -> OperatorHarness {
        var options = OperatorOptions()
        options.healthProbeAddress = ("127.0.0.1", 0)
        options.metricsAddress = ("127.0.0.1", 0)
        options.serviceMonitorRecheck = .milliseconds(200)
        options.identity = "operator-\(UUID().uuidString.prefix(6))"
        options.settings.scalerImage = "tide:test"
        let namespace: String
        let client: KubeClient
        let operatorClient: KubeClient
        var localServer: LocalKubeServer?
        var cluster: RealCluster?
        switch backend {
        case .localKube:
            let server: LocalKubeServer
            if let existing = other?.localServer {
                server = existing
            } else {
                server = try await LocalKubeServer.start()
                try ManifestLoader.apply(path: repositoryRoot.appendingPathComponent("crds").path, to: server.store)
                let namespaces = try #require(server.store.type(group: "", version: "v1", plural: "namespaces"))
                _ = try server.store.create(namespaces, namespace: nil, body: ["metadata": ["name": "demo"]])
            }
            localServer = server
            namespace = "demo"
            var connection = ClusterConnection(server: server.url)
            connection.userAgent = "tide-operator-test"
            operatorClient = try KubeClient(connection: connection, requestTimeout: .seconds(5))
            var userConnection = ClusterConnection(server: server.url)
            userConnection.userAgent = "user"
            client = try KubeClient(connection: userConnection, requestTimeout: .seconds(5))
        case .realCluster:
            let installed = try await RealClusterInstall.shared.installed()
            cluster = installed.cluster
            client = installed.admin
            if let other {
                namespace = other.namespace
            } else {
                namespace = try await installed.cluster.freshNamespace(
                    "e2e", admin: installed.admin, labels: ["pod-security.kubernetes.io/enforce": "restricted"])
            }
            operatorClient = try installed.cluster.client(token: installed.operatorToken, userAgent: "tide-operator-test")
        }
        options.namespace = namespace
        configure(&options)
        let tide = TideOperator(client: operatorClient, options: options, logger: Logger(label: "test-operator"))
        let group = tide.manager.serviceGroup(signals: [])
        let run = Task { try await group.run() }
        return OperatorHarness(
            backend: backend, namespace: namespace, client: client, operatorClient: operatorClient, localServer: localServer,
            cluster: cluster, tide: tide, group: group, run: run)
    }

    /// Stops the operator (and a LocalKube server unless `keepServer`).
    func stop(keepServer: Bool = false) async {
        await group.triggerGracefulShutdown()
        _ = await run.result
        try? await operatorClient.shutdown()
        if let localServer {
            try? await client.shutdown()
            if !keepServer { await localServer.stop() }
        }
    }

    var applications: ResourceClient<Application, SingleScope> { client.namespaced(Application.self, in: namespace) }
    var deployments: ResourceClient<Deployment, SingleScope> { client.namespaced(Deployment.self, in: namespace) }
    var services: ResourceClient<KubeAPI.Service, SingleScope> { client.namespaced(KubeAPI.Service.self, in: namespace) }
    var pods: ResourceClient<DynamicObject, SingleScope> {
        client.resource(DynamicObject.self, at: ResourceDescriptor(group: "", version: "v1", plural: "pods", kind: "Pod", namespaced: true), namespace: namespace)
    }

    /// Makes every replica of Deployment `name` available. LocalKube: plays the
    /// Deployment controller and writes its status. Real server: plays the kubelet,
    /// marking the Pods kube-controller-manager created Running and Ready, and lets
    /// the real controllers compute the Deployment's status.
    func markAvailable(_ name: String) async throws {
        let deployment = try await deployments.get(name)
        let replicas = deployment.spec?.replicas ?? 1
        switch backend {
        case .localKube:
            _ = try await deployments.patchStatus(name, patch: ["status": [
                "observedGeneration": .int(deployment.metadata.generation ?? 1), "replicas": .int(Int64(replicas)),
                "updatedReplicas": .int(Int64(replicas)), "readyReplicas": .int(Int64(replicas)), "availableReplicas": .int(Int64(replicas)),
            ]])
        case .realCluster:
            let selector = LabelSelector(matchLabels: deployment.spec?.selector.matchLabels ?? [:]).queryString
            var marked = Set<String>()
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                let pods = try await self.pods.list(labelSelector: selector).items
                for pod in pods where !marked.contains(pod.name) && pod.metadata.deletionTimestamp == nil {
                    let now = Time.now.description
                    _ = try await self.pods.patchStatus(pod.name, patch: ["status": [
                        "phase": "Running",
                        "conditions": [
                            ["type": "PodScheduled", "status": "True", "lastTransitionTime": .string(now)],
                            ["type": "Initialized", "status": "True", "lastTransitionTime": .string(now)],
                            ["type": "ContainersReady", "status": "True", "lastTransitionTime": .string(now)],
                            ["type": "Ready", "status": "True", "lastTransitionTime": .string(now)],
                        ],
                    ]])
                    marked.insert(pod.name)
                }
                if marked.count >= Int(replicas) { return }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw CommandFailed(description: "Deployment \(name): only \(marked.count) of \(replicas) Pods appeared")
        }
    }

    func condition(_ type: String, of name: String) async throws -> Condition? {
        try await applications.get(name).status?.conditions?[type: type]
    }

    /// Events about Application `name`, newest series included.
    func events(about name: String) async throws -> [Event] {
        try await client.namespaced(Event.self, in: namespace).list().items.filter { $0.regarding?.name == name }
    }
}

func helloSpec(replicas: Int32? = 2) -> ApplicationSpec {
    ApplicationSpec(image: "hello:1", replicas: replicas, env: [EnvVar(name: "GREETING", value: "World")])
}

func newApplication(_ name: String, _ spec: ApplicationSpec) -> Application {
    Application(metadata: ObjectMeta(name: name, namespace: "demo"), spec: spec)
}
