import AsyncHTTPClient
import Foundation
import KubeAPI
import KubeClient
import KubeRuntime
import LocalKube
import Logging
import ServiceLifecycle
import TideAPI
import TideOperator
import TideScaler

/// The whole Tide loop on one machine: LocalKube, the operator, a tiny kubelet running
/// real `hello-service` processes, a real Prometheus, a load generator and
/// `tide-scaler` run the way the CronJob would, on an accelerated schedule.
public struct LocalRun: Sendable {
    public struct Configuration: Sendable {
        public var profile = LoadProfile.standard
        /// How often the scaler runs (the CronJob's schedule, accelerated).
        public var scalerEvery: Duration = .seconds(5)
        /// The scale-down stabilization window of the sample (shortened from 300 s).
        public var scaleDownWindow = 30
        /// Requests per second one replica should serve.
        public var target = "5"
        public var maxReplicas: Int32 = 8
        /// What the scaler reads: the Prometheus query, or hello-service's own
        /// `/stats` endpoint through the HTTP source.
        public var source = MetricSourceKind.prometheus
        /// The sample's scaling strategy.
        public var strategy = ScalingStrategy.hpa
        /// Days of the profile, repeated every hour, backfilled into Prometheus before
        /// the run (``BackfilledHistory``), so strategy Forecast has a pattern; 0: none.
        public var historyDays = 0
        /// How long a new replica takes to become ready after it starts (every one
        /// after the first), as a real pod's image pull and warm-up take.
        public var podStart: Duration = .zero
        /// How long the run may take to start everything before its load begins: the
        /// backfilled history's occurrences line up with that moment.
        public var startAllowance: Duration = .seconds(20)
        /// Where binaries are (hello-service, tide-scaler).
        public var binaries: String
        public var prometheus = "/usr/bin/prometheus"
        /// Where the plot, summary and logs go.
        public var output: URL
        public var port = 0
        /// Print the live timeline.
        public var verbose = true
        public var repositoryRoot: URL

        public init(binaries: String, output: URL, repositoryRoot: URL) {
            self.binaries = binaries
            self.output = output
            self.repositoryRoot = repositoryRoot
        }
    }

    /// The metric source a local run scales on.
    public enum MetricSourceKind: String, Sendable, CaseIterable {
        /// `sum(rate(hello_requests_total[10s]))` from the local Prometheus, PerReplica.
        case prometheus
        /// `requestsPerSecond` from the first hello-service's `/stats` (a per-pod
        /// figure, so a Total target: the HPA's Value semantics).
        case http
    }

    public let configuration: Configuration

    public init(configuration: Configuration) { self.configuration = configuration }

    /// Everything a run leaves behind.
    public struct Report: Sendable {
        public var timeline: Timeline
        public var plot: URL
        public var summaryFile: URL
        /// The backtest's plot (the run's own history replayed with strategy
        /// Predictive beside the spec it ran with); `nil` with the HTTP source, which
        /// has no history.
        public var backtestPlot: URL?
        /// Every process the run started, all stopped.
        public var processIDs: [Int32]
        /// The Application's conditions at the end of the run.
        public var conditions: [Condition]
    }

    /// Checks that every piece is present before anything starts.
    public func preflight() throws {
        let hello = "\(configuration.binaries)/hello-service"
        let scaler = "\(configuration.binaries)/tide-scaler"
        for (name, path) in [("hello-service", hello), ("tide-scaler", scaler)] where !FileManager.default.isExecutableFile(atPath: path) {
            throw LocalRunError.missingBinary(name: name, path: path, hint: "build it with swift build -c release")
        }
        if !FileManager.default.isExecutableFile(atPath: configuration.prometheus) {
            throw LocalRunError.missingBinary(
                name: "prometheus", path: configuration.prometheus,
                hint: "install it with apt-get install -y --no-install-recommends prometheus (scripts/local.sh does)")
        }
        for file in ["crds/application.yaml", "samples/hello-autoscaled.yaml"]
        where !FileManager.default.fileExists(atPath: configuration.repositoryRoot.appendingPathComponent(file).path) {
            throw LocalRunError.failed("\(file) is missing; run from a checkout of Tide")
        }
        if configuration.historyDays != 0 {
            if configuration.source == .http {
                throw LocalRunError.failed("--history-days needs the Prometheus source: the HTTP source is read live and has no history")
            }
            if let problem = BackfilledHistory.problem(days: configuration.historyDays, profile: configuration.profile) {
                throw LocalRunError.failed(problem)
            }
            if !FileManager.default.isExecutableFile(atPath: promtool) {
                throw LocalRunError.missingBinary(
                    name: "promtool", path: promtool, hint: "it comes with Prometheus: apt-get install -y --no-install-recommends prometheus")
            }
        }
    }

    /// promtool, beside the prometheus binary (as Debian's package installs it).
    var promtool: String {
        URL(fileURLWithPath: configuration.prometheus).deletingLastPathComponent().appendingPathComponent("promtool").path
    }

    public func run(print emit: @escaping @Sendable (String) -> Void = { print($0) }) async throws -> Report {
        try preflight()
        let fileManager = FileManager.default
        try fileManager.createDirectory(at: configuration.output, withIntermediateDirectories: true)
        // When the load starts with a backfilled history: its occurrences line up with it.
        // On a whole minute, as the scaler's history grid is, so each run reads the
        // profile alike. Without a history, at once (`nil`).
        let earliest = Date().addingTimeInterval(Double(configuration.startAllowance.components.seconds)).timeIntervalSince1970
        let loadStart = configuration.historyDays > 0 ? Date(timeIntervalSince1970: (earliest / 60).rounded(.up) * 60) : nil
        let work = fileManager.temporaryDirectory.appendingPathComponent("tide-local-\(getpid())-\(UUID().uuidString.prefix(6))")
        try fileManager.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? fileManager.removeItem(at: work) }
        var logger = Logger(label: "tide.local")
        logger.logLevel = .warning

        // 1. LocalKube with the CRD and the sample.
        var options = LocalKubeOptions()
        options.port = configuration.port
        options.autoCreateNamespaces = true
        options.bookmarkInterval = .seconds(2)
        let server = try await LocalKubeServer.start(options: options, logger: logger)
        var processIDs: [Int32] = []
        var prometheus: PrometheusRunner?
        var kubelet: Kubelet?
        var exporter: DeploymentStateExporter?
        var operatorGroup: ServiceGroup?
        var operatorTask: Task<Void, any Error>?
        var operatorClient: KubeClient?
        let kubeconfig = configuration.output.appendingPathComponent("kubeconfig")
        let client = try KubeClient(connection: ClusterConnection(server: server.url), logger: logger)
        func teardown() async {
            await kubelet?.stopAll()
            // Prometheus first: it holds a connection to the exporter open.
            if let prometheus { await prometheus.process.stop() }
            await exporter?.stop()
            if let operatorGroup { await operatorGroup.triggerGracefulShutdown() }
            _ = await operatorTask?.result
            try? await operatorClient?.shutdown()
            try? await client.shutdown()
            await server.stop()
            try? fileManager.removeItem(at: kubeconfig)
        }
        do {
            try server.kubeconfig().write(to: kubeconfig, atomically: true, encoding: .utf8)
            emit("LocalKube is serving at \(server.url.absoluteString) — try: kubectl --server \(server.url.absoluteString) get applications")
            try ManifestLoader.apply(path: configuration.repositoryRoot.appendingPathComponent("crds").path, to: server.store)

            let sample = try ManifestLoader.objects(in: String(
                contentsOf: configuration.repositoryRoot.appendingPathComponent("samples/hello-autoscaled.yaml"), encoding: .utf8))[0]
            var application = try sample.decode(as: Application.self)
            let name = application.name
            let namespace = application.namespace ?? "default"
            application.metadata = ObjectMeta(name: name, namespace: namespace)

            // 2. Prometheus, scraping the kubelet's processes through file SD; with days
            // of the profile in its storage first, if asked.
            if let loadStart {
                let history = BackfilledHistory(profile: configuration.profile, days: configuration.historyDays, anchor: loadStart)
                try await history.write(into: work.appendingPathComponent("prometheus-data"), promtool: promtool, namespace: namespace, service: name)
                emit("Backfilled \(history.days) days of the load profile, repeated every hour, into Prometheus (promtool tsdb create-blocks-from openmetrics)")
            }
            let runner = try PrometheusRunner(binary: configuration.prometheus, directory: work)
            prometheus = runner
            processIDs.append(runner.process.pid)
            try await runner.waitUntilReady()
            emit("Prometheus is serving at \(runner.url.absoluteString)")

            // 3. The operator.
            var operatorConnection = ClusterConnection(server: server.url)
            operatorConnection.userAgent = "tide-operator/0.1"
            let operatorKube = try KubeClient(connection: operatorConnection, logger: logger)
            operatorClient = operatorKube
            var operatorOptions = OperatorOptions()
            operatorOptions.healthProbeAddress = nil
            operatorOptions.metricsAddress = nil
            operatorOptions.identity = "tide-local"
            operatorOptions.settings.scalerImage = "tide-scaler (local process)"
            let tide = TideOperator(client: operatorKube, options: operatorOptions, logger: logger)
            let group = tide.manager.serviceGroup(signals: [])
            operatorGroup = group
            operatorTask = Task { try await group.run() }

            // 4. The sample Application, pointed at the local Prometheus with a shortened window.
            let query = "sum(rate(hello_requests_total{namespace=\"\(namespace)\",service=\"\(name)\"}[10s]))"
            application.spec.scaling?.prometheus = PrometheusSource(address: runner.url.absoluteString, query: query)
            application.spec.scaling?.target = MetricTarget(type: .perReplica, value: configuration.target)
            application.spec.scaling?.maxReplicas = configuration.maxReplicas
            application.spec.scaling?.strategy = configuration.strategy
            application.spec.scaling?.behavior = ScalingBehavior(
                scaleUp: ScalingRules(stabilizationWindowSeconds: 0, selectPolicy: .max, policies: [
                    ScalingPolicy(type: .percent, value: 100, periodSeconds: 15), ScalingPolicy(type: .pods, value: 2, periodSeconds: 15),
                ]),
                scaleDown: ScalingRules(stabilizationWindowSeconds: Int32(configuration.scaleDownWindow)))
            let applications = client.namespaced(Application.self, in: namespace)
            _ = try await applications.create(application)
            emit("Applied crds/ and Application \(namespace)/\(name) (target \(configuration.target) requests/s per replica)")

            // 5. The kubelet, until the first process is ready.
            let state = try await DeploymentStateExporter.start(logger: logger)
            exporter = state
            let kube = Kubelet(
                client: client, namespace: namespace, helloBinary: "\(configuration.binaries)/hello-service", targetsFile: runner.targetsFile,
                exporter: state, podStart: configuration.podStart, logger: logger)
            kubelet = kube
            for _ in 0..<100 {
                try await kube.sync()
                if await kube.readyCount(name) > 0 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            guard await kube.readyCount(name) > 0 else { throw LocalRunError.failed("the operator did not create Deployment \(name), or hello-service did not start") }
            // Wait for Prometheus to have two scrapes, so the first scaler run has a metric.
            let probe = try PrometheusClient(address: runner.url)
            for _ in 0..<50 {
                if case .value = await probe.query(query) { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            try await probe.shutdown()
            if configuration.source == .http, let port = await kube.readyPorts().first {
                // The scaler now reads the first process's own figure.
                var current = try await applications.get(name)
                current.spec.scaling?.prometheus = nil
                current.spec.scaling?.target = nil
                current.spec.scaling?.metrics = [ScalingMetric(
                    name: "rps", http: HTTPSource(url: "http://127.0.0.1:\(port)/stats", valueLocation: "requestsPerSecond"),
                    target: MetricTarget(type: .total, value: configuration.target))]
                _ = try await applications.update(current)
                emit("The scaler reads requestsPerSecond from http://127.0.0.1:\(port)/stats (HTTP source, Total target \(configuration.target))")
            }

            // 6. Load, scaler ticks, kubelet and the timeline, together.
            // The scaler is the Application's Autoscaler's: wait until the operator has
            // made it, with the Application's current scaling spec, and its CronJob.
            let cronJob = try await scalerCronJob(of: name, in: namespace, client: client, applications: applications)
            let scalerArguments = (cronJob.spec?.jobTemplate.spec.template.spec?.containers.first?.args ?? [])
                + ["--kubeconfig", kubeconfig.path, "--log-format", "text", "--log-level", "error"]
            let timeline = try await drive(
                kubelet: kube, applications: applications, name: name, prometheusQuery: query, prometheusURL: runner.url,
                scalerArguments: scalerArguments, loadStart: loadStart, processIDs: &processIDs, emit: emit)
            processIDs += await kube.everStarted

            // 7. Plot and summary.
            let plot = configuration.output.appendingPathComponent("tide-local-run.svg")
            try timeline.svg(title: "Tide local run: \(namespace)/\(name)", capacityPerReplica: Double(configuration.target))
                .write(to: plot, atomically: true, encoding: .utf8)
            let summaryFile = configuration.output.appendingPathComponent("tide-local-run-summary.txt")
            var table = [Timeline.header()]
            table += timeline.samples.map(Timeline.line)

            // 8. The run's own history, replayed (what `tide-scaler backtest` does):
            // the spec it ran with beside strategy Predictive.
            var backtestPlot: URL?
            var backtestText = "backtest: skipped (the HTTP source is read live and has no history)"
            if configuration.source == .prometheus {
                var options = BacktestRun.Options()
                options.since = .seconds(Int64((timeline.samples.last?.second ?? 0) + 2))
                options.step = configuration.scalerEvery
                options.strategy = .predictive
                let report = try await BacktestRun(client: client, namespace: namespace, name: name, options: options).run()
                let file = configuration.output.appendingPathComponent("tide-local-run-backtest.svg")
                try report.svg.write(to: file, atomically: true, encoding: .utf8)
                backtestPlot = file
                backtestText = report.lines.joined(separator: "\n")
            }
            // The strategy's own condition, as the scaler left it (Forecast says whether it acted, and why).
            let conditions = try await applications.get(name).status?.conditions ?? []
            let strategyLine = conditions.first { $0.type == "ForecastConfident" }.map {
                "strategy \(configuration.strategy.rawValue): ForecastConfident=\($0.status) \($0.reason): \($0.message)"
            } ?? "strategy \(configuration.strategy.rawValue)"
            try (table.joined(separator: "\n") + "\n\n" + timeline.summaryText() + "\n" + strategyLine + "\n\n" + backtestText + "\n")
                .write(to: summaryFile, atomically: true, encoding: .utf8)
            emit(timeline.summaryText())
            emit(strategyLine)
            emit(backtestText)
            emit("Plot: \(plot.path)\nTimeline and summary: \(summaryFile.path)" + (backtestPlot.map { "\nBacktest plot: \($0.path)" } ?? ""))
            await teardown()
            return Report(
                timeline: timeline, plot: plot, summaryFile: summaryFile, backtestPlot: backtestPlot, processIDs: processIDs, conditions: conditions)
        } catch {
            processIDs += await kubelet?.everStarted ?? []
            await teardown()
            throw error
        }
    }

    private func drive(
        kubelet: Kubelet, applications: ResourceClient<Application, SingleScope>, name: String, prometheusQuery: String,
        prometheusURL: URL, scalerArguments: [String], loadStart: Date?, processIDs: inout [Int32], emit: @escaping @Sendable (String) -> Void
    ) async throws -> Timeline {
        let profile = configuration.profile
        // The load starts when the backfilled history expects it.
        if let loadStart {
            let early = loadStart.timeIntervalSinceNow
            if early > 0 {
                try await Task.sleep(for: .milliseconds(Int64(early * 1_000)))
            } else {
                emit("Starting \(Int(-early.rounded())) s later than the backfilled history expects: the forecast is that much early")
            }
        }
        let load = LoadGenerator(profile: profile)
        let loadTask = Task { await load.run(ports: { await kubelet.readyPorts() }) }
        let scalerPath = "\(configuration.binaries)/tide-scaler"
        let scalerEvery = configuration.scalerEvery
        let lastReason = ReasonBox()
        let scalerPIDs = PIDBox()
        let scalerTask = Task {
            var codes: [Int32] = []
            while !Task.isCancelled {
                guard let process = try? ChildProcess(name: "tide-scaler", executable: scalerPath, arguments: scalerArguments, captureOutput: true) else { break }
                scalerPIDs.add(process.pid)
                let code = await process.wait()
                codes.append(code)
                // Drop the "Application ns/name: " prefix: the timeline is about one Application.
                var line = process.lastLine ?? ""
                if line.hasPrefix("Application "), let colon = line.range(of: ": ") { line = String(line[colon.upperBound...]) }
                lastReason.set("exit \(code): " + line)
                try? await Task.sleep(for: scalerEvery)
            }
            return codes
        }
        let prometheus = try PrometheusClient(address: prometheusURL, timeout: .seconds(2))
        var timeline = Timeline()
        if configuration.verbose { emit(Timeline.header()) }
        let start = ContinuousClock.now
        for second in 0...profile.duration {
            try? await Task.sleep(until: start + .seconds(second), clock: .continuous)
            try await kubelet.sync()
            let application = try await applications.get(name)
            var metric: Double?
            if case .value(let value) = await prometheus.query(prometheusQuery) { metric = value }
            let sample = Timeline.Sample(
                second: second, phase: profile.rate(at: Double(second)).phase, load: profile.rate(at: Double(second)).rps,
                metric: metric, desired: Int(application.spec.replicas ?? 1), running: await kubelet.readyCount(name),
                reason: lastReason.get())
            timeline.samples.append(sample)
            if configuration.verbose { emit(Timeline.line(sample)) }
        }
        loadTask.cancel()
        _ = await loadTask.value
        scalerTask.cancel()
        timeline.scalerExitCodes = await scalerTask.value
        processIDs += scalerPIDs.all
        try? await prometheus.shutdown()
        return timeline
    }
}

final class ReasonBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value = "(the scaler has not run yet)"
    func set(_ text: String) { lock.lock(); value = text; lock.unlock() }
    func get() -> String { lock.lock(); defer { lock.unlock() }; return value }
}

final class PIDBox: @unchecked Sendable {
    private let lock = NSLock()
    private var pids: [Int32] = []
    func add(_ pid: Int32) { lock.lock(); pids.append(pid); lock.unlock() }
    var all: [Int32] { lock.lock(); defer { lock.unlock() }; return pids }
}

extension LocalRun {
    /// The scaler CronJob of Application `name`'s Autoscaler, once the operator has
    /// made both and the Autoscaler carries the Application's scaling spec (at most 30 s).
    func scalerCronJob(
        of name: String, in namespace: String, client: KubeClient, applications: ResourceClient<Application, SingleScope>
    ) async throws -> CronJob {
        let cronJobs = client.namespaced(CronJob.self, in: namespace)
        let autoscalers = client.namespaced(Autoscaler.self, in: namespace)
        for _ in 0..<300 {
            let wanted = try await applications.get(name).spec.withDefaults.scaling
            if let own = try await autoscalers.getIfPresent(name), own.spec.defaultedScaling == wanted,
                let cronJob = try await cronJobs.getIfPresent("\(name)-scaler")
            {
                return cronJob
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw LocalRunError.failed("the operator made no scaler for Application \(namespace)/\(name) within 30 s")
    }
}
