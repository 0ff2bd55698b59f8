import AsyncHTTPClient
import Foundation
import KubeAPI
import KubeAPIExtensions
import KubeClient
import Logging
import NIOCore
import NIOSSL
import TideAPI
import TideMetricsAdapter
import TideOperator
import Testing

/// The metrics adapter installed as users install it (`config/with-metrics-adapter`),
/// running in this process with its ServiceAccount's token (the component's RBAC) and
/// listening on its Service's ClusterIP, which is where kube-apiserver's aggregator
/// dials it. Without a kubelet, the test marks the adapter's Pod Ready (with a
/// documentation-range IP) so the Endpoints the APIService's availability check wants
/// exist.
actor MetricsAdapterInstall {
    static let shared = MetricsAdapterInstall()

    struct Installed: Sendable {
        var cluster: RealCluster
        var admin: KubeClient
        var url: String
        var caPEM: String
    }

    private var task: Task<Installed, any Error>?

    func installed() async throws -> Installed {
        if let task { return try await task.value }
        let task = Task { () throws -> Installed in try await Self.install() }
        self.task = task
        return try await task.value
    }

    /// What a kubelet would do for the Pods `selector` matches: a Node to run on (the
    /// Endpoints controller skips Pods without one), the binding to it, and a Ready
    /// status with `ip`.
    static func playKubelet(for selector: String, in namespace: String, ip: String, admin: KubeClient) async throws {
        let node = "tide-envtest-node"
        let nodes = admin.resource(DynamicObject.self, at: ResourceDescriptor(group: "", version: "v1", plural: "nodes", kind: "Node", namespaced: false), namespace: nil)
        if try await nodes.getIfPresent(node) == nil {
            _ = try await nodes.create(try JSONValue.object(["metadata": ["name": .string(node)]]).decode(as: DynamicObject.self))
        }
        let pods = admin.resource(
            DynamicObject.self, at: ResourceDescriptor(group: "", version: "v1", plural: "pods", kind: "Pod", namespaced: true), namespace: namespace)
        for _ in 0..<100 {
            let found = try await pods.list(labelSelector: selector).items.filter { $0.metadata.deletionTimestamp == nil }
            guard !found.isEmpty else {
                try await Task.sleep(for: .milliseconds(200))
                continue
            }
            for pod in found {
                let binding: JSONValue = [
                    "apiVersion": "v1", "kind": "Binding", "metadata": ["name": .string(pod.name)],
                    "target": ["apiVersion": "v1", "kind": "Node", "name": .string(node)],
                ]
                _ = try? await admin.request(
                    .POST, path: "/api/v1/namespaces/\(namespace)/pods/\(pod.name)/binding",
                    body: Array(try KubeJSON.encoder.encode(binding)), contentType: "application/json", as: JSONValue.self)
                let now = Time.now.description
                _ = try await pods.patchStatus(pod.name, patch: ["status": [
                    "phase": "Running", "podIP": .string(ip), "podIPs": [["ip": .string(ip)]],
                    "conditions": [
                        ["type": "Ready", "status": "True", "lastTransitionTime": .string(now)],
                        ["type": "ContainersReady", "status": "True", "lastTransitionTime": .string(now)],
                    ],
                ]])
            }
            return
        }
        throw CommandFailed(description: "no Pod matched \(selector) in \(namespace) (did Pod Security admit it?)")
    }

    static func install() async throws -> Installed {
        let base = try await RealClusterInstall.shared.installed()
        let cluster = base.cluster
        let admin = base.admin
        try await cluster.kubectl(["apply", "-k", repositoryRoot.appendingPathComponent("config/with-metrics-adapter").path])
        let service = try await admin.namespaced(KubeAPI.Service.self, in: "tide-system").get("tide-metrics-adapter")
        guard let clusterIP = service.spec?.clusterIP, let servicePort = service.spec?.ports?.first?.port else {
            throw CommandFailed(description: "Service tide-system/tide-metrics-adapter has no ClusterIP or port")
        }
        let port = Int(servicePort)

        try await playKubelet(for: "app.kubernetes.io/name=tide-metrics-adapter", in: "tide-system", ip: "192.0.2.10", admin: admin)

        let token = try await cluster.serviceAccountToken("tide-metrics-adapter", namespace: "tide-system", admin: admin)
        let client = try cluster.client(token: token, userAgent: "tide-metrics-adapter-test")
        var options = MetricsAdapter.Options()
        options.host = clusterIP
        options.port = port
        options.healthProbeAddress = nil
        options.metricsAddress = nil
        options.serviceNamespace = "tide-system"
        options.extraAddresses = [clusterIP.split(separator: ".").compactMap { UInt8($0) }]
        options.cacheTTL = .seconds(1)
        options.shutdownSignals = []
        // custom.metrics.k8s.io's APIServices, applied by a later test, are published to
        // at the next look.
        options.checkInterval = .seconds(2)
        let adapter = MetricsAdapter(client: client, options: options, logger: Logger(label: "test-metrics-adapter"))
        let (bound, continuation) = AsyncStream<Int>.makeStream()
        let run = Task {
            defer { continuation.finish() }
            try await adapter.run(onBound: { continuation.yield($0) })
        }
        var listening = false
        for await _ in bound {
            listening = true
            break
        }
        if !listening { _ = try await run.value }
        let apiServices = admin.clusterScoped(APIService.self)
        let available = await eventually(timeout: .seconds(60)) {
            try await apiServices.get("v1beta1.external.metrics.k8s.io").available?.status == "True"
        }
        let apiService = try await apiServices.get("v1beta1.external.metrics.k8s.io")
        // Thrown, not #require'd: a later test reusing this install must fail too.
        guard available else { throw CommandFailed(description: "APIService not Available: \(apiService.available?.message ?? "no condition")") }
        guard let bundle = apiService.spec?.caBundle.flatMap({ Data(base64Encoded: $0) }) else {
            throw CommandFailed(description: "the adapter did not publish its CA in the APIService")
        }
        return Installed(cluster: cluster, admin: admin, url: "https://\(clusterIP):\(port)", caPEM: String(decoding: bundle, as: UTF8.self))
    }
}

@Suite("HPA mode and the metrics adapter on the real API server", .serialized, .enabled(if: RealCluster.isAvailable, Comment(rawValue: RealCluster.skipReason)))
struct MetricsAdapterRealClusterTests {
    func sendHello(_ port: Int, requests: Int) async throws {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        for _ in 0..<requests { _ = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/hello"), timeout: .seconds(5)) }
        try await client.shutdown()
    }

    func metric(_ name: String, metric: String, port: Int, type: MetricTargetType = .perReplica, mode: ScalingMode = .cronJob, replicas: Int32? = nil) -> Application {
        var scaling = Scaling(
            minReplicas: 1, maxReplicas: 6, mode: mode,
            metrics: [ScalingMetric(name: metric, http: HTTPSource(url: "http://127.0.0.1:\(port)/stats", valueLocation: "requests"), target: .init(type: type, value: "5"))])
        scaling.schedule = "0 0 1 1 *"
        return Application(metadata: ObjectMeta(name: name), spec: ApplicationSpec(image: "hello:1", replicas: replicas, scaling: scaling))
    }

    /// A direct HTTPS request to the adapter (not through kube-apiserver).
    func direct(_ installed: MetricsAdapterInstall.Installed, _ path: String, frontProxy: Bool, headers: [(String, String)] = []) async throws -> (Int, JSONValue) {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(installed.caPEM.utf8)))
        if frontProxy {
            let directory = installed.cluster.directory
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(directory.appendingPathComponent("front-proxy-client.crt").path).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: directory.appendingPathComponent("front-proxy-client.key").path, format: .pem))
        }
        var configuration = HTTPClient.Configuration()
        configuration.tlsConfiguration = tls
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        defer { _ = client.shutdown() }
        var request = HTTPClientRequest(url: installed.url + path)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await client.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        let json = (try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: body))) ?? .null
        return (Int(response.status.code), json)
    }

    @Test("through the aggregator: the APIService is Available, a metric's live value is served, bad input and unknown users are refused with a Status")
    func servedThroughTheAggregator() async throws {
        let installed = try await MetricsAdapterInstall.shared.installed()
        let cluster = installed.cluster
        let namespace = try await cluster.freshNamespace("adapter", admin: installed.admin)
        let port = try freeLoopbackPort()
        let hello = try startHelloService(port: port)
        defer { hello.terminate() }
        _ = try await installed.admin.namespaced(Application.self, in: namespace).create(metric("web", metric: "served", port: port))
        #expect(await eventually { (try? await sendHello(port, requests: 0)) != nil })
        try await sendHello(port, requests: 7)

        let path = "/apis/external.metrics.k8s.io/v1beta1/namespaces/\(namespace)/web-served"
        var served: JSONValue = .null
        #expect(await eventually(timeout: .seconds(10)) {
            served = try JSONDecoder().decode(JSONValue.self, from: Data(try await cluster.kubectl(["get", "--raw", path]).utf8))
            return served["items"]?.arrayValue?.first?["value"] == "7"
        }, "\(served)")
        #expect(served["items"]?.arrayValue?.first?["metricLabels"] == ["application": "web", "metric": "served"])

        // Bad input, answered as Kubernetes Statuses through kube-apiserver.
        let refusals: [(String, String)] = [
            ("/apis/external.metrics.k8s.io/v1beta1/namespaces/\(namespace)/web-nope", "no Application in namespace \(namespace) has a metric named by \"web-nope\""),
            ("/apis/external.metrics.k8s.io/v1beta1/namespaces/no-such-namespace/web-served", "namespace \"no-such-namespace\" not found"),
            (path + "?labelSelector=team%20in%20x", "unable to parse label selector term 'team in x'"),
        ]
        for (request, message) in refusals {
            await #expect { try await cluster.kubectl(["get", "--raw", request]) } throws: { error in
                "\(error)".contains(message)
            }
        }
        // kube-apiserver's own check, for a user with no grant.
        await #expect { try await cluster.kubectl(["--as=mallory", "get", "--raw", path]) } throws: { error in
            "\(error)".contains("Forbidden") && "\(error)".contains("mallory")
        }

        // Direct requests: no front-proxy certificate → 401, nothing else.
        let (anonymous, anonymousBody) = try await direct(installed, path, frontProxy: false)
        #expect(anonymous == 401)
        #expect(anonymousBody["reason"] == "Unauthorized")
        #expect(anonymousBody["items"] == nil)
        // The front-proxy certificate speaking for a user the SubjectAccessReview denies → 403.
        let (denied, deniedBody) = try await direct(installed, path, frontProxy: true, headers: [("X-Remote-User", "mallory"), ("X-Remote-Group", "system:authenticated")])
        #expect(denied == 403)
        #expect(deniedBody["message"]?.stringValue?.contains("User \"mallory\" cannot list resource \"web-served\"") == true)
        // ...and for one it allows → the value.
        let (allowed, allowedBody) = try await direct(installed, path, frontProxy: true, headers: [("X-Remote-User", "admin"), ("X-Remote-Group", "system:masters")])
        #expect(allowed == 200)
        #expect(allowedBody["items"]?.arrayValue?.count == 1)
        // The probes answer without a certificate.
        #expect(try await direct(installed, "/healthz", frontProxy: false).0 == 200)
    }

    @Test("a renewal's first step on the real aggregator: a caBundle with the next CA beside the served one is accepted, and the adapter stays Available and served")
    func renewalBundle() async throws {
        let installed = try await MetricsAdapterInstall.shared.installed()
        let name = "v1beta1.external.metrics.k8s.io"
        let apiServices = installed.admin.clusterScoped(APIService.self)
        var minter = ServingCertificate.Minter(service: "tide-metrics-adapter", namespace: "tide-system")
        minter.apiService = name
        let next = try await minter.mint(client: installed.admin, previousCA: installed.caPEM)
        let stored = String(decoding: Data(base64Encoded: try await apiServices.get(name).spec?.caBundle ?? "") ?? Data(), as: UTF8.self)
        #expect(stored.contains(next.caPEM.trimmingWhitespace()) && stored.contains(installed.caPEM.trimmingWhitespace()))
        // The served certificate (signed by the previous CA) is still trusted through the aggregator.
        try await Task.sleep(for: .seconds(2))
        #expect(await eventually(timeout: .seconds(30)) {
            (try? await installed.cluster.kubectl(["get", "--raw", "/apis/external.metrics.k8s.io/v1beta1"])) != nil
        })
        #expect(try await apiServices.get(name).available?.status == "True")
        // Back to the bundle the running adapter published, for the tests after this one.
        try await ServingCertificate.publish(
            caPEM: installed.caPEM, apiService: name, namespace: "tide-system", service: "tide-metrics-adapter", client: installed.admin)
    }

    @Test("an Application in mode HPA: the HPA controller scales the Application (and so its Deployment) on the adapter's value; a failing source shows in both conditions and the replicas hold; the modes switch cleanly")
    func hpaMode() async throws {
        let installed = try await MetricsAdapterInstall.shared.installed()
        let harness = try await OperatorHarness.start(.realCluster)
        defer { Task { await harness.stop() } }
        let port = try freeLoopbackPort()
        let hello = try startHelloService(port: port)
        defer { hello.terminate() }
        #expect(await eventually { (try? await sendHello(port, requests: 0)) != nil })
        let hpas = harness.client.namespaced(HorizontalPodAutoscaler.self, in: harness.namespace)
        let cronJobs = harness.client.namespaced(CronJob.self, in: harness.namespace)

        // CronJob mode with 3 replicas, then mode HPA: the Application's Autoscaler swaps
        // its scaler for a HorizontalPodAutoscaler on the Application's /scale; the count stays.
        _ = try await harness.applications.create(metric("shop", metric: "served", port: port, replicas: 3))
        #expect(await eventually(timeout: .seconds(20)) { try await harness.deployments.getIfPresent("shop")?.spec?.replicas == 3 })
        #expect(await eventually(timeout: .seconds(20)) { try await cronJobs.getIfPresent("shop-scaler") != nil })
        _ = try await harness.applications.mergePatch("shop", patch: ["spec": ["scaling": ["mode": "HPA"]]])
        #expect(await eventually(timeout: .seconds(20)) { try await hpas.getIfPresent("shop-scaler") != nil })
        #expect(await eventually(timeout: .seconds(20)) { try await cronJobs.getIfPresent("shop-scaler") == nil }, "the scaler CronJob went with CronJob mode")
        let active = await eventually(timeout: .seconds(30)) { try await harness.condition("ScalingActive", of: "shop")?.status == "True" }
        let activeCondition = try await harness.condition("ScalingActive", of: "shop")
        #expect(active, "the HPA read the metric: \(String(describing: activeCondition))")
        #expect(try await harness.deployments.get("shop").spec?.replicas == 3, "the Application's count stays")
        #expect(try await harness.condition("AbleToScale", of: "shop")?.status == "True")

        // 20 requests at 5 per replica: the HPA wants 4, writes it to the Application's
        // /scale, and the operator rolls it out.
        try await sendHello(port, requests: 20)
        let scaled = await eventually(timeout: .seconds(60)) { try await harness.deployments.get("shop").spec?.replicas == 4 }
        let replicas = try await harness.deployments.get("shop").spec?.replicas
        #expect(scaled, "replicas: \(String(describing: replicas))")
        #expect(try await harness.applications.get("shop").spec.replicas == 4)
        let autoscaler = try await hpas.get("shop-scaler")
        #expect(autoscaler.spec?.metrics?.first?.external?.metric.name == "shop-served")

        // The source fails: the adapter answers 503, the HPA cannot compute, and says so.
        hello.terminate()
        hello.waitUntilExit()
        let failing = await eventually(timeout: .seconds(60)) {
            let condition = try await harness.condition("ScalingActive", of: "shop")
            return condition?.status == "False" && condition?.reason == "FailedGetExternalMetric"
        }
        let failingCondition = try await harness.condition("ScalingActive", of: "shop")
        #expect(failing, "\(String(describing: failingCondition))")
        let message = try await harness.condition("ScalingActive", of: "shop")?.message ?? ""
        #expect(message.contains("shop-served"), "\(message)")
        try await Task.sleep(for: .seconds(6))
        #expect(try await harness.deployments.get("shop").spec?.replicas == 4, "no scale-down on a failing metric")

        // Back to CronJob mode: the HPA goes, the scaler comes back.
        _ = try await harness.applications.mergePatch("shop", patch: ["spec": ["scaling": ["mode": "CronJob"]]])
        #expect(await eventually(timeout: .seconds(20)) { try await hpas.getIfPresent("shop-scaler") == nil })
        #expect(await eventually(timeout: .seconds(20)) { try await cronJobs.getIfPresent("shop-scaler") != nil })
        #expect(await eventually(timeout: .seconds(20)) { try await harness.condition("AbleToScale", of: "shop") == nil })
        _ = installed
    }

    @Test("custom.metrics.k8s.io through the aggregator: both APIServices Available once applied, kubectl get --raw of an Application's metric, an HPA of type Object scaling a Deployment on it")
    func customMetrics() async throws {
        let installed = try await MetricsAdapterInstall.shared.installed()
        let cluster = installed.cluster
        let admin = installed.admin
        try await cluster.kubectl(["apply", "-k", repositoryRoot.appendingPathComponent("config/custom-metrics").path])
        let apiServices = admin.clusterScoped(APIService.self)
        for name in ["v1beta2.custom.metrics.k8s.io", "v1beta1.custom.metrics.k8s.io"] {
            let available = await eventually(timeout: .seconds(90)) { try await apiServices.get(name).available?.status == "True" }
            let condition = try await apiServices.get(name).available
            #expect(available, "\(name): \(String(describing: condition))")
        }
        let namespace = try await cluster.freshNamespace("custom", admin: admin)
        let port = try freeLoopbackPort()
        let hello = try startHelloService(port: port)
        defer { hello.terminate() }
        _ = try await admin.namespaced(Application.self, in: namespace).create(metric("web", metric: "served", port: port))
        #expect(await eventually { (try? await sendHello(port, requests: 0)) != nil })
        try await sendHello(port, requests: 7)

        let discovery = try await cluster.kubectl(["get", "--raw", "/apis/custom.metrics.k8s.io/v1beta2"])
        #expect(discovery.contains("applications.tide.dev/served") && discovery.contains("autoscalers.tide.dev/served"), "\(discovery)")
        let path = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/\(namespace)/applications.tide.dev/web/served"
        var served: JSONValue = .null
        #expect(await eventually(timeout: .seconds(10)) {
            served = try JSONDecoder().decode(JSONValue.self, from: Data(try await cluster.kubectl(["get", "--raw", path]).utf8))
            return served["items"]?.arrayValue?.first?["value"] == "7"
        }, "\(served)")
        #expect(served["items"]?.arrayValue?.first?["describedObject"]?["kind"] == "Application")
        let old = try await cluster.kubectl(["get", "--raw", "/apis/custom.metrics.k8s.io/v1beta1/namespaces/\(namespace)/applications.tide.dev/web/served"])
        #expect(old.contains(#""metricName":"served""#), "\(old)")
        await #expect { try await cluster.kubectl(["--as=mallory", "get", "--raw", path]) } throws: { error in
            "\(error)".contains("Forbidden") && "\(error)".contains("mallory")
        }
        await #expect { try await cluster.kubectl(["get", "--raw", path + "?metricSelector=a%3Db"]) } throws: { error in
            "\(error)".contains("metricSelector is not supported")
        }

        // An HPA of type Object, as the Kubernetes docs write it, on the Application's metric:
        // 7 requests at 2 per replica is 4 replicas.
        _ = try await cluster.kubectl(["create", "deployment", "worker", "--image=hello:1", "-n", namespace])
        let hpa = HorizontalPodAutoscaler(
            metadata: ObjectMeta(name: "worker"),
            spec: .init(
                scaleTargetRef: .init(apiVersion: "apps/v1", kind: "Deployment", name: "worker"), minReplicas: 1, maxReplicas: 6,
                metrics: [.init(object: .init(
                    describedObject: .init(apiVersion: "tide.dev/v1alpha1", kind: "Application", name: "web"), metric: .init(name: "served"),
                    target: .init(type: "AverageValue", averageValue: "2")))]))
        _ = try await admin.namespaced(HorizontalPodAutoscaler.self, in: namespace).create(hpa)
        let deployments = admin.namespaced(Deployment.self, in: namespace)
        let scaled = await eventually(timeout: .seconds(60)) { try await deployments.get("worker").spec?.replicas == 4 }
        let replicas = try await deployments.get("worker").spec?.replicas
        #expect(scaled, "replicas: \(String(describing: replicas))")
    }
}
