import Foundation
import KubeAPI
import KubeClient
import KubeRuntime
import LocalKube
import Logging
import ServiceLifecycle
import TideAPI
import TideOperator
@_exported import TideTestSupport

/// The repository root, for the CRD and manifests.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// LocalKube with the Application CRD, and a Tide operator running against it.
struct OperatorHarness {
    let server: LocalKubeServer
    let client: KubeClient
    let tide: TideOperator
    let group: ServiceGroup
    let run: Task<Void, any Error>

    static func start(
        server existing: LocalKubeServer? = nil, configure: (inout OperatorOptions) -> Void = { _ in }
    ) async throws -> OperatorHarness {
        let server: LocalKubeServer
        if let existing {
            server = existing
        } else {
            server = try await LocalKubeServer.start()
            try ManifestLoader.apply(path: repositoryRoot.appendingPathComponent("crds").path, to: server.store)
            let namespaces = server.store.type(group: "", version: "v1", plural: "namespaces")!
            _ = try server.store.create(namespaces, namespace: nil, body: ["metadata": ["name": "demo"]])
        }
        var connection = ClusterConnection(server: server.url)
        connection.userAgent = "tide-operator-test"
        let client = try KubeClient(connection: connection, requestTimeout: .seconds(5))
        var options = OperatorOptions()
        options.healthProbeAddress = ("127.0.0.1", 0)
        options.metricsAddress = nil
        options.serviceMonitorRecheck = .milliseconds(200)
        options.identity = "operator-\(UUID().uuidString.prefix(6))"
        options.settings.scalerImage = "tide:test"
        configure(&options)
        let tide = TideOperator(client: client, options: options, logger: Logger(label: "test-operator"))
        let group = tide.manager.serviceGroup(signals: [])
        let run = Task { try await group.run() }
        return OperatorHarness(server: server, client: client, tide: tide, group: group, run: run)
    }

    /// Stops the operator (and the server unless `keepServer`).
    func stop(keepServer: Bool = false) async {
        await group.triggerGracefulShutdown()
        _ = await run.result
        try? await client.shutdown()
        if !keepServer { await server.stop() }
    }

    var applications: ResourceClient<Application, SingleScope> { client.namespaced(Application.self, in: "demo") }
    var deployments: ResourceClient<Deployment, SingleScope> { client.namespaced(Deployment.self, in: "demo") }
    var services: ResourceClient<KubeAPI.Service, SingleScope> { client.namespaced(KubeAPI.Service.self, in: "demo") }

    /// Plays the Deployment controller: reports every replica of `name` available.
    func markAvailable(_ name: String) async throws {
        let deployment = try await deployments.get(name)
        let replicas = deployment.spec?.replicas ?? 1
        _ = try await deployments.patchStatus(name, patch: ["status": [
            "observedGeneration": .int(deployment.metadata.generation ?? 1), "replicas": .int(Int64(replicas)),
            "updatedReplicas": .int(Int64(replicas)), "readyReplicas": .int(Int64(replicas)), "availableReplicas": .int(Int64(replicas)),
        ]])
    }

    func condition(_ type: String, of name: String) async throws -> Condition? {
        try await applications.get(name).status?.conditions?[type: type]
    }
}

func helloSpec(replicas: Int32? = 2) -> ApplicationSpec {
    ApplicationSpec(image: "hello:1", replicas: replicas, env: [EnvVar(name: "GREETING", value: "World")])
}

func newApplication(_ name: String, _ spec: ApplicationSpec) -> Application {
    Application(metadata: ObjectMeta(name: name, namespace: "demo"), spec: spec)
}
