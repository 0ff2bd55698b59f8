import AsyncHTTPClient
import BenchmarkSupport
import Foundation
import KubeAPI
import KubeAPIExtensions
import KubeClient
import LocalKube
import NIOSSL
import TideAPI

/// `operator-bench --adapter`: tide-metrics-adapter (a separate process, the image's
/// binary when given) behind a real kube-apiserver's aggregator. Request latency
/// through kube-apiserver and direct (with the front-proxy certificate), each beside
/// its floor from the same run, and the adapter's resident memory.
///
/// The adapter runs with `--cache-seconds 0`: every request reads the metric's source
/// (a real hello-service), the worst case of what an HPA asks.
struct AdapterBench {
    let root: URL
    let adapterBinary: String
    let helloBinary: String
    let samples: Int

    func run() async throws {
        let plane = try ControlPlane.start(root: root, name: "tide-adapter-bench")
        defer { plane.stop() }
        let envtest = plane.envtest
        let adminConfig = plane.kubeconfig
        var connection = try KubeConfigLoader(kubeconfigPath: adminConfig, environment: [:]).load()
        connection.userAgent = "operator-bench"
        let admin = try KubeClient(connection: connection, requestTimeout: .seconds(30))
        let kubectl = ["/usr/bin/kubectl", "/usr/local/bin/kubectl"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "kubectl"
        try shell(kubectl, ["--kubeconfig", adminConfig, "apply", "-f", root.appendingPathComponent("crds").path])
        try shell(kubectl, ["--kubeconfig", adminConfig, "wait", "--for=condition=Established", "crd/applications.tide.dev", "--timeout=60s"])
        try shell(kubectl, ["--kubeconfig", adminConfig, "apply", "-k", root.appendingPathComponent("config/with-metrics-adapter").path])
        let service = try await admin.namespaced(KubeAPI.Service.self, in: "tide-system").get("tide-metrics-adapter")
        guard let clusterIP = service.spec?.clusterIP, let port = service.spec?.ports?.first?.port else { throw BenchError("the adapter's Service has no ClusterIP") }
        try await standInForKubelet(admin)

        let helloPort = try LoopbackPort.free()
        let hello = try Child.start(helloBinary, ["--host", "127.0.0.1", "--port", String(helloPort)])
        defer { hello.stop() }
        _ = try await admin.clusterScoped(Namespace.self).create(Namespace(name: "bench"))
        let scaling = Scaling(
            maxReplicas: 5,
            metrics: [ScalingMetric(name: "served", http: HTTPSource(url: "http://127.0.0.1:\(helloPort)/stats", valueLocation: "requests"), target: .init(type: .perReplica, value: "5"))])
        _ = try await admin.namespaced(Application.self, in: "bench").create(
            Application(metadata: ObjectMeta(name: "web"), spec: ApplicationSpec(image: "hello:1", scaling: scaling)))

        let adapter = try Child.start(adapterBinary, [
            "--kubeconfig", adminConfig, "--bind-address", clusterIP, "--secure-port", String(port), "--service-namespace", "tide-system",
            "--certificate-name", clusterIP, "--metrics-bind-address", "0", "--health-probe-bind-address", "0", "--certificate-check-interval", "1s", "--cache-seconds", "0", "--log-level", "error",
        ])
        defer { adapter.stop() }
        let apiServices = admin.clusterScoped(APIService.self)
        var available = false
        for _ in 0..<120 where !available {
            available = (try? await apiServices.get("v1beta1.external.metrics.k8s.io").available?.status) == "True"
            if !available { try await Task.sleep(for: .milliseconds(500)) }
        }
        guard available else { throw BenchError("the APIService did not become Available") }
        let idleRSS = adapter.residentBytes()
        guard let bundle = try await apiServices.get("v1beta1.external.metrics.k8s.io").spec?.caBundle.flatMap({ Data(base64Encoded: $0) }) else {
            throw BenchError("the adapter published no CA")
        }

        let path = "/apis/external.metrics.k8s.io/v1beta1/namespaces/bench/web-served"
        // Through kube-apiserver (authn, authz, the aggregator's proxy), beside a GET
        // kube-apiserver answers itself.
        _ = try await admin.request(.GET, path: path, as: JSONValue.self)
        var aggregated: [Double] = []
        var ownGet: [Double] = []
        for _ in 0..<samples {
            var start = ContinuousClock.now
            let reply = try await admin.request(.GET, path: path, as: JSONValue.self)
            aggregated.append((ContinuousClock.now - start).inSeconds)
            guard reply["items"]?.arrayValue?.count == 1 else { throw BenchError("no value through kube-apiserver: \(reply)") }
            start = ContinuousClock.now
            _ = try await admin.request(.GET, path: "/api/v1/namespaces/bench", as: JSONValue.self)
            ownGet.append((ContinuousClock.now - start).inSeconds)
        }

        // Direct, as the aggregator connects (front-proxy certificate, the user in
        // headers), beside a bare GET of the metric's source.
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(bundle)))
        tls.certificateChain = try NIOSSLCertificate.fromPEMFile("\(envtest)/front-proxy-client.crt").map { .certificate($0) }
        tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: "\(envtest)/front-proxy-client.key", format: .pem))
        var configuration = HTTPClient.Configuration()
        configuration.tlsConfiguration = tls
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        defer { _ = client.shutdown() }
        var request = HTTPClientRequest(url: "https://\(clusterIP):\(port)\(path)")
        request.headers.add(name: "X-Remote-User", value: "admin")
        request.headers.add(name: "X-Remote-Group", value: "system:masters")
        let source = HTTPClientRequest(url: "http://127.0.0.1:\(helloPort)/stats")
        _ = try await client.execute(request, timeout: .seconds(10)).body.collect(upTo: 1 << 20)
        var direct: [Double] = []
        var sourceGet: [Double] = []
        for _ in 0..<samples {
            var start = ContinuousClock.now
            let response = try await client.execute(request, timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 1 << 20)
            direct.append((ContinuousClock.now - start).inSeconds)
            guard response.status.code == 200 else { throw BenchError("direct request answered \(response.status.code)") }
            start = ContinuousClock.now
            _ = try await client.execute(source, timeout: .seconds(10)).body.collect(upTo: 1 << 20)
            sourceGet.append((ContinuousClock.now - start).inSeconds)
        }
        let busyRSS = adapter.residentBytes()

        // custom.metrics.k8s.io: the same metric as an Object metric of the Application,
        // once its APIService is applied (the adapter publishes its CA at its next look).
        _ = try await apiServices.create(APIService(
            metadata: ObjectMeta(name: "v1beta2.custom.metrics.k8s.io"),
            spec: .init(
                group: "custom.metrics.k8s.io", version: "v1beta2",
                service: .init(namespace: "tide-system", name: "tide-metrics-adapter", port: 443), groupPriorityMinimum: 100, versionPriority: 200)))
        var customAvailable = false
        for _ in 0..<120 where !customAvailable {
            customAvailable = (try? await apiServices.get("v1beta2.custom.metrics.k8s.io").available?.status) == "True"
            if !customAvailable { try await Task.sleep(for: .milliseconds(500)) }
        }
        guard customAvailable else { throw BenchError("the custom.metrics.k8s.io APIService did not become Available") }
        let customPath = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/bench/applications.tide.dev/web/served"
        _ = try await admin.request(.GET, path: customPath, as: JSONValue.self)
        var customAggregated: [Double] = []
        for _ in 0..<samples {
            let start = ContinuousClock.now
            let reply = try await admin.request(.GET, path: customPath, as: JSONValue.self)
            customAggregated.append((ContinuousClock.now - start).inSeconds)
            guard reply["items"]?.arrayValue?.count == 1 else { throw BenchError("no custom metric through kube-apiserver: \(reply)") }
        }
        var customRequest = HTTPClientRequest(url: "https://\(clusterIP):\(port)\(customPath)")
        customRequest.headers.add(name: "X-Remote-User", value: "admin")
        customRequest.headers.add(name: "X-Remote-Group", value: "system:masters")
        var customDirect: [Double] = []
        for _ in 0..<samples {
            let start = ContinuousClock.now
            let response = try await client.execute(customRequest, timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 1 << 20)
            customDirect.append((ContinuousClock.now - start).inSeconds)
            guard response.status.code == 200 else { throw BenchError("direct custom request answered \(response.status.code)") }
        }
        let customRSS = adapter.residentBytes()
        try await admin.shutdown()

        let rows: [[String]] = [
            ["through kube-apiserver, p50 (ms)", ms(percentile(aggregated, 0.5)), "kube-apiserver's own GET: \(ms(percentile(ownGet, 0.5))) ms"],
            ["through kube-apiserver, p99 (ms)", ms(percentile(aggregated, 0.99)), "kube-apiserver's own GET: \(ms(percentile(ownGet, 0.99))) ms"],
            ["direct with the front-proxy certificate, p50 (ms)", ms(percentile(direct, 0.5)), "the source's own GET: \(ms(percentile(sourceGet, 0.5))) ms"],
            ["direct with the front-proxy certificate, p99 (ms)", ms(percentile(direct, 0.99)), "the source's own GET: \(ms(percentile(sourceGet, 0.99))) ms"],
            ["adapter RSS idle / after \(2 * samples + 2) requests (MiB)", "\(mib(idleRSS)) / \(mib(busyRSS))", "from /proc; \(adapterBinary)"],
            ["custom.metrics.k8s.io Object metric through kube-apiserver, p50 (ms)", ms(percentile(customAggregated, 0.5)), "external: \(ms(percentile(aggregated, 0.5))) ms"],
            ["custom.metrics.k8s.io Object metric through kube-apiserver, p99 (ms)", ms(percentile(customAggregated, 0.99)), "external: \(ms(percentile(aggregated, 0.99))) ms"],
            ["custom.metrics.k8s.io direct with the front-proxy certificate, p50 (ms)", ms(percentile(customDirect, 0.5)), "external: \(ms(percentile(direct, 0.5))) ms"],
            ["adapter RSS after the custom requests (MiB)", mib(customRSS), "after the external ones: \(mib(busyRSS))"],
        ]
        printTable("tide-metrics-adapter behind a real kube-apiserver 1.28.7 (uncached: every request reads the source; \(samples) requests each)", rows: rows)
    }

    /// What a kubelet would do for the adapter's Pod: a Node (the Endpoints controller
    /// skips Pods without one), the binding, a Ready status with an address, so the
    /// APIService's availability check finds Endpoints. The aggregator dials the
    /// Service's ClusterIP, where the adapter process listens.
    func standInForKubelet(_ admin: KubeClient) async throws {
        let nodes = admin.resource(DynamicObject.self, at: ResourceDescriptor(group: "", version: "v1", plural: "nodes", kind: "Node", namespaced: false), namespace: nil)
        _ = try await nodes.create(try JSONValue.object(["metadata": ["name": "bench-node"]]).decode(as: DynamicObject.self))
        let pods = admin.resource(DynamicObject.self, at: ResourceDescriptor(group: "", version: "v1", plural: "pods", kind: "Pod", namespaced: true), namespace: "tide-system")
        for _ in 0..<100 {
            let found = try await pods.list(labelSelector: "app.kubernetes.io/name=tide-metrics-adapter").items
            guard let pod = found.first else {
                try await Task.sleep(for: .milliseconds(200))
                continue
            }
            let binding: JSONValue = ["apiVersion": "v1", "kind": "Binding", "metadata": ["name": .string(pod.name)], "target": ["apiVersion": "v1", "kind": "Node", "name": "bench-node"]]
            _ = try await admin.request(
                .POST, path: "/api/v1/namespaces/tide-system/pods/\(pod.name)/binding", body: Array(try KubeJSON.encoder.encode(binding)),
                contentType: "application/json", as: JSONValue.self)
            let now = Time.now.description
            _ = try await pods.patchStatus(pod.name, patch: ["status": [
                "phase": "Running", "podIP": "192.0.2.10", "podIPs": [["ip": "192.0.2.10"]],
                "conditions": [["type": "Ready", "status": "True", "lastTransitionTime": .string(now)]],
            ]])
            return
        }
        throw BenchError("the adapter's Deployment made no Pod")
    }
}
