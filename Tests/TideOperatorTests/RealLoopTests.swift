import Foundation
import HTTPTypes
import Hummingbird
import KubeAPI
import KubeClient
import LocalKube
import Logging
import NIOCore
import TideAPI
import TideOperator
import TideScaler
import TideSimulation
import Testing

/// The running loop held against the simulation: the scaler's real I/O path (the
/// Application, its Autoscaler and its Deployment on LocalKube, the metric over HTTP, `/scale` and
/// status written and read back between decisions, the operator's status copied from
/// the Deployment) makes, decision for decision, the pure simulation's choices.
///
/// A clock is injected, so a 30-minute trace runs in seconds; this test plays the
/// kubelet (pods ready a fixed pod start after a scale-up, as the simulation's model)
/// and the operator's status step (``StatusBuilder``, at the second the ready count
/// changes).
@Suite("The real loop decides as the simulation does", .serialized)
struct RealLoopTests {
    /// The metric the loopback endpoint serves now; `nil` answers 503 (an outage).
    final class MetricValue: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Double?
        func set(_ next: Double?) { lock.lock(); value = next; lock.unlock() }
        var current: Double? { lock.lock(); defer { lock.unlock() }; return value }
    }

    /// A loopback HTTP endpoint answering `{"value": <metric>}`.
    struct MetricEndpoint {
        let url: String
        let task: Task<Void, any Error>

        static func start(_ metric: MetricValue) async throws -> MetricEndpoint {
            let router = Router()
            router.get("metric") { _, _ -> Response in
                guard let value = metric.current else {
                    return Response(status: .serviceUnavailable, body: ResponseBody(byteBuffer: ByteBuffer(string: "outage")))
                }
                let body = String(decoding: try JSONEncoder().encode(["value": value]), as: UTF8.self)
                return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
            }
            let port = try freeLoopbackPort()
            let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: Logger(label: "metric-endpoint"))
            let task = Task { try await app.runService(gracefulShutdownSignals: []) }
            let url = "http://127.0.0.1:\(port)/metric"
            _ = await eventually(timeout: .seconds(10)) { (try? await runCommand("/usr/bin/curl", ["-s", "-o", "/dev/null", url])) != nil }
            return MetricEndpoint(url: url, task: task)
        }
    }

    static func scaling(_ strategy: ScalingStrategy, metricURL: String) -> Scaling {
        var spec = Scaling(
            minReplicas: 1, maxReplicas: 20,
            metrics: [ScalingMetric(name: "rps", http: HTTPSource(url: metricURL, valueLocation: "value"), target: MetricTarget(type: .perReplica, value: "5"))])
        spec.strategy = strategy
        return spec
    }

    /// Runs `trace` through the real loop; returns each scale change (second, replicas),
    /// and any stored status that differed from its decision.
    static func realLoop(
        _ trace: ScalingSimulation.Trace, strategy: ScalingStrategy, interval: Int, startup: Int, metricWindow: Int = 30
    ) async throws -> (changes: [ScalingSimulation.Change], statusMismatches: [String]) {
        let server = try await LocalKubeServer.start()
        try ManifestLoader.apply(path: repositoryRoot.appendingPathComponent("crds").path, to: server.store)
        let client = try KubeClient(connection: ClusterConnection(server: server.url))
        let metric = MetricValue()
        let endpoint = try await MetricEndpoint.start(metric)
        let clock = ManualClock(ScalingSimulation.date(0))
        let name = "loop"
        let applications = client.namespaced(Application.self, in: "default")
        let deployments = client.namespaced(Deployment.self, in: "default")
        var changes: [ScalingSimulation.Change] = []
        var mismatches: [String] = []
        do {
            let spec = ApplicationSpec(image: "hello:1", replicas: 1, scaling: scaling(strategy, metricURL: endpoint.url))
            _ = try await applications.create(Application(metadata: ObjectMeta(name: name), spec: spec))
            let created = try await applications.get(name)
            _ = try await deployments.create(Children.deployment(for: created))
            // The Application's own Autoscaler, as the operator makes it: the scaler runs for it.
            let autoscalers = client.namespaced(Autoscaler.self, in: "default")
            _ = try await autoscalers.create(try #require(created.scalingAutoscaler))
            let scaler = Scaler(client: client, namespace: "default", name: name, logger: Logger(label: "loop-scaler"), now: { clock.now })

            var desired: Int32 = 1
            var pods = ScalingSimulation.Pods(ready: 1, startup: startup)
            /// The kubelet's part: the Deployment's ready count. The operator's part: the
            /// Application's status built from it, written as the operator writes it.
            func observe(_ second: Int) async throws {
                _ = try await deployments.patchStatus(name, patch: [
                    "status": ["replicas": .int(Int64(desired)), "readyReplicas": .int(Int64(pods.ready)), "availableReplicas": .int(Int64(pods.ready))]
                ])
                let application = try await applications.get(name)
                var observation = Observation()
                observation.deployment = try await deployments.get(name)
                observation.scaler = try await autoscalers.get(name)
                let next = StatusBuilder.status(for: application, observation: observation, now: Time(ScalingSimulation.date(second)))
                guard next != application.status else { return }
                _ = try await applications.patchStatus(name, patch: [
                    "metadata": ["resourceVersion": .string(application.metadata.resourceVersion ?? "")],
                    "status": JSONValue.mergePatch(from: try JSONValue(encoding: application.status ?? ApplicationStatus()), to: try JSONValue(encoding: next)),
                ])
            }
            for second in 0..<trace.load.count {
                var changed = false
                if second % interval == 0 {
                    clock.set(ScalingSimulation.date(second))
                    metric.set(trace.metric(at: second, window: metricWindow))
                    let outcome = await scaler.runOnce()
                    let application = try await applications.get(name)
                    let next = application.spec.replicas ?? desired
                    let written = try await autoscalers.get(name).status?.scaling
                    if let decided = outcome.decision?.history, written != decided {
                        let stored = try JSONValue(encoding: written ?? ScalingStatus())
                        let fields = JSONValue.mergePatch(from: try JSONValue(encoding: decided), to: stored).objectValue?.keys.sorted() ?? []
                        mismatches.append("second \(second): the stored status.scaling differs from the decision in \(fields.joined(separator: ", "))")
                    }
                    if next != desired {
                        changes.append(.init(second: second, replicas: next, metric: trace.metric(at: second, window: metricWindow)))
                        pods.scale(from: desired, to: next, at: second)
                        desired = next
                    }
                    changed = true
                }
                if pods.advance(to: second, desired: desired) { changed = true }
                if changed { try await observe(second) }
            }
        } catch {
            mismatches.append("the loop stopped: \(error)")
        }
        endpoint.task.cancel()
        _ = await endpoint.task.result
        try? await client.shutdown()
        await server.stop()
        return (changes, mismatches)
    }

    static let cases: [(trace: String, strategy: ScalingStrategy, interval: Int)] = ["ramp", "sawtooth", "outage"].flatMap { trace in
        [(ScalingStrategy.hpa, 15), (.hpa, 60), (.predictive, 15), (.predictive, 60)].map { (trace, $0.0, $0.1) }
    }

    @Test("every decision of the real loop equals the simulation's (HPA and Predictive, every 15 s and every 60 s)", arguments: cases)
    func sameDecisions(trace name: String, strategy: ScalingStrategy, interval: Int) async throws {
        let trace = try #require(ScalingSimulation.standardTraces().first { $0.name == name })
        let startup = 20
        // The simulation decides with the same spec (the metric's source does not enter a decision).
        let policy = ScalingSimulation.Policy.tide("\(strategy.rawValue)", scaling: ApplicationSpec(
            image: "x", scaling: Self.scaling(strategy, metricURL: "http://127.0.0.1:1/metric")).withDefaults.scaling!, interval: interval)
        let simulated = ScalingSimulation.run(trace, policy: policy, target: 5, initial: 1, metricWindow: 30, startup: startup, minReplicas: 1, maxReplicas: 20)
        let real = try await Self.realLoop(trace, strategy: strategy, interval: interval, startup: startup)
        #expect(real.statusMismatches.isEmpty, "\(real.statusMismatches.prefix(3))")
        let simulatedChanges = simulated.changes.map { "\($0.second)s→\($0.replicas)" }
        let realChanges = real.changes.map { "\($0.second)s→\($0.replicas)" }
        let common = min(simulatedChanges.count, realChanges.count)
        let differing = (0..<common).first { simulatedChanges[$0] != realChanges[$0] }
        if let first = differing ?? (simulatedChanges.count != realChanges.count ? common : nil) {
            Issue.record("\(name), \(strategy.rawValue), every \(interval) s: the first diverging change is #\(first + 1): simulation \(simulatedChanges.dropFirst(first).first ?? "none"), real loop \(realChanges.dropFirst(first).first ?? "none")")
        }
        #expect(!realChanges.isEmpty, "the trace makes the loop scale")
    }
}
