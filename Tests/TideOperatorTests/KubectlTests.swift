import Foundation
import LocalKube
import Testing
import TideTestSupport

func kubectl(_ server: LocalKubeServer, _ arguments: [String]) async throws -> String {
    try await runCommand(
        kubectlPath!, ["--server", server.url.absoluteString] + arguments, environment: ["KUBECONFIG": "/dev/null"],
        directory: repositoryRoot)
}

@Suite("Installing with kubectl", .enabled(if: kubectlPath != nil))
struct KubectlTests {
    @Test("kubectl apply -f crds/, apply -k config/default, apply -f samples/, then get applications with Tide's columns")
    func install() async throws {
        let server = try await LocalKubeServer.start()
        do {
            try await installSteps(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    func installSteps(_ server: LocalKubeServer) async throws {
        let crds = try await kubectl(server, ["apply", "-f", "crds/"])
        #expect(crds.contains("applications.tide.dev created") && crds.contains("autoscalers.tide.dev created"), "\(crds)")
        let installed = try await kubectl(server, ["apply", "-k", "config/default"])
        for object in [
            "namespace/tide-system", "clusterrole.rbac.authorization.k8s.io/tide-operator", "deployment.apps/tide-operator",
            "clusterrole.rbac.authorization.k8s.io/tide-metrics-reader", "clusterrolebinding.rbac.authorization.k8s.io/tide-metrics-auth",
        ] {
            #expect(installed.contains(object), "\(installed)")
        }
        _ = try await kubectl(server, ["apply", "-f", "samples/"])
        let table = try await kubectl(server, ["get", "applications"])
        #expect(table.contains("READY") && table.contains("REPLICAS") && table.contains("DESIRED") && table.contains("METRIC"))
        #expect(table.contains("hello-autoscaled"))
        #expect(try await kubectl(server, ["get", "tapp", "-o", "name"]).contains("application.tide.dev/hello"))
        let autoscalers = try await kubectl(server, ["get", "tas", "-n", "shop"])
        #expect(autoscalers.contains("TARGET") && autoscalers.contains("OBSERVE") && autoscalers.contains("checkout"), "\(autoscalers)")
        _ = try await kubectl(server, ["scale", "application", "hello", "--replicas=4"])
        #expect(try await kubectl(server, ["get", "application", "hello", "-o", "jsonpath={.spec.replicas}"]) == "4")
    }
}
