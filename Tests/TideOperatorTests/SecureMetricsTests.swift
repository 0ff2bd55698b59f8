import AsyncHTTPClient
import Foundation
import KubeAPI
import KubeAPIExtensions
import KubeCertificates
import KubeClient
import KubeProbes
import LocalKube
import NIOCore
import NIOSSL
import Prometheus
import TideTestSupport
import Testing

/// `/metrics` as kubebuilder v4 serves it: HTTPS, every scrape's token reviewed by the API
/// server, only a user allowed `get` on `/metrics` answered.
@Suite("Secure metrics", .serialized)
struct SecureMetricsTests {
    /// A ServiceAccount token from the API server's TokenRequest.
    static func token(_ client: KubeClient, serviceAccount: String, namespace: String) async throws -> String {
        if (try? await client.namespaced(ServiceAccount.self, in: namespace).get(serviceAccount)) == nil {
            _ = try await client.namespaced(ServiceAccount.self, in: namespace).create(ServiceAccount(metadata: ObjectMeta(name: serviceAccount)))
        }
        let body = try JSONEncoder().encode(["spec": ["expirationSeconds": 3600]])
        let answer = try await client.request(
            .POST, path: "/api/v1/namespaces/\(namespace)/serviceaccounts/\(serviceAccount)/token", body: Array(body), contentType: "application/json",
            as: JSONValue.self)
        return try #require(answer.value(atPath: ["status", "token"])?.stringValue)
    }

    /// A kubeconfig that authenticates as ServiceAccount `namespace/serviceAccount`, and its token.
    static func kubeconfig(
        _ setup: GracefulShutdownTests.Setup, serviceAccount: String, namespace: String
    ) async throws -> (file: URL, token: String) {
        let token = try await Self.token(setup.client, serviceAccount: serviceAccount, namespace: namespace)
        let file = setup.directory.appendingPathComponent("\(serviceAccount)-kubeconfig")
        try setup.server.kubeconfig(token: token).write(to: file, atomically: true, encoding: .utf8)
        return (file, token)
    }

    /// Installs `config/rbac` (and the operator's namespace), and a kubeconfig of the
    /// operator's own ServiceAccount, so the operator runs with exactly the RBAC it ships.
    static func operatorKubeconfig(_ setup: GracefulShutdownTests.Setup) async throws -> (file: URL, token: String) {
        for path in ["config/default/namespace.yaml", "config/rbac"] {
            try ManifestLoader.apply(path: repositoryRoot.appendingPathComponent(path).path, to: setup.server.store)
        }
        return try await kubeconfig(setup, serviceAccount: "tide-operator", namespace: "tide-system")
    }

    /// The answer's status code and body; the self-signed certificate is not verified.
    static func scrape(_ url: String, token: String? = nil) async throws -> (code: Int, body: String) {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        var request = HTTPClientRequest(url: url)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        do {
            let response = try await http.execute(request, timeout: .seconds(10))
            let body = String(buffer: try await response.body.collect(upTo: 1 << 22))
            try await http.shutdown()
            return (Int(response.status.code), body)
        } catch {
            try? await http.shutdown()
            throw error
        }
    }

    @Test("the operator, run with its own ServiceAccount and config/rbac: no token 401, a token without tide-metrics-reader 403, with it 200; the probes stay plain and open; an unreachable API server is 503, not an open door")
    func operatorEndpoint() async throws {
        try await GracefulShutdownTests.Setup.run(operatorEndpoint)
    }

    func operatorEndpoint(_ setup: GracefulShutdownTests.Setup) async throws {
        // The operator runs as its ServiceAccount, so config/rbac must grant what the
        // secure endpoint needs (TokenReview and SubjectAccessReview).
        let (kubeconfig, operatorToken) = try await Self.operatorKubeconfig(setup)
        let scraper = try await Self.token(setup.client, serviceAccount: "scraper", namespace: "tide-system")
        let stranger = try await Self.token(setup.client, serviceAccount: "stranger", namespace: "tide-system")
        let binding: JSONValue = [
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": ["name": "scraper-reads-metrics"],
            "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "tide-metrics-reader"],
            "subjects": [["kind": "ServiceAccount", "name": "scraper", "namespace": "tide-system"]],
        ]
        _ = try await setup.client.send(
            .POST, path: "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", body: Array(try JSONEncoder().encode(binding)),
            contentType: "application/json")

        let metricsPort = try freeLoopbackPort(), healthPort = try freeLoopbackPort()
        let operatorProcess = try GracefulShutdownTests.RunningBinary(
            "tide-operator",
            [
                "--kubeconfig", kubeconfig.path, "--namespace", "default", "--metrics-bind-address", "127.0.0.1:\(metricsPort)",
                "--health-probe-bind-address", "127.0.0.1:\(healthPort)", "--log-format", "json",
            ], directory: setup.directory)
        defer { operatorProcess.stop() }
        let metrics = "https://127.0.0.1:\(metricsPort)/metrics"
        // The probes: plain HTTP, no token.
        #expect(await eventually(timeout: .seconds(20)) {
            try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(healthPort)/readyz"), timeout: .seconds(2)).status.code == 200
        }, "\(operatorProcess.log)")
        #expect(await eventually(timeout: .seconds(10)) { (try? await Self.scrape(metrics))?.code == 401 }, "\(operatorProcess.log)")
        #expect(try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(healthPort)/healthz"), timeout: .seconds(2)).status.code == 200)
        let noMetricsOnProbes = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(healthPort)/metrics"), timeout: .seconds(2))
        #expect(noMetricsOnProbes.status.code == 404, "the probe port does not serve /metrics around the check")

        let anonymous = try await Self.scrape(metrics)
        #expect(anonymous.code == 401)
        #expect(try await Self.scrape(metrics, token: "lk.not-a-token").code == 401)
        let refused = try await Self.scrape(metrics, token: stranger)
        #expect(refused.code == 403)
        #expect(refused.body.contains("system:serviceaccount:tide-system:stranger"), "\(refused.body)")
        let allowed = try await Self.scrape(metrics, token: scraper)
        #expect(allowed.code == 200)
        #expect(allowed.body.contains("tide_operator_leader 1"), "\(allowed.body.prefix(400))")
        // Plain HTTP is not served on the secure port.
        #expect((try? await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(metricsPort)/metrics"), timeout: .seconds(2)))?.status.code != 200)
        // No token reaches the log.
        for token in [scraper, stranger, operatorToken] { #expect(!operatorProcess.log.contains(token)) }

        // The API server gone: a token not reviewed yet is refused with 503.
        let late = try await Self.token(setup.client, serviceAccount: "late", namespace: "tide-system")
        await setup.server.stop()
        let unreachable = try await Self.scrape(metrics, token: late)
        #expect(unreachable.code == 503, "\(unreachable.body)")
        _ = await operatorProcess.terminate()
    }

    @Test(
        "on the real API server: the operator's ServiceAccount reviews scrapes with config/rbac's grants; a ServiceAccount token without tide-metrics-reader is 403, with it 200, none 401",
        .enabled(if: RealCluster.isAvailable, Comment(rawValue: RealCluster.skipReason)))
    func realServer() async throws {
        let installed = try await RealClusterInstall.shared.installed()
        let admin = installed.admin
        let namespace = try await installed.cluster.freshNamespace("metrics", admin: admin)
        // The operator's own client: config/rbac's tide-metrics-auth must let it ask.
        let operatorClient = try installed.cluster.client(token: installed.operatorToken, userAgent: "tide-operator-test")
        let registry = PrometheusCollectorRegistry()
        registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "tide", subsystem: "", metricName: "real_probe", unitName: "", helpText: "a probe"), labels: []).set(Int64(1))
        let certificate = try ServedCertificate(source: .selfSigned(commonName: "tide-operator-metrics", names: ["127.0.0.1"], lifetime: 3_600))
        let bound = PortBox()
        let server = MetricsServer(
            host: "127.0.0.1", port: 0, registry: registry,
            security: .secure(authorizer: MetricsAuthorizer(client: operatorClient, ttl: .zero), certificate: certificate, refreshInterval: .seconds(60)),
            onBound: { bound.store($0) })
        let task = Task { try await server.run() }
        defer { task.cancel() }
        #expect(await eventually { bound.value > 0 })
        let url = "https://127.0.0.1:\(bound.value)/metrics"
        for name in ["scraper", "stranger"] {
            _ = try await admin.namespaced(ServiceAccount.self, in: namespace).create(ServiceAccount(metadata: ObjectMeta(name: name)))
        }
        let scraper = try await installed.cluster.serviceAccountToken("scraper", namespace: namespace, admin: admin)
        let stranger = try await installed.cluster.serviceAccountToken("stranger", namespace: namespace, admin: admin)
        let binding: JSONValue = [
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": ["name": .string("\(namespace)-scraper")],
            "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "tide-metrics-reader"],
            "subjects": [["kind": "ServiceAccount", "name": "scraper", "namespace": .string(namespace)]],
        ]
        _ = try await admin.send(
            .POST, path: "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", body: Array(try JSONEncoder().encode(binding)),
            contentType: "application/json")
        #expect(try await Self.scrape(url).code == 401)
        #expect(try await Self.scrape(url, token: stranger).code == 403)
        #expect(await eventually(timeout: .seconds(10)) { (try? await Self.scrape(url, token: scraper))?.code == 200 })
        _ = try await admin.send(.DELETE, path: "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/\(namespace)-scraper")
    }

    @Test("MetricsAuthorizer: answers are kept for their time, keyed by the token's hash; an API server error is 503 and asked again; a token is never kept")
    func authorizerCaches() async throws {
        let reviews = Counter(), accesses = Counter(), failing = Flag()
        let authorizer = MetricsAuthorizer(
            reviewToken: { review in
                reviews.add()
                if failing.isSet { throw KubeError.transport("connection refused") }
                var answered = review
                answered.status = review.spec.token == "good" || review.spec.token == "other"
                    ? .init(authenticated: true, user: .init(username: review.spec.token == "good" ? "reader" : "nobody", groups: ["system:authenticated"]))
                    : .init(user: .init(), error: "invalid bearer token")
                return answered
            },
            reviewAccess: { access in
                accesses.add()
                #expect(access.spec.nonResourceAttributes == .init(path: "/metrics", verb: "get"))
                var answered = access
                answered.status = .init(allowed: access.spec.user == "reader")
                return answered
            }, ttl: .milliseconds(300), capacity: 16)
        #expect(await authorizer.verdict(authorization: nil) == .unauthenticated("no bearer token"))
        #expect(await authorizer.verdict(authorization: "Basic abc") == .unauthenticated("no bearer token"))
        #expect(await authorizer.verdict(authorization: "Bearer good") == .allowed(user: "reader"))
        #expect(await authorizer.verdict(authorization: "Bearer good") == .allowed(user: "reader"))
        #expect(reviews.value == 1 && accesses.value == 1, "the second scrape is answered from the cache")
        #expect(await authorizer.verdict(authorization: "Bearer other") == .forbidden(user: "nobody"))
        #expect(await authorizer.verdict(authorization: "Bearer bad") == .unauthenticated("invalid bearer token"))
        #expect(await authorizer.verdict(authorization: "Bearer bad").status == 401)
        #expect(reviews.value == 3, "refusals are kept too")
        failing.set()
        let down = await authorizer.verdict(authorization: "Bearer fresh")
        #expect(down.status == 503)
        _ = await authorizer.verdict(authorization: "Bearer fresh")
        #expect(reviews.value == 5, "an error is not kept: each scrape asks again")
        #expect(await authorizer.verdict(authorization: "Bearer good") == .allowed(user: "reader"), "a kept answer outlives an outage for its time")
        try await Task.sleep(for: .milliseconds(400))
        #expect(await authorizer.verdict(authorization: "Bearer good").status == 503, "and then is asked again")
        #expect(!"\(authorizer)".contains("good"))
    }

    @Test("the metrics certificate: changed files are served, a broken pair keeps the old one; a self-signed one is minted again at two thirds of its lifetime")
    func servedCertificate() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tide-metrics-certs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificate = directory.appendingPathComponent("tls.crt"), key = directory.appendingPathComponent("tls.key")
        let authority = try CertificateAuthority(commonName: "metrics-ca")
        func write(_ identity: CertificateAuthority.Identity) throws {
            try identity.certificatePEM.write(to: certificate, atomically: true, encoding: .utf8)
            try identity.keyPEM.write(to: key, atomically: true, encoding: .utf8)
        }
        let first = try authority.issueServerCertificate(commonName: "tide-operator-metrics", dnsNames: ["localhost"])
        try write(first)
        let served = try ServedCertificate(source: .files(certificate: certificate.path, key: key.path))
        #expect(try served.refresh() == nil, "unchanged files: nothing to do")
        let second = try authority.issueServerCertificate(commonName: "tide-operator-metrics", dnsNames: ["localhost"])
        try write(second)
        #expect(try served.refresh()?.contains("reloaded") == true)
        #expect(served.pair.certificateChainPEM == second.certificatePEM)
        try "half written".write(to: key, atomically: true, encoding: .utf8)
        #expect(throws: ServedCertificate.Failure.unusable("the key file holds no PEM private key")) { try served.refresh() }
        #expect(served.pair.certificateChainPEM == second.certificatePEM, "a broken pair leaves the served one")
        #expect(throws: ServedCertificate.Failure.unreadable(path: "/nonexistent/tls.crt")) {
            _ = try ServedCertificate(source: .files(certificate: "/nonexistent/tls.crt", key: key.path))
        }

        let start = Date()
        let minted = try ServedCertificate(source: .selfSigned(commonName: "tide-operator-metrics", names: ["localhost", "127.0.0.1"], lifetime: 3_000), now: start)
        let expiry = try #require(minted.notValidAfter)
        #expect(abs(expiry - start.addingTimeInterval(3_000).timeIntervalSince1970) < 2)
        #expect(try minted.refresh(now: start.addingTimeInterval(1_000)) == nil)
        #expect(try minted.refresh(now: start.addingTimeInterval(2_001))?.contains("minted") == true)
        #expect(minted.since == start.addingTimeInterval(2_001))
    }

    @Test("--metrics-secure=false serves /metrics over plain HTTP to anyone; a certificate path with it is refused")
    func plainWhenAsked() async throws {
        let registry = PrometheusCollectorRegistry()
        registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "tide", subsystem: "", metricName: "plain_probe", unitName: "", helpText: "a probe"), labels: []).set(Int64(1))
        let bound = PortBox()
        let server = MetricsServer(host: "127.0.0.1", port: 0, registry: registry, security: .plain, onBound: { bound.store($0) })
        let task = Task { try await server.run() }
        #expect(await eventually { bound.value > 0 })
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(bound.value)/metrics"), timeout: .seconds(2))
        #expect(response.status.code == 200)
        #expect(String(buffer: try await response.body.collect(upTo: 1 << 20)).contains("tide_plain_probe 1"))
        task.cancel()
        _ = try? await task.value
        let refused = try await runProcess("\(binariesDirectory)/tide-operator", ["--metrics-secure=false", "--metrics-cert-path", "/certs", "--kubeconfig", "/nonexistent"])
        #expect(refused.status == 64)
        #expect(refused.errors.contains("--metrics-cert-path needs --metrics-secure=true"), "\(refused.errors)")
    }
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

private final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var on = false
    func set() { lock.withLock { on = true } }
    var isSet: Bool { lock.withLock { on } }
}

private final class PortBox: @unchecked Sendable {
    private let lock = NSLock()
    private var port = 0
    func store(_ value: Int) { lock.withLock { port = value } }
    var value: Int { lock.withLock { port } }
}
