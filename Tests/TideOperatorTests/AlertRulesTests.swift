import AsyncHTTPClient
import Foundation
import KubeAPI
import LocalKube
import TideAPI
import TideOperator
import TideTestSupport
import Testing

let promtoolPath: String? = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) }

@Suite("Alert rules and dashboard")
struct AlertRulesTests {
    let folder = repositoryRoot.appendingPathComponent("config/prometheus")

    @Test("promtool accepts the rules, and each alert fires on the series that should fire it and on no other", .enabled(if: promtoolPath != nil || ProcessInfo.processInfo.environment["TIDE_REQUIRE_PROMETHEUS"] == "1"))
    func promtool() async throws {
        let promtool = try #require(promtoolPath, "promtool is part of Debian's prometheus package: apt-get install -y --no-install-recommends prometheus")
        let checked = try await runProcess(promtool, ["check", "rules", "alerts.yaml"], directory: folder)
        #expect(checked.status == 0 && checked.output.contains("SUCCESS: 6 rules found"), "\(checked.output) \(checked.errors)")
        let tested = try await runProcess(promtool, ["test", "rules", "alerts.test.yaml"], directory: folder)
        #expect(tested.status == 0 && tested.output.contains("SUCCESS"), "\(tested.output) \(tested.errors)")
    }

    @Test("the PrometheusRule holds exactly the rules file's groups")
    func prometheusRule() throws {
        let rules = try ManifestLoaderShim.document(folder.appendingPathComponent("alerts.yaml"))
        let resource = try ManifestLoaderShim.document(folder.appendingPathComponent("prometheusrule.yaml"))
        #expect(resource["kind"] == "PrometheusRule" && resource["spec"]?["groups"] == rules["groups"])
    }

    @Test("every series the rules and the dashboard name is one the operator or the adapter exports; the operator's /metrics serves the decision metrics of a scaled Application")
    func namesExist() async throws {
        let harness = try await OperatorHarness.start(.localKube)
        var scaled = helloSpec(replicas: nil)
        scaled.scaling = Scaling(
            maxReplicas: 4, schedule: "0 0 1 1 *", prometheus: PrometheusSource(address: "http://prometheus:9090", query: "sum(up)"),
            target: MetricTarget(type: .total, value: "5"))
        _ = try await harness.applications.create(newApplication("scaled", scaled))
        var status = ApplicationStatus()
        var memory = ScalingStatus()
        memory.desiredReplicas = 3
        memory.lastQueryTime = .now
        memory.metrics = [.init(name: "prometheus", value: "12", time: .now)]
        status.scaling = memory
        _ = try await harness.applications.patchStatus("scaled", patch: ["status": try JSONValue(encoding: status)])
        let port = harness.tide.metricsPort ?? 0
        var exposition = ""
        let found = await eventually {
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics"), timeout: .seconds(5))
            exposition = String(buffer: try await response.body.collect(upTo: 1 << 22))
            return exposition.contains(#"tide_desired_replicas{namespace="\#(harness.namespace)",name="scaled"} 3"#)
        }
        await harness.stop()
        #expect(found, "\(exposition)")
        #expect(exposition.contains("tide_operator_leader 1"))
        var exported = Set(exposition.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
            line.split(whereSeparator: { $0 == "{" || $0 == " " }).first.map(String.init)
        })
        exported.formUnion(DecisionMetrics.names)
        // The adapter's, which CertificateRotationTests reads from its /metrics.
        exported.insert("tide_adapter_certificate_expiry_timestamp_seconds")
        let rules = try String(contentsOf: folder.appendingPathComponent("alerts.yaml"), encoding: .utf8)
        let dashboard = try String(contentsOf: folder.appendingPathComponent("dashboard.json"), encoding: .utf8)
        let used = Set((rules + dashboard).matches(of: /(tide|controller_runtime|workqueue)_[a-z_]+/).map { String($0.output.0) })
        #expect(!used.isEmpty && used.isSubset(of: exported), "not exported: \(used.subtracting(exported).sorted())")
        // The dashboard is JSON Grafana imports: panels with Prometheus targets.
        let parsed = try JSONSerialization.jsonObject(with: Data(dashboard.utf8)) as? [String: Any]
        #expect((parsed?["panels"] as? [[String: Any]])?.count ?? 0 >= 6)
    }
}

/// One YAML document as JSON.
enum ManifestLoaderShim {
    static func document(_ url: URL) throws -> JSONValue {
        try #require(try ManifestLoader.objects(in: String(contentsOf: url, encoding: .utf8)).first)
    }
}
