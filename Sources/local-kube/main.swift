import ArgumentParser
import Foundation
import LocalKube
import Logging
import UnixSignals
import KubeCertificates

/// Runs LocalKube until interrupted and prints how to point kubectl at it.
@main
struct LocalKubeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local-kube",
        abstract: "An in-memory Kubernetes API server on loopback, for trying Tide without a cluster.")

    @Option(help: "Port to listen on (0 picks a free one).")
    var port: Int = 0

    @Flag(help: "Serve HTTPS with a freshly minted certificate authority.")
    var tls = false

    @Option(help: "Write a kubeconfig for this server to this file.")
    var kubeconfig: String?

    @Option(help: "Apply every YAML or JSON manifest in these files or directories at start.")
    var apply: [String] = []

    @Option(help: "Changes kept for watches to resume from.")
    var history: Int = 10_000

    mutating func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var options = LocalKubeOptions()
        options.port = port
        options.tls = tls
        options.historyLimit = history
        options.autoCreateNamespaces = true
        let server = try await LocalKubeServer.start(options: options)
        var identity: CertificateAuthority.Identity?
        if let ca = server.certificateAuthority {
            identity = try ca.issueClientCertificate(commonName: "admin", organizations: ["system:masters"])
        }
        let config = server.kubeconfig(clientIdentity: identity)
        let configPath = kubeconfig ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("local-kube-\(server.port).kubeconfig").path
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        for path in apply {
            let applied = try ManifestLoader.apply(path: path, to: server.store)
            print("applied \(applied.count) object(s) from \(path)")
        }
        var lines = ["LocalKube is serving at \(server.url.absoluteString)"]
        if !tls { lines.append("  kubectl --server \(server.url.absoluteString) get namespaces") }
        lines.append("  kubectl --kubeconfig \(configPath) get namespaces")
        lines.append("Press Ctrl-C to stop.")
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))

        for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) { break }
        await server.stop()
        try? FileManager.default.removeItem(atPath: configPath)
        print("LocalKube stopped.")
    }
}
