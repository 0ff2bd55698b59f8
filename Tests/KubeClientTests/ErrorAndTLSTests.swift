import Foundation
import KubeAPI
import KubeClient
import LocalKube
import Testing
import TideTestSupport
import KubeCertificates

@Suite("Typed errors and TLS")
struct ErrorAndTLSTests {
    @Test("injected faults become typed errors carrying the server's Status")
    func injectedFaults() async throws {
        try await withLocalKube { server, client in
            let accounts = client.namespaced(ServiceAccount.self, in: "default")
            server.faults.failNext(with: .gone, verbs: [.list])
            do { _ = try await accounts.list(); Issue.record("expected 410") } catch KubeError.gone(let status) {
                #expect(status.reason == "Expired")
            }
            server.faults.failNext(with: .tooManyRequests(retryAfterSeconds: 7))
            do { _ = try await accounts.list(); Issue.record("expected 429") } catch KubeError.tooManyRequests(let status, let retryAfter) {
                #expect(retryAfter == .seconds(7))
                #expect(status.code == 429)
            }
            server.faults.failNext(with: .serverError(code: 503))
            do { _ = try await accounts.list(); Issue.record("expected 503") } catch let error as KubeError {
                guard case .server(let code, _) = error else { Issue.record("expected server error, got \(error)"); return }
                #expect(code == 503)
                #expect(error.isRetryable)
            }
            server.faults.failNext(with: .forbidden, verbs: [.create])
            do { _ = try await accounts.create(ServiceAccount(metadata: ObjectMeta(name: "x"))); Issue.record("expected 403") } catch KubeError.forbidden(let status) {
                #expect(status.code == 403)
            }
            server.faults.failNext(with: .conflict, verbs: [.create])
            await #expect(throws: KubeError.self) { try await accounts.create(ServiceAccount(metadata: ObjectMeta(name: "x"))) }
            #expect(try await accounts.list().items.isEmpty, "failed writes stored nothing")
            server.faults.failNext(with: .gone, verbs: [.watch])
            let events = try await collect(try await accounts.watch(resourceVersion: "1"), count: 1)
            guard case .error(let status) = events.first else { Issue.record("expected an ERROR event"); return }
            #expect(status.code == 410)
            #expect(server.faults.injectedCount == 6)
        }
    }

    @Test("faults by rate fire at roughly that rate and only on matching verbs")
    func faultRate() async throws {
        try await withLocalKube { server, client in
            server.faults.add(.init(fault: .serverError(code: 500), verbs: [.get], probability: 0.3))
            let accounts = client.namespaced(ServiceAccount.self, in: "default")
            _ = try await accounts.create(ServiceAccount(metadata: ObjectMeta(name: "a")))
            var failures = 0
            for _ in 0..<200 {
                do { _ = try await accounts.get("a") } catch { failures += 1 }
            }
            #expect((30...90).contains(failures), "\(failures) of 200 failed")
            _ = try await accounts.list()
        }
    }

    @Test("a closed port is a transport error")
    func connectionRefused() async throws {
        let server = try await LocalKubeServer.start()
        let url = server.url
        await server.stop()
        let client = try KubeClient(connection: ClusterConnection(server: url), requestTimeout: .seconds(5))
        do {
            _ = try await client.namespaced(ServiceAccount.self, in: "default").list()
            Issue.record("expected a transport error")
        } catch KubeError.transport(let reason) {
            #expect(!reason.isEmpty)
        }
        try await client.shutdown()
    }

    @Test("HTTPS with the generated CA succeeds; a different CA is refused")
    func tlsVerification() async throws {
        var options = LocalKubeOptions()
        options.tls = true
        try await withLocalKube(options: options, connection: { server in
            ClusterConnection(server: server.url, certificateAuthorityPEM: Array(server.certificateAuthority!.certificatePEM.utf8))
        }) { server, client in
            #expect(try await client.serverVersion()["gitVersion"] != nil)
            let otherCA = try CertificateAuthority(commonName: "Someone else")
            let wrong = try KubeClient(connection: ClusterConnection(server: server.url, certificateAuthorityPEM: Array(otherCA.certificatePEM.utf8)))
            do {
                _ = try await wrong.serverVersion()
                Issue.record("a wrong CA must be refused")
            } catch KubeError.transport(let reason) {
                #expect(reason.contains("TLS") || reason.lowercased().contains("certificate"), "\(reason)")
            }
            try await wrong.shutdown()
            let system = try KubeClient(connection: ClusterConnection(server: server.url))
            await #expect(throws: KubeError.self, "system roots do not trust LocalKube's CA") { try await system.serverVersion() }
            try await system.shutdown()
            let insecure = try KubeClient(connection: ClusterConnection(server: server.url, insecureSkipTLSVerify: true))
            #expect(try await insecure.serverVersion()["major"] == "1")
            try await insecure.shutdown()
        }
    }

    @Test("client certificates: required by the server, accepted when signed by its CA")
    func mutualTLS() async throws {
        var options = LocalKubeOptions()
        options.tls = true
        options.requireClientCertificate = true
        options.bearerToken = "unused"
        try await withLocalKube(options: options, connection: { server in
            let identity = try server.certificateAuthority!.issueClientCertificate(commonName: "admin")
            return ClusterConnection(
                server: server.url, certificateAuthorityPEM: Array(server.certificateAuthority!.certificatePEM.utf8),
                clientCertificate: .init(certificatePEM: Array(identity.certificatePEM.utf8), keyPEM: Array(identity.keyPEM.utf8)))
        }) { server, client in
            #expect(try await client.namespaced(ServiceAccount.self, in: "default").list().items.isEmpty)
            let anonymous = try KubeClient(connection: ClusterConnection(
                server: server.url, certificateAuthorityPEM: Array(server.certificateAuthority!.certificatePEM.utf8)))
            await #expect(throws: KubeError.self) { try await anonymous.namespaced(ServiceAccount.self, in: "default").list() }
            try await anonymous.shutdown()
        }
    }

    @Test("bearer tokens: the right one is accepted, a wrong one is unauthorized and never echoed")
    func bearerToken() async throws {
        var options = LocalKubeOptions()
        options.tls = true
        options.bearerToken = "correct-horse"
        try await withLocalKube(options: options, connection: { server in
            ClusterConnection(
                server: server.url, certificateAuthorityPEM: Array(server.certificateAuthority!.certificatePEM.utf8),
                credential: .token(RedactedString("correct-horse")))
        }) { server, client in
            #expect(try await client.namespaced(ServiceAccount.self, in: "default").list().items.isEmpty)
            let wrong = try KubeClient(connection: ClusterConnection(
                server: server.url, certificateAuthorityPEM: Array(server.certificateAuthority!.certificatePEM.utf8),
                credential: .token(RedactedString("battery-staple"))))
            do {
                _ = try await wrong.namespaced(ServiceAccount.self, in: "default").list()
                Issue.record("a wrong token must be refused")
            } catch let error as KubeError {
                guard case .unauthorized(let status) = error else { Issue.record("expected unauthorized, got \(error)"); return }
                #expect(status.code == 401)
                #expect(!error.description.contains("battery-staple"))
                #expect(!wrong.connection.description.contains("battery-staple"))
            }
            try await wrong.shutdown()
        }
    }

    @Test("a kubeconfig written by LocalKube loads and connects over HTTPS with a client certificate")
    func kubeconfigRoundTrip() async throws {
        var options = LocalKubeOptions()
        options.tls = true
        options.requireClientCertificate = true
        let server = try await LocalKubeServer.start(options: options)
        let dir = try FixtureDirectory()
        let identity = try server.certificateAuthority!.issueClientCertificate(commonName: "admin")
        let file = try dir.write("config", server.kubeconfig(clientIdentity: identity))
        let connection = try KubeConfigLoader(kubeconfigPath: file, environment: [:]).load()
        let client = try KubeClient(connection: connection)
        let namespaces = try await client.clusterScoped(Namespace.self).list()
        #expect(namespaces.items.map(\.name) == ["default", "kube-public", "kube-system"])
        try await client.shutdown()
        await server.stop()
    }

    @Test("kubectl can list namespaces and create, scale and delete a Deployment", .enabled(if: kubectlPath != nil))
    func kubectl() async throws {
        try await withLocalKube { server, _ in
            let url = server.url.absoluteString
            let namespaces = try await runCommand(kubectlPath!, ["--server", url, "get", "namespaces", "-o", "name"], environment: ["KUBECONFIG": "/dev/null"])
            #expect(namespaces.contains("namespace/default"))
            let dir = try FixtureDirectory()
            let manifest = try dir.write("d.json", String(decoding: try KubeJSON.encoder.encode(sampleDeployment("kc", namespace: "default")), as: UTF8.self))
            _ = try await runCommand(kubectlPath!, ["--server", url, "create", "-f", manifest])
            _ = try await runCommand(kubectlPath!, ["--server", url, "scale", "deployment/kc", "--replicas=3"])
            #expect(try server.store.get(ResourceType.builtIn.first { $0.descriptor.plural == "deployments" }!, namespace: "default", name: "kc").value(atPath: ["spec", "replicas"]) == 3)
            let table = try await runCommand(kubectlPath!, ["--server", url, "get", "deployments"])
            #expect(table.contains("kc"))
            _ = try await runCommand(kubectlPath!, ["--server", url, "delete", "deployment", "kc"])
            #expect(server.store.objectCount == 3, "only the three namespaces remain")
        }
    }
}

