import AsyncHTTPClient
import BenchmarkSupport
import Foundation
import KubeAPI
import KubeAPIExtensions
import KubeCertificates
import KubeClient
import LocalKube
import NIOSSL
import TideAPI

/// `operator-bench --adapter-local`: tide-metrics-adapter (a separate process) against a
/// `local-kube` process, asked directly as the aggregator asks (front-proxy certificate,
/// the user in headers): an external metric and the same metric as a
/// `custom.metrics.k8s.io` Object metric, each with its access reviewed by local-kube's
/// RBAC (the answer kept 10 s, as in production) and its value read from a real
/// hello-service (answer cache off), beside a bare GET of the source; and the adapter's
/// resident memory after each. Runs where no control
/// plane does; `--adapter` measures the real aggregator.
struct AdapterLocalBench {
    let root: URL
    let directory: String
    let samples: Int

    func run() async throws {
        try await LocalKubeProcess.with(
            name: "tide-adapter-local-bench", binaries: directory, root: root,
            manifests: ["crds", "config/components/metrics-adapter/apiservice.yaml", "config/custom-metrics/apiservices.yaml"], run)
    }

    func run(_ localKube: LocalKubeProcess) async throws {
        let admin = localKube.admin
        let kubeconfig = localKube.kubeconfig
        for namespace in ["kube-system", "tide-system", "bench"] {
            _ = try? await admin.clusterScoped(Namespace.self).create(Namespace(name: namespace))
        }
        let frontProxy = try CertificateAuthority(commonName: "front-proxy-ca")
        _ = try await admin.namespaced(ConfigMap.self, in: "kube-system").create(ConfigMap(
            metadata: ObjectMeta(name: "extension-apiserver-authentication"),
            data: ["requestheader-client-ca-file": frontProxy.certificatePEM, "requestheader-allowed-names": #"["front-proxy-client"]"#]))
        let helloPort = try LoopbackPort.free()
        let hello = try Child.start("\(directory)/hello-service", ["--host", "127.0.0.1", "--port", String(helloPort)])
        defer { hello.stop() }
        let scaling = Scaling(
            maxReplicas: 5,
            metrics: [ScalingMetric(name: "served", http: HTTPSource(url: "http://127.0.0.1:\(helloPort)/stats", valueLocation: "requests"), target: .init(type: .perReplica, value: "5"))])
        _ = try await admin.namespaced(Application.self, in: "bench").create(
            Application(metadata: ObjectMeta(name: "web"), spec: ApplicationSpec(image: "hello:1", scaling: scaling)))

        let port = try LoopbackPort.free()
        let adapter = try Child.start("\(directory)/tide-metrics-adapter", [
            "--kubeconfig", kubeconfig, "--bind-address", "127.0.0.1", "--secure-port", String(port), "--service-namespace", "tide-system",
            "--certificate-name", "127.0.0.1", "--metrics-bind-address", "0", "--health-probe-bind-address", "0", "--cache-seconds", "0",
            "--log-level", "error",
        ])
        defer { adapter.stop() }
        let apiServices = admin.clusterScoped(APIService.self)
        var bundle: Data?
        for _ in 0..<200 where bundle == nil {
            bundle = try? await apiServices.get("v1beta2.custom.metrics.k8s.io").spec?.caBundle.flatMap { Data(base64Encoded: $0) }
            if bundle == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        guard let bundle else { throw BenchError("the adapter published no CA") }
        let idleRSS = adapter.residentBytes()

        let identity = try frontProxy.issueClientCertificate(commonName: "front-proxy-client")
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(bundle)))
        tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(identity.certificatePEM.utf8)).map { .certificate($0) }
        tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(identity.keyPEM.utf8), format: .pem))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        func measure(_ url: String, asUser: Bool) async throws -> [Double] {
            var request = HTTPClientRequest(url: url)
            if asUser {
                request.headers.add(name: "X-Remote-User", value: "admin")
                request.headers.add(name: "X-Remote-Group", value: "system:masters")
            }
            _ = try await client.execute(request, timeout: .seconds(10)).body.collect(upTo: 1 << 20)
            var times: [Double] = []
            for _ in 0..<samples {
                let start = ContinuousClock.now
                let response = try await client.execute(request, timeout: .seconds(10))
                _ = try await response.body.collect(upTo: 1 << 20)
                times.append((ContinuousClock.now - start).inSeconds)
                guard response.status.code == 200 else { throw BenchError("\(url) answered \(response.status.code)") }
            }
            return times
        }
        let base = "https://127.0.0.1:\(port)"
        let external = try await measure("\(base)/apis/external.metrics.k8s.io/v1beta1/namespaces/bench/web-served", asUser: true)
        let externalRSS = adapter.residentBytes()
        let custom = try await measure("\(base)/apis/custom.metrics.k8s.io/v1beta2/namespaces/bench/applications.tide.dev/web/served", asUser: true)
        let customRSS = adapter.residentBytes()
        let source = try await measure("http://127.0.0.1:\(helloPort)/stats", asUser: false)
        try await client.shutdown()

        let rows: [[String]] = [
            ["external metric, p50 / p99 (ms)", "\(ms(percentile(external, 0.5))) / \(ms(percentile(external, 0.99)))", "the source's own GET: \(ms(percentile(source, 0.5))) / \(ms(percentile(source, 0.99))) ms"],
            ["custom Object metric, p50 / p99 (ms)", "\(ms(percentile(custom, 0.5))) / \(ms(percentile(custom, 0.99)))", "the same source and access review as the external metric"],
            ["adapter RSS idle / after external / after custom (MiB)", "\(mib(idleRSS)) / \(mib(externalRSS)) / \(mib(customRSS))", "from /proc"],
        ]
        printTable(
            "tide-metrics-adapter against local-kube, asked as the aggregator asks (answer cache off: every request reads the source; \(samples) requests each)",
            rows: rows)
    }
}
