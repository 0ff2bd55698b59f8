import AsyncHTTPClient
import BenchmarkSupport
import Foundation
import KubeAPI
import KubeClient
import NIOCore
import NIOSSL

/// What securing `/metrics` costs: `tide-operator` against a `local-kube` process, scraped
/// over kept-alive connections as Prometheus scrapes, plain (`--metrics-secure=false`,
/// the baseline) and secure: one token (its review kept after the first scrape, as for
/// a Prometheus scraping every 15–30 s) and a new token every scrape (every scrape waits
/// for a TokenReview and a SubjectAccessReview). Each in a fresh operator process, whose
/// resident memory is read after the scrapes.
struct MetricsEndpointBench {
    let root: URL
    let directory: String
    let scrapes: Int

    func run() async throws {
        try await LocalKubeProcess.with(
            name: "tide-metrics-bench", binaries: directory, root: root, manifests: ["crds", "config/default/namespace.yaml", "config/rbac"], run)
    }

    func run(_ localKube: LocalKubeProcess) async throws {
        let admin = localKube.admin
        let kubeconfig = localKube.kubeconfig
        try await bindReader(admin, serviceAccount: "scraper")
        let scraper = try await token(admin, serviceAccount: "scraper")
        var fresh: [String] = []
        for index in 0...scrapes {
            let name = "scraper-\(index)"
            try await bindReader(admin, serviceAccount: name)
            fresh.append(try await token(admin, serviceAccount: name))
        }

        var rows: [[String]] = []
        let plain = try await measure(kubeconfig: kubeconfig, secure: false, tokens: [scraper])
        let cached = try await measure(kubeconfig: kubeconfig, secure: true, tokens: [scraper])
        let uncached = try await measure(kubeconfig: kubeconfig, secure: true, tokens: fresh)
        for (name, result) in [("plain HTTP (baseline)", plain), ("HTTPS, token review kept", cached), ("HTTPS, a new token every scrape", uncached)] {
            rows.append([
                name, ms(percentile(result.latencies, 0.5)), ms(percentile(result.latencies, 0.99)),
                String(format: "%+.2f", (percentile(result.latencies, 0.5) - percentile(plain.latencies, 0.5)) * 1_000), mib(result.resident),
                String(format: "%+.1f", Double(result.resident - plain.resident) / 1_048_576),
            ])
        }
        printTable(
            "/metrics of tide-operator, \(scrapes) scrapes each over kept-alive connections (local-kube reviews the tokens)",
            headers: ["endpoint", "p50 ms", "p99 ms", "p50 vs plain (ms)", "operator RSS MiB", "RSS vs plain (MiB)"], rows: rows)
    }

    struct Result {
        var latencies: [Double]
        var resident: Int
    }

    func measure(kubeconfig: String, secure: Bool, tokens: [String]) async throws -> Result {
        let port = Int.random(in: 20_000...40_000)
        let operatorProcess = try Child.start(
            "\(directory)/tide-operator",
            ["--kubeconfig", kubeconfig, "--namespace", "default", "--metrics-bind-address", "127.0.0.1:\(port)", "--metrics-secure=\(secure)",
             "--health-probe-bind-address", "0", "--log-level", "error"])
        defer { operatorProcess.stop() }
        var tls = TLSConfiguration.makeClientConfiguration()
        // The operator's certificate is self-signed here, as without --metrics-cert-path.
        tls.certificateVerification = .none
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        let url = "\(secure ? "https" : "http")://127.0.0.1:\(port)/metrics"
        func scrape(_ token: String) async throws -> Int {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            let response = try await http.execute(request, timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 1 << 22)
            return Int(response.status.code)
        }
        var up = false
        for _ in 0..<200 where !up {
            up = (try? await scrape(tokens[0])) == 200
            if !up { try await Task.sleep(for: .milliseconds(50)) }
        }
        guard up else {
            try await http.shutdown()
            throw CommandFailure("the operator's /metrics did not answer 200 at \(url)")
        }
        var latencies: [Double] = []
        for index in 0..<scrapes {
            let token = tokens.count == 1 ? tokens[0] : tokens[index + 1]
            let start = ContinuousClock.now
            let code = try await scrape(token)
            latencies.append((ContinuousClock.now - start).inSeconds)
            guard code == 200 else {
                try await http.shutdown()
                throw CommandFailure("a scrape was answered \(code)")
            }
        }
        let resident = operatorProcess.residentBytes()
        try await http.shutdown()
        return Result(latencies: latencies, resident: resident)
    }

    func bindReader(_ admin: KubeClient, serviceAccount: String) async throws {
        _ = try await admin.namespaced(ServiceAccount.self, in: "tide-system").create(ServiceAccount(metadata: ObjectMeta(name: serviceAccount)))
        let binding: JSONValue = [
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": ["name": .string("\(serviceAccount)-reads-metrics")],
            "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "tide-metrics-reader"],
            "subjects": [["kind": "ServiceAccount", "name": .string(serviceAccount), "namespace": "tide-system"]],
        ]
        _ = try await admin.send(
            .POST, path: "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", body: Array(try JSONEncoder().encode(binding)),
            contentType: "application/json")
    }

    func token(_ admin: KubeClient, serviceAccount: String) async throws -> String {
        let answer = try await admin.request(
            .POST, path: "/api/v1/namespaces/tide-system/serviceaccounts/\(serviceAccount)/token",
            body: Array(try JSONEncoder().encode(["spec": ["expirationSeconds": 3600]])), contentType: "application/json", as: JSONValue.self)
        guard let token = answer.value(atPath: ["status", "token"])?.stringValue else { throw CommandFailure("no token for \(serviceAccount)") }
        return token
    }
}

struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A `local-kube` process with `manifests` (paths below the repository) applied at
/// start, its admin kubeconfig in a work folder of its own, for a benchmark's lifetime.
final class LocalKubeProcess {
    let work: URL
    let kubeconfig: String
    let child: Child
    let admin: KubeClient

    init(name: String, binaries: String, root: URL, manifests: [String]) async throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        kubeconfig = work.appendingPathComponent("kubeconfig").path
        child = try Child.start("\(binaries)/local-kube", ["--kubeconfig", kubeconfig] + manifests.flatMap { ["--apply", root.appendingPathComponent($0).path] })
        _ = try await child.waitForLine(prefix: "LocalKube is serving at ")
        admin = try KubeClient(connection: try KubeConfigLoader(kubeconfigPath: kubeconfig, environment: [:]).load(), requestTimeout: .seconds(30))
    }

    /// Runs `body` with a fresh `local-kube` and stops it afterwards, whatever `body` threw.
    static func with(
        name: String, binaries: String, root: URL, manifests: [String], _ body: (LocalKubeProcess) async throws -> Void
    ) async throws {
        let localKube = try await LocalKubeProcess(name: name, binaries: binaries, root: root, manifests: manifests)
        do {
            try await body(localKube)
        } catch {
            await localKube.stop()
            throw error
        }
        await localKube.stop()
    }

    func stop() async {
        try? await admin.shutdown()
        child.stop()
        try? FileManager.default.removeItem(at: work)
    }
}
