import Foundation
import LocalKube
import Testing

let kubectlPath: String? = ["/usr/local/bin/kubectl", "/usr/bin/kubectl"].first { FileManager.default.isExecutableFile(atPath: $0) }

func kubectl(_ server: LocalKubeServer, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: kubectlPath!)
    process.arguments = ["--server", server.url.absoluteString] + arguments
    process.currentDirectoryURL = repositoryRoot
    var environment = ProcessInfo.processInfo.environment
    environment["KUBECONFIG"] = "/dev/null"
    process.environment = environment
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let out = output.fileHandleForReading.readDataToEndOfFile()
    let err = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw KubectlFailed(description: "kubectl \(arguments.joined(separator: " ")): \(String(decoding: err, as: UTF8.self))")
    }
    return String(decoding: out, as: UTF8.self)
}

struct KubectlFailed: Error, CustomStringConvertible { var description: String }

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
        #expect(try kubectl(server, ["apply", "-f", "crds/"]).contains("applications.tide.dev created"))
        let installed = try kubectl(server, ["apply", "-k", "config/default"])
        for object in ["namespace/tide-system", "clusterrole.rbac.authorization.k8s.io/tide-scaler", "deployment.apps/tide-operator"] {
            #expect(installed.contains(object), "\(installed)")
        }
        _ = try kubectl(server, ["apply", "-f", "samples/"])
        let table = try kubectl(server, ["get", "applications"])
        #expect(table.contains("READY") && table.contains("REPLICAS") && table.contains("DESIRED") && table.contains("METRIC"))
        #expect(table.contains("hello-autoscaled"))
        #expect(try kubectl(server, ["get", "tapp", "-o", "name"]).contains("application.tide.dev/hello"))
        _ = try kubectl(server, ["scale", "application", "hello", "--replicas=4"])
        #expect(try kubectl(server, ["get", "application", "hello", "-o", "jsonpath={.spec.replicas}"]) == "4")
    }
}
