import Foundation
import KubeAPI
import KubeClient
import KubeSupport
import LocalKube
import Logging
import TideAPI
import TideTestSupport
import Testing
import Yams

@Suite("kubectl tide")
struct KubectlTideTests {
    @Test("list shows scaled Applications and Autoscalers with target, mode, replicas, metric and health; why gives the decision, its readings and reasons and the events; report the observation; unknown names and RBAC denials are one line and exit 1")
    func plugin() async throws {
        let cluster = try await AutoscalerCluster.start()
        defer { Task { await cluster.stop() } }
        let applications = cluster.client.namespaced(Application.self, in: cluster.namespace)
        // A scaled Application as its scaler left it, and an Event about it.
        let scaling = Scaling(
            maxReplicas: 10, prometheus: PrometheusSource(address: "http://prometheus:9090", query: "sum(rate(requests_total[1m]))"),
            target: MetricTarget(type: .perReplica, value: "5"))
        let created = try await applications.create(Application(metadata: ObjectMeta(name: "cart"), spec: ApplicationSpec(image: "cart:1", replicas: 4, scaling: scaling)))
        var status = ApplicationStatus()
        status.readyReplicas = 3
        var memory = ScalingStatus()
        memory.desiredReplicas = 4
        memory.lastQueryTime = Time(Date(timeIntervalSince1970: 1_800_000_000))
        memory.summary = "18.5"
        memory.drivingMetric = "prometheus"
        memory.metrics = [.init(name: "prometheus", value: "18.5", time: memory.lastQueryTime)]
        status.scaling = memory
        status.conditions = [
            Condition(type: "ScalingActive", status: "True", reason: "ValidMetricFound", message: "metric 18.5 for a target of 5 per replica → 4 replicas"),
            Condition(type: "ScalingLimited", status: "True", reason: "ScaleUpLimit", message: "the scale-up policies allow at most 4 replicas now"),
        ]
        _ = try await applications.patchStatus("cart", patch: ["status": try JSONValue(encoding: status)])
        // Its own Autoscaler (listed as the Application), whose scaler records the Event.
        let own = try await cluster.autoscalers.create(try #require(created.scalingAutoscaler))
        await EventRecorder(client: cluster.client, controller: "tide.dev/scaler", instance: "test", logger: Logger(label: "test"))
            .record(own, type: "Normal", reason: "ScaledUp", action: "Scale", note: "2 → 4 replicas; metric 18.5 for a target of 5 per replica → 4 replicas")
        // An observing Autoscaler with figures.
        try await cluster.workload(Deployment.resource, name: "checkout", replicas: 3, ready: 3)
        try await cluster.create("checkout", target: .init(apiVersion: "apps/v1", kind: "Deployment", name: "checkout"), observe: true)
        var observed = AutoscalerStatus()
        observed.readyReplicas = 3
        observed.observation = ObservationStatus(
            since: Time(Date(timeIntervalSince1970: 1_800_000_000)), lastTime: Time(Date(timeIntervalSince1970: 1_800_007_200)),
            tide: .init(shortfall: 120, idle: 900, scaleChanges: 6), actual: .init(shortfall: 480, idle: 4_100, scaleChanges: 2),
            shadowReplicas: 5, shadowReady: 5, lastIdeal: 5, lastActual: 3, summary: "tide 120/900 vs actual 480/4100")
        _ = try await cluster.autoscalers.patchStatus("checkout", patch: ["status": try JSONValue(encoding: observed)])

        let kubeconfig = FileManager.default.temporaryDirectory.appendingPathComponent("kubectl-tide-\(UUID().uuidString).yaml")
        try cluster.server.kubeconfig().write(to: kubeconfig, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: kubeconfig) }
        let binary = "\(binariesDirectory)/kubectl-tide"
        func run(_ arguments: [String]) async throws -> CommandResult {
            try await runProcess(binary, arguments + ["--kubeconfig", kubeconfig.path, "-n", "shop"])
        }

        let list = try await run(["list"])
        #expect(list.status == 0, "\(list.errors)")
        let lines = list.output.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("KIND") == true && lines.first?.contains("HEALTH") == true, "\(list.output)")
        #expect(lines.contains { $0.contains("Application") && $0.contains("cart") && $0.contains("Deployment/cart") && $0.contains("18.5") && $0.contains("OK") })
        #expect(lines.contains { $0.contains("Autoscaler") && $0.contains("checkout") && $0.contains("CronJob (observe)") && $0.contains("waiting for the first decision") })
        // The image runs it from the operator's binary, linked as kubectl-tide: the same answer.
        if let image = ProcessInfo.processInfo.environment["TIDE_IMAGE_BINARIES"] {
            let fromImage = try await runProcess("\(image)/kubectl-tide", ["list", "--kubeconfig", kubeconfig.path, "-n", "shop"])
            #expect(fromImage.status == 0 && fromImage.output == list.output, "\(fromImage.errors)")
        }
        let json = try await runProcess(binary, ["list", "-A", "-o", "json", "--kubeconfig", kubeconfig.path])
        let rows = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [[String: String]]
        #expect(rows?.map { $0["name"] ?? "" }.sorted() == ["cart", "checkout"] && rows?.allSatisfy { $0["namespace"] == "shop" } == true,
            "the Application's own Autoscaler is the Application's row: \(json.output)")
        // -o yaml says the same as -o json, as a YAML parser reads it.
        let yaml = try await runProcess(binary, ["list", "-A", "-o", "yaml", "--kubeconfig", kubeconfig.path])
        let fromYAML = try Yams.load(yaml: yaml.output) as? [[String: String]]
        #expect(fromYAML != nil && fromYAML == rows, "\(yaml.output)")

        let why = try await run(["why", "cart"])
        #expect(why.status == 0, "\(why.errors)")
        for expected in [
            "Application shop/cart", "last decision: 2027-01-15T08:00:00Z → 4 replicas (driven by prometheus)",
            "  prometheus: 18.5 against a PerReplica target of 5", "ScalingLimited=True ScaleUpLimit: the scale-up policies allow at most 4 replicas now",
            "events, newest first:", "Normal ScaledUp: 2 → 4 replicas",
        ] {
            #expect(why.output.contains(expected), "\(expected) in \(why.output)")
        }

        let report = try await run(["report", "checkout"])
        #expect(report.status == 0, "\(report.errors)")
        #expect(report.output.contains("observing Deployment/checkout since 2027-01-15T08:00:00Z (2 h)"), "\(report.output)")
        #expect(report.output.contains("tide (would)  120") && report.output.contains("actual        480"), "\(report.output)")

        let unknown = try await run(["why", "nowhere"])
        #expect(unknown.status == 1 && unknown.errors == "error: no scaled Application or Autoscaler shop/nowhere\n", "\(unknown.errors)")
        let notObserving = try await run(["report", "cart"])
        #expect(notObserving.status == 1 && notObserving.errors.contains("Autoscaler shop/cart is Application cart's scaling path"), "\(notObserving.errors)")
        cluster.server.faults.add(.init(fault: .forbidden, resource: "applications"))
        let denied = try await run(["list"])
        #expect(denied.status == 1 && denied.errors.hasPrefix("error: forbidden: you may not read applications here"), "\(denied.errors)")
        #expect(denied.errors.split(separator: "\n").count == 1)
        cluster.server.faults.clear()

        // kubectl finds the plugin on PATH.
        if let kubectl = kubectlPath {
            let path = "\(binariesDirectory):\(ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")"
            let viaKubectl = try await runProcess(kubectl, ["tide", "list", "--kubeconfig", kubeconfig.path, "-n", "shop"], environment: ["PATH": path])
            #expect(viaKubectl.status == 0 && viaKubectl.output.contains("Deployment/cart"), "\(viaKubectl.output) \(viaKubectl.errors)")
        }
    }
}
