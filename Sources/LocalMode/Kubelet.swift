import AsyncHTTPClient
import Foundation
import KubeAPI
import KubeClient
import Logging

/// A tiny kubelet: for each Deployment Tide created for an Application, runs as many
/// real `hello-service` processes as its replicas on free loopback ports, follows
/// replica changes (graceful stops, newest first), and reports the Deployment's status
/// the way the Deployment controller would. Keeps Prometheus's file-based service
/// discovery in step with the processes.
///
/// A pod becomes ready once its process answers `/healthz` and, for every replica
/// after a Deployment's first, ``podStart`` has passed since it started: real pods
/// pull images and warm up, and a strategy that looks ahead needs that time to matter.
actor Kubelet {
    struct Instance {
        var process: ChildProcess
        var port: Int
        /// The earliest moment it may be ready.
        var readyAfter: ContinuousClock.Instant
        var ready = false
    }

    let client: KubeClient
    let namespace: String
    let helloBinary: String
    let targetsFile: URL
    let exporter: DeploymentStateExporter?
    let logger: Logger
    let podStart: Duration
    private var instances: [String: [Instance]] = [:]
    private var lastStatus: [String: JSONValue] = [:]
    private(set) var started = 0
    private(set) var everStarted: [Int32] = []

    init(
        client: KubeClient, namespace: String, helloBinary: String, targetsFile: URL, exporter: DeploymentStateExporter? = nil,
        podStart: Duration = .zero, logger: Logger
    ) {
        self.client = client
        self.podStart = podStart
        self.namespace = namespace
        self.helloBinary = helloBinary
        self.targetsFile = targetsFile
        self.exporter = exporter
        self.logger = logger
    }

    /// Ready processes of one Deployment.
    func readyCount(_ name: String) -> Int { instances[name]?.filter(\.ready).count ?? 0 }

    /// Ports of ready processes, for the load generator.
    func readyPorts() -> [Int] { instances.values.flatMap { $0.filter(\.ready).map(\.port) } }

    /// One pass: start or stop processes, probe readiness, write status and targets.
    func sync() async throws {
        let deployments = try await client.namespaced(Deployment.self, in: namespace)
            .list(labelSelector: "app.kubernetes.io/managed-by=tide,app.kubernetes.io/component=server").items
        let names = Set(deployments.map(\.name))
        for name in instances.keys where !names.contains(name) {
            for instance in instances[name] ?? [] { await instance.process.stop() }
            instances[name] = nil
        }
        for deployment in deployments {
            let name = deployment.name
            let desired = Int(deployment.spec?.replicas ?? 1)
            var running = instances[name] ?? []
            while running.count < desired {
                let port = try freeLoopbackPort()
                var environment: [String: String] = [:]
                for variable in deployment.spec?.template.spec?.containers.first?.env ?? [] {
                    if let value = variable.value { environment[variable.name] = value }
                }
                let process = try ChildProcess(
                    name: "hello-service \(name)", executable: helloBinary, arguments: ["--host", "127.0.0.1", "--port", String(port)],
                    environment: environment)
                everStarted.append(process.pid)
                started += 1
                // The first replica is ready as soon as it answers: the run waits for it.
                let delay = running.isEmpty ? Duration.zero : podStart
                running.append(Instance(process: process, port: port, readyAfter: .now + delay))
            }
            while running.count > desired {
                let instance = running.removeLast()
                await instance.process.stop()
            }
            for index in running.indices where !running[index].ready && running[index].readyAfter <= .now {
                running[index].ready = await Self.healthy(port: running[index].port)
            }
            instances[name] = running.filter { $0.process.isRunning }
            try await writeStatus(deployment, running: running.count, ready: running.filter(\.ready).count)
        }
        try writeTargets(deployments)
    }

    static func healthy(port: Int) async -> Bool {
        let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz")
        guard let response = try? await HTTPClient.shared.execute(request, timeout: .milliseconds(500)) else { return false }
        return response.status.code == 200
    }

    private func writeStatus(_ deployment: Deployment, running: Int, ready: Int) async throws {
        let status: JSONValue = [
            "observedGeneration": .int(deployment.metadata.generation ?? 1), "replicas": .int(Int64(running)),
            "updatedReplicas": .int(Int64(running)), "readyReplicas": .int(Int64(ready)), "availableReplicas": .int(Int64(ready)),
        ]
        exporter?.set(desired: Int(deployment.spec?.replicas ?? 1), ready: ready, namespace: namespace, deployment: deployment.name)
        guard lastStatus[deployment.name] != status else { return }
        _ = try await client.namespaced(Deployment.self, in: namespace).patchStatus(deployment.name, patch: ["status": status])
        lastStatus[deployment.name] = status
    }

    /// Prometheus file-SD: one group per Deployment, labelled like the Prometheus
    /// Operator labels ServiceMonitor targets (namespace, service); and the Deployment
    /// state exporter, unlabelled so the labels it exports are kept.
    private func writeTargets(_ deployments: [Deployment]) throws {
        var groups: [JSONValue] = []
        if let exporter { groups.append(["targets": .array([.string("127.0.0.1:\(exporter.port)")]), "labels": [:]]) }
        for deployment in deployments {
            let ports = (instances[deployment.name] ?? []).filter(\.ready).map(\.port)
            guard !ports.isEmpty else { continue }
            groups.append([
                "targets": .array(ports.map { .string("127.0.0.1:\($0)") }),
                "labels": ["namespace": .string(namespace), "service": .string(deployment.name)],
            ])
        }
        let data = try KubeJSON.encoder.encode(JSONValue.array(groups))
        let temporary = targetsFile.appendingPathExtension("tmp")
        try data.write(to: temporary)
        // rename(2) is atomic: Prometheus never reads a half-written file.
        guard rename(temporary.path, targetsFile.path) == 0 else {
            throw LocalRunError.failed("cannot update \(targetsFile.path): errno \(errno)")
        }
    }

    /// Stops every process (gracefully).
    func stopAll() async {
        for instance in instances.values.flatMap({ $0 }) { await instance.process.stop() }
        instances.removeAll()
    }
}
