import Foundation
import KubeAPI
import KubeCertificates
import KubeClient
import LocalKube
import TideAPI
import Testing

/// SIGTERM, as a rolling update sends it: each long-running binary stops taking work,
/// finishes what is in flight, gives up what it holds and exits 0 within the grace period.
@Suite("Graceful shutdown of real processes", .serialized)
struct GracefulShutdownTests {
    /// A binary of the build, started with its standard error kept in a file.
    final class RunningBinary: @unchecked Sendable {
        let process = Process()
        let errors: URL

        init(_ name: String, _ arguments: [String], identity: String? = nil, directory: URL) throws {
            errors = directory.appendingPathComponent("\(name)-\(identity ?? "0")-\(UUID().uuidString.prefix(6)).err")
            _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
            process.executableURL = URL(fileURLWithPath: "\(binariesDirectory)/\(name)")
            process.arguments = arguments
            var environment = ProcessInfo.processInfo.environment
            if let identity { environment["POD_NAME"] = identity }
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = try FileHandle(forWritingTo: errors)
            try process.run()
        }

        /// Sends SIGTERM and waits (at most `limit`) for the exit; returns the exit code and
        /// how long the process took.
        func terminate(limit: Duration = .seconds(20)) async -> (code: Int32?, took: Duration) {
            let start = ContinuousClock.now
            kill(process.processIdentifier, SIGTERM)
            while process.isRunning, ContinuousClock.now - start < limit {
                try? await Task.sleep(for: .milliseconds(20))
            }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                return (nil, ContinuousClock.now - start)
            }
            return (process.terminationStatus, ContinuousClock.now - start)
        }

        var log: String { (try? String(contentsOf: errors, encoding: .utf8)) ?? "" }

        /// Lines logged at error level or above (the JSON log's `level` field, or text).
        var errorLines: [String] {
            log.split(separator: "\n").map(String.init).filter {
                $0.contains(#""level":"error""#) || $0.contains(#""level":"critical""#) || $0.contains(" error ")
                    || $0.contains("ServiceGroupError")
            }
        }

        func stop() {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
    }

    struct Setup {
        let server: LocalKubeServer
        let client: KubeClient
        let directory: URL
        let kubeconfig: URL

        static func start() async throws -> Setup {
            let server = try await LocalKubeServer.start()
            try ManifestLoader.apply(path: repositoryRoot.appendingPathComponent("crds").path, to: server.store)
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tide-shutdown-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let kubeconfig = directory.appendingPathComponent("kubeconfig")
            try server.kubeconfig().write(to: kubeconfig, atomically: true, encoding: .utf8)
            let client = try KubeClient(connection: ClusterConnection(server: server.url))
            return Setup(server: server, client: client, directory: directory, kubeconfig: kubeconfig)
        }

        /// Runs `body` on a fresh setup and stops it afterwards, whatever `body` threw.
        static func run(_ body: (Setup) async throws -> Void) async throws {
            let setup = try await start()
            do { try await body(setup) } catch { Issue.record(error) }
            await setup.stop()
        }

        func stop() async {
            try? await client.shutdown()
            await server.stop()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    @Test("SIGTERM: the leading operator finishes, releases its Lease and exits 0; a standby exits 0 without writing it; the next takes over at once")
    func operatorLeaderHandsOver() async throws {
        try await Setup.run(operatorLeaderHandsOver)
    }

    func operatorLeaderHandsOver(_ setup: Setup) async throws {
        let lease = "tide-operator"
        func start(_ identity: String) throws -> RunningBinary {
            try RunningBinary(
                "tide-operator",
                [
                    "--kubeconfig", setup.kubeconfig.path, "--leader-elect", "--leader-election-namespace", "default",
                    "--leader-election-id", lease, "--metrics-bind-address", "127.0.0.1:\(try freeLoopbackPort())",
                    "--health-probe-bind-address", "127.0.0.1:\(try freeLoopbackPort())", "--log-format", "json",
                ], identity: identity, directory: setup.directory)
        }
        let leases = setup.client.namespaced(Lease.self, in: "default")
        let first = try start("operator-a")
        defer { first.stop() }
        #expect(await eventually(timeout: .seconds(20)) { try await leases.getIfPresent(lease)?.spec?.holderIdentity == "operator-a" })
        let second = try start("operator-b")
        let standby = try start("operator-c")
        defer { second.stop(); standby.stop() }

        // The leader works: an Application gets its Deployment.
        _ = try await setup.client.namespaced(Application.self, in: "default").create(
            Application(metadata: ObjectMeta(name: "web"), spec: ApplicationSpec(image: "hello:1", replicas: 1)))
        #expect(await eventually(timeout: .seconds(20)) { try await setup.client.namespaced(Deployment.self, in: "default").getIfPresent("web") != nil })
        try await Task.sleep(for: .milliseconds(500))

        // A standby stops: 0, and the Lease is untouched.
        let before = try await leases.get(lease)
        let standbyExit = await standby.terminate()
        #expect(standbyExit.code == 0, "standby: \(standby.log)")
        #expect(standbyExit.took < .seconds(5))
        let afterStandby = try await leases.get(lease)
        #expect(afterStandby.spec?.holderIdentity == "operator-a")
        #expect(standby.errorLines.isEmpty, "\(standby.errorLines)")
        #expect(!standby.log.contains("lease"), "a standby does not write the Lease: \(standby.log)")
        _ = before

        // The leader stops: 0, the Lease released, and the other candidate takes it well
        // inside the 15 s lease duration.
        let leaderExit = await first.terminate()
        #expect(leaderExit.code == 0, "leader: \(first.log)")
        #expect(leaderExit.took < .seconds(10))
        #expect(first.log.contains("released the lease"), "\(first.log)")
        #expect(!first.log.contains("could not release"))
        #expect(first.errorLines.isEmpty, "\(first.errorLines)")
        let handedOver = ContinuousClock.now
        #expect(await eventually(timeout: .seconds(20)) { try await leases.getIfPresent(lease)?.spec?.holderIdentity == "operator-b" })
        #expect(ContinuousClock.now - handedOver < .seconds(5), "the successor did not wait for the lease to expire")

        let lastExit = await second.terminate()
        #expect(lastExit.code == 0, "\(second.log)")
        #expect(try await leases.get(lease).spec?.holderIdentity == nil, "the last leader released the Lease too")
    }

    @Test("SIGTERM: tide-metrics-adapter and a Continuous-mode tide-scaler (for an Application, and for an Autoscaler, restarted) exit 0 without error lines")
    func adapterAndScaler() async throws {
        try await Setup.run(adapterAndScaler)
    }

    func adapterAndScaler(_ setup: Setup) async throws {
        // The front-proxy settings kube-apiserver publishes, for the adapter to read.
        let frontProxy = try CertificateAuthority(commonName: "front-proxy-ca")
        _ = try? await setup.client.clusterScoped(Namespace.self).create(Namespace(name: "kube-system"))
        _ = try await setup.client.namespaced(ConfigMap.self, in: "kube-system").create(ConfigMap(
            metadata: ObjectMeta(name: "extension-apiserver-authentication"),
            data: ["requestheader-client-ca-file": frontProxy.certificatePEM, "requestheader-allowed-names": #"["front-proxy-client"]"#]))
        let adapterPort = try freeLoopbackPort()
        let adapterMetricsPort = try freeLoopbackPort()
        let adapter = try RunningBinary(
            "tide-metrics-adapter",
            [
                "--kubeconfig", setup.kubeconfig.path, "--bind-address", "127.0.0.1", "--secure-port", "\(adapterPort)",
                "--metrics-bind-address", "127.0.0.1:\(adapterMetricsPort)", "--health-probe-bind-address", "127.0.0.1:\(try freeLoopbackPort())",
                "--api-service", "", "--certificate-name", "127.0.0.1",
            ], directory: setup.directory)
        defer { adapter.stop() }

        var scaling = Scaling(
            minReplicas: 1, maxReplicas: 5,
            prometheus: PrometheusSource(address: "http://127.0.0.1:\(try freeLoopbackPort())", query: "sum(up)"),
            target: MetricTarget(type: .perReplica, value: "5"))
        scaling.mode = .continuous
        let looped = try await setup.client.namespaced(Application.self, in: "default").create(
            Application(metadata: ObjectMeta(name: "looped"), spec: ApplicationSpec(image: "hello:1", replicas: 1, scaling: scaling)))
        // Its Autoscaler, as the operator makes it: `--application looped` runs that one's scaler.
        _ = try await setup.client.namespaced(Autoscaler.self, in: "default").create(try #require(looped.scalingAutoscaler))
        let scaler = try RunningBinary(
            "tide-scaler",
            ["--kubeconfig", setup.kubeconfig.path, "--namespace", "default", "--application", "looped", "--interval", "1s"],
            directory: setup.directory)
        defer { scaler.stop() }

        let listening = await eventually(timeout: .seconds(20)) { adapter.log.contains("Server started") }
        #expect(listening, "\(adapter.log)")
        // The adapter's own /metrics is secure by default, as the operator's: no token, 401.
        #expect(await eventually(timeout: .seconds(10)) {
            (try? await SecureMetricsTests.scrape("https://127.0.0.1:\(adapterMetricsPort)/metrics"))?.code == 401
        }, "\(adapter.log)")
        // The scaler has decided at least once (the metric is unreachable: it holds).
        #expect(await eventually(timeout: .seconds(20)) {
            try await setup.client.namespaced(Autoscaler.self, in: "default").get("looped").status?.scaling?.consecutiveFailures ?? 0 >= 1
        })

        let adapterExit = await adapter.terminate()
        #expect(adapterExit.code == 0, "\(adapter.log)")
        #expect(adapterExit.took < .seconds(10))
        #expect(adapter.errorLines.isEmpty, "\(adapter.errorLines)")
        let scalerExit = await scaler.terminate()
        #expect(scalerExit.code == 0, "\(scaler.log)")
        #expect(scalerExit.took < .seconds(10))

        // An observing Autoscaler's Continuous scaler: SIGTERM exits 0, and a restart
        // goes on from the memory the first one left in status.
        let deployment = try JSONValue.object([
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web"],
            "spec": ["replicas": 2, "selector": ["matchLabels": ["app": "web"]], "template": [
                "metadata": ["labels": ["app": "web"]], "spec": ["containers": [["name": "web", "image": "web:1"]]],
            ]],
        ]).decode(as: DynamicObject.self)
        _ = try await setup.client.resource(DynamicObject.self, at: Deployment.resource, namespace: "default").create(deployment)
        _ = try await setup.client.namespaced(Autoscaler.self, in: "default").create(Autoscaler(
            metadata: ObjectMeta(name: "web"),
            spec: AutoscalerSpec(scaleTargetRef: .init(apiVersion: "apps/v1", kind: "Deployment", name: "web"), observe: true, scaling: scaling)))
        func failures() async throws -> Int32 {
            try await setup.client.namespaced(Autoscaler.self, in: "default").get("web").status?.scaling?.consecutiveFailures ?? 0
        }
        var seen: Int32 = 0
        for run in 1...2 {
            let watcher = try RunningBinary(
                "tide-scaler", ["--kubeconfig", setup.kubeconfig.path, "--namespace", "default", "--autoscaler", "web", "--interval", "1s"],
                directory: setup.directory)
            defer { watcher.stop() }
            let before = seen
            #expect(await eventually(timeout: .seconds(20)) { try await failures() > before }, "run \(run): \(watcher.log)")
            seen = try await failures()
            let exit = await watcher.terminate()
            #expect(exit.code == 0 && exit.took < .seconds(10), "run \(run): \(watcher.log)")
        }
        #expect(seen >= 2, "the restarted scaler counted on from the first one's failures")
        let target = try await setup.client.resource(DynamicObject.self, at: Deployment.resource, namespace: "default").getScale("web")
        #expect(target.spec.replicas == 2, "observing never writes the target")
    }
}
