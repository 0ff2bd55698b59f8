import Foundation
import KubeAPI
import KubeClient
import LocalKube
@_exported import TideTestSupport

/// A LocalKube server and clients for runtime tests; `stop()` tears everything down.
struct Cluster {
    let server: LocalKubeServer
    let client: KubeClient

    static func start(_ options: LocalKubeOptions = LocalKubeOptions()) async throws -> Cluster {
        let server = try await LocalKubeServer.start(options: options)
        return Cluster(server: server, client: try server.makeClient())
    }

    func stop() async {
        try? await client.shutdown()
        await server.stop()
    }
}

extension LocalKubeServer {
    func makeClient(userAgent: String = "tide-test") throws -> KubeClient {
        var connection = ClusterConnection(server: url)
        connection.userAgent = userAgent
        return try KubeClient(connection: connection, requestTimeout: .seconds(5))
    }
}

