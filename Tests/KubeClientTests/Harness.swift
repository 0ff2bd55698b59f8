import Foundation
import KubeAPI
import KubeClient
import LocalKube

/// Runs `body` with a fresh LocalKube server and a client connected to it, and stops
/// both afterwards, also when `body` throws.
func withLocalKube<T>(
    options: LocalKubeOptions = LocalKubeOptions(), connection: ((LocalKubeServer) throws -> ClusterConnection)? = nil,
    _ body: (LocalKubeServer, KubeClient) async throws -> T
) async throws -> T {
    let server = try await LocalKubeServer.start(options: options)
    let client: KubeClient
    do {
        let made = try connection?(server) ?? ClusterConnection(server: server.url)
        client = try KubeClient(connection: made, requestTimeout: .seconds(10))
    } catch {
        await server.stop()
        throw error
    }
    do {
        let result = try await body(server, client)
        try await client.shutdown()
        await server.stop()
        return result
    } catch {
        try? await client.shutdown()
        await server.stop()
        throw error
    }
}

func sampleDeployment(_ name: String, namespace: String = "demo", replicas: Int32 = 1, labels: [String: String] = [:]) -> Deployment {
    let selector = ["app": name]
    return Deployment(
        metadata: ObjectMeta(name: name, namespace: namespace, labels: labels.isEmpty ? nil : labels),
        spec: .init(
            replicas: replicas, selector: LabelSelector(matchLabels: selector),
            template: PodTemplateSpec(
                metadata: ObjectMeta(labels: selector),
                spec: PodSpec(containers: [Container(name: "app", image: "hello:1")]))))
}

/// Collects events from a watch until `count` arrived or `timeout` passed.
func collect<K>(
    _ stream: AsyncThrowingStream<WatchEvent<K>, any Error>, count: Int, timeout: Duration = .seconds(10)
) async throws -> [WatchEvent<K>] {
    try await withThrowingTaskGroup(of: [WatchEvent<K>].self) { group in
        group.addTask {
            var events: [WatchEvent<K>] = []
            for try await event in stream {
                events.append(event)
                if events.count == count { break }
            }
            return events
        }
        group.addTask {
            try await Task.sleep(for: timeout)
            return []
        }
        let first = try await group.next() ?? []
        group.cancelAll()
        return first
    }
}

extension WatchEvent {
    var summary: String {
        switch self {
        case .added(let object), .modified(let object), .deleted(let object):
            let name = (object as? any KubernetesObject)?.metadata.name ?? "?"
            return "\(typeName) \(name)"
        case .bookmark: return "BOOKMARK"
        case .error(let status): return "ERROR \(status.code ?? 0)"
        case .undecodable(let type, let object): return "\(type) undecodable \(object.key)"
        }
    }
}
