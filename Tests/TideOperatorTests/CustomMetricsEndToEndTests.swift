import AsyncHTTPClient
import Foundation
import KubeAPI
import KubeAPIExtensions
import KubeCertificates
import KubeClient
import LocalKube
import Logging
import NIOSSL
import TideAPI
import TideMetricsAdapter
import TideOperator
import TideTestSupport
import Testing

/// An HPA of `type: Object` on an Application, read as the HPA controller reads it:
/// through the aggregator's front-proxy identity, from `custom.metrics.k8s.io`, with the
/// access reviewed by the API server's RBAC.
@Suite("custom.metrics.k8s.io end to end", .serialized)
struct CustomMetricsEndToEndTests {
    @Test("mode HPA with hpa.metricType Object: the HPA's Object metric is served by the adapter from the metric's source; an APIService another server holds is left to it with a warning Event")
    func objectMetric() async throws {
        let server = try await LocalKubeServer.start()
        let client = try KubeClient(connection: ClusterConnection(server: server.url))
        let helloPort = try freeLoopbackPort()
        let hello = try startHelloService(port: helloPort)
        var adapterTask: Task<Void, any Error>?
        do {
            try await run(server, client, helloPort: helloPort) { adapterTask = $0 }
        } catch {
            Issue.record(error)
        }
        adapterTask?.cancel()
        _ = await adapterTask?.result
        hello.terminate()
        try? await client.shutdown()
        await server.stop()
    }

    func run(_ server: LocalKubeServer, _ client: KubeClient, helloPort: Int, started: (Task<Void, any Error>) -> Void) async throws {
        try ManifestLoader.apply(path: repositoryRoot.appendingPathComponent("crds").path, to: server.store)
        for namespace in ["kube-system", "tide-system", "shop"] {
            _ = try? await client.clusterScoped(Namespace.self).create(Namespace(name: namespace))
        }
        let frontProxy = try CertificateAuthority(commonName: "front-proxy-ca")
        _ = try await client.namespaced(ConfigMap.self, in: "kube-system").create(ConfigMap(
            metadata: ObjectMeta(name: "extension-apiserver-authentication"),
            data: ["requestheader-client-ca-file": frontProxy.certificatePEM, "requestheader-allowed-names": #"["front-proxy-client"]"#]))
        // The APIServices as a cluster has them: external and custom v1beta2 applied from
        // config/, custom v1beta1 still held by prometheus-adapter.
        try ManifestLoader.apply(path: repositoryRoot.appendingPathComponent("config/components/metrics-adapter/apiservice.yaml").path, to: server.store)
        try ManifestLoader.apply(path: repositoryRoot.appendingPathComponent("config/custom-metrics/apiservices.yaml").path, to: server.store)
        let apiServices = client.clusterScoped(APIService.self)
        _ = try await apiServices.mergePatch("v1beta1.custom.metrics.k8s.io", patch: ["spec": ["service": ["namespace": "monitoring", "name": "prometheus-adapter"]]])
        // The HPA controller's role, as kube-controller-manager's bootstrap policy grants it.
        for (kind, body) in [
            ("clusterroles", #"{"metadata":{"name":"hpa-reads-custom-metrics"},"rules":[{"apiGroups":["custom.metrics.k8s.io"],"resources":["*"],"verbs":["get","list"]}]}"#),
            ("clusterrolebindings", #"{"metadata":{"name":"hpa-reads-custom-metrics"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"hpa-reads-custom-metrics"},"subjects":[{"kind":"User","name":"system:serviceaccount:kube-system:horizontal-pod-autoscaler"}]}"#),
        ] {
            _ = try await client.send(.POST, path: "/apis/rbac.authorization.k8s.io/v1/\(kind)", body: Array(body.utf8), contentType: "application/json")
        }

        var options = MetricsAdapter.Options()
        options.host = "127.0.0.1"
        options.port = 0
        options.healthProbeAddress = nil
        options.metricsAddress = nil
        options.extraAddresses = [[127, 0, 0, 1]]
        options.shutdownSignals = []
        options.cacheTTL = .zero
        let bound = Port()
        let adapter = MetricsAdapter(client: client, options: options, logger: Logger(label: "test-metrics-adapter"))
        started(Task { try await adapter.run(onBound: { bound.set($0) }) })
        #expect(await eventually(timeout: .seconds(20)) { bound.value > 0 })

        // Published where the APIService names the adapter; another server's left alone,
        // with a warning Event on it.
        let ours = try await apiServices.get("v1beta2.custom.metrics.k8s.io")
        #expect((ours.spec?.caBundle ?? "").count > 100, "the adapter's CA is published")
        let theirs = try await apiServices.get("v1beta1.custom.metrics.k8s.io")
        #expect(theirs.spec?.caBundle == nil && theirs.spec?.service?.name == "prometheus-adapter")
        #expect(await eventually {
            try await client.namespaced(Event.self, in: "default").list().items.contains {
                $0.reason == "HeldByAnotherServer" && $0.regarding?.name == "v1beta1.custom.metrics.k8s.io"
            }
        })

        // An Application in mode HPA with Object metrics, and the HPA Tide builds for it.
        var scaling = Scaling(
            minReplicas: 1, maxReplicas: 10, mode: .hpa,
            metrics: [ScalingMetric(name: "served", http: HTTPSource(url: "http://127.0.0.1:\(helloPort)/stats", valueLocation: "requests"), target: .init(type: .perReplica, value: "2"))])
        scaling.hpa = HPASettings(metricType: .object)
        let application = try await client.namespaced(Application.self, in: "shop").create(
            Application(metadata: ObjectMeta(name: "checkout"), spec: ApplicationSpec(image: "hello:1", scaling: scaling)))
        let hpa = AutoscalerChildren.horizontalPodAutoscaler(for: try #require(application.scalingAutoscaler))
        let metric = try #require(hpa.spec?.metrics?.first?.object)
        #expect(metric.describedObject == HorizontalPodAutoscaler.CrossVersionObjectReference(apiVersion: "tide.dev/v1alpha1", kind: "Application", name: "checkout"))
        #expect(metric.target.type == "AverageValue")
        // What kube-apiserver accepts of it.
        _ = try await client.namespaced(HorizontalPodAutoscaler.self, in: "shop").create(hpa)

        // Some load on the source: hello-service counts its requests.
        for _ in 0..<7 { _ = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(helloPort)/hello"), timeout: .seconds(5)) }

        // The HPA controller's read: GET …/namespaces/shop/applications.tide.dev/checkout/served.
        let caPEM = String(decoding: try #require(Data(base64Encoded: ours.spec?.caBundle ?? "")), as: UTF8.self)
        let path = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/applications.tide.dev/\(metric.describedObject.name)/\(metric.metric.name)"
        let (code, body) = try await Self.aggregated(port: bound.value, path: path, trusting: caPEM, frontProxy: frontProxy, user: "system:serviceaccount:kube-system:horizontal-pod-autoscaler")
        #expect(code == 200, "\(body)")
        let item = try #require(try JSONDecoder().decode(JSONValue.self, from: Data(body.utf8))["items"]?.arrayValue?.first)
        #expect(item["describedObject"]?["name"] == "checkout")
        let value = try #require(item["value"]?.stringValue.flatMap(Double.init))
        #expect(value >= 7, "hello-service served at least the 7 requests: \(body)")
        // The HPA would want ceil(value / 2) replicas, within its bounds.
        #expect(min(10, Int((value / 2).rounded(.up))) >= 4)

        // Someone without the role: 403 from the same reviews.
        let (denied, message) = try await Self.aggregated(port: bound.value, path: path, trusting: caPEM, frontProxy: frontProxy, user: "mallory")
        #expect(denied == 403, "\(message)")
    }

    /// A request as the aggregator forwards it: TLS trusting the adapter's CA, the
    /// front-proxy client certificate, and the user in `X-Remote-User`.
    static func aggregated(port: Int, path: String, trusting bundle: String, frontProxy: CertificateAuthority, user: String) async throws -> (Int, String) {
        let identity = try frontProxy.issueClientCertificate(commonName: "front-proxy-client")
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(bundle.utf8)))
        tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(identity.certificatePEM.utf8)).map { .certificate($0) }
        tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(identity.keyPEM.utf8), format: .pem))
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        var request = HTTPClientRequest(url: "https://127.0.0.1:\(port)\(path)")
        request.headers.add(name: "X-Remote-User", value: user)
        do {
            let response = try await http.execute(request, timeout: .seconds(10))
            let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
            try await http.shutdown()
            return (Int(response.status.code), body)
        } catch {
            try? await http.shutdown()
            throw error
        }
    }
}

private final class Port: @unchecked Sendable {
    private let lock = NSLock()
    private var port = 0
    func set(_ value: Int) { lock.withLock { port = value } }
    var value: Int { lock.withLock { port } }
}
