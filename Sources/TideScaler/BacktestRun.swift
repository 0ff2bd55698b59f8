#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import KubeClient
import TideAPI

/// `tide-scaler backtest`: an Application's or an Autoscaler's metric history from
/// Prometheus, replayed through its current scaling spec and a proposed one, side by side.
public struct BacktestRun: Sendable {
    public struct Options: Sendable {
        public var since: Duration = .seconds(6 * 3_600)
        public var step: Duration = .seconds(15)
        /// Replaces `behavior` in the proposal.
        public var behavior: ScalingBehavior?
        /// Replaces `strategy` in the proposal.
        public var strategy: ScalingStrategy?
        /// Seconds new pods take to be ready; default: measured from the Deployment's
        /// history (desired and ready replicas), else the figure in status, else 30.
        public var readyDelay: Duration?
        /// Prometheus to query instead of each metric's own address (e.g. a port-forward).
        public var prometheusAddress: String?
        /// The Deployment's ready replicas over time; default: kube-state-metrics'
        /// ``BacktestRun/readyReplicasQuery(namespace:deployment:)``.
        public var replicasQuery: String?
        /// The Deployment's desired replicas over time (with the ready ones, they
        /// measure the pod start); default: kube-state-metrics'
        /// ``BacktestRun/desiredReplicasQuery(namespace:deployment:)``.
        public var desiredReplicasQuery: String?
        public var rows = 24
        public var end: Date?

        public init() {}
    }

    /// What the run found: the lines to print and the SVG to write.
    public struct Report: Sendable {
        public var lines: [String]
        public var svg: String
    }

    let client: KubeClient
    let namespace: String
    let name: String
    let options: Options

    let kind: Kind

    public init(client: KubeClient, namespace: String, name: String, kind: Kind = .application, options: Options) {
        self.client = client
        self.namespace = namespace
        self.name = name
        self.kind = kind
        self.options = options
    }

    public enum Failure: Error, CustomStringConvertible {
        case invalid(String)
        case history(String)
        public var description: String {
            switch self {
            case .invalid(let message), .history(let message): return message
            }
        }
    }

    /// Reads a behavior file: JSON or YAML (the kubeconfig reader's subset), the
    /// fields of `spec.scaling.behavior`, checked as the operator checks them.
    public static func behavior(fromFile path: String) throws -> ScalingBehavior {
        guard let data = FileManager.default.contents(atPath: path) else { throw Failure.invalid("cannot read \(path)") }
        let value: JSONValue
        do {
            value = try KubeConfigYAML.parse(String(decoding: data, as: UTF8.self))
        } catch {
            throw Failure.invalid("\(path) is not YAML or JSON: \(error)")
        }
        let behavior: ScalingBehavior
        do {
            behavior = try typed(value).decode(as: ScalingBehavior.self)
        } catch {
            throw Failure.invalid("\(path) is not a scaling behavior (scaleUp/scaleDown with stabilizationWindowSeconds, selectPolicy, policies): \(error)")
        }
        var probe = Scaling(maxReplicas: 1, prometheus: PrometheusSource(address: "http://x", query: "x"), target: .init(type: .perReplica, value: "1"))
        probe.behavior = behavior
        let issues = ApplicationSpec(image: "x", scaling: probe).withDefaults.validate().filter { $0.field.hasPrefix("spec.scaling.behavior") }
        guard issues.isEmpty else {
            throw Failure.invalid("\(path): " + issues.map { $0.description.replacing("spec.scaling.behavior.", with: "") }.joined(separator: "; "))
        }
        return behavior
    }

    /// YAML plain scalars as numbers and booleans where they read as such (the
    /// kubeconfig reader keeps every scalar a string).
    static func typed(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let fields): return .object(fields.mapValues(typed))
        case .array(let items): return .array(items.map(typed))
        case .string(let text):
            if let integer = Int64(text) { return .int(integer) }
            if let number = Double(text), text.contains(".") { return .double(number) }
            if text == "true" || text == "false" { return .bool(text == "true") }
            return value
        default: return value
        }
    }

    /// What is replayed: an Application, or an Autoscaler and its target.
    public enum Kind: Sendable {
        case application, autoscaler
    }

    /// The scaled object as the replay needs it.
    struct Subject {
        /// `Application shop/checkout`, `Autoscaler shop/checkout`.
        var title: String
        var scaling: Scaling
        var status: ScalingStatus?
        var replicas: Int32
        /// kube-state-metrics' ready and desired replicas of what it scales, if it knows the kind.
        var readyQuery: String?
        var desiredQuery: String?
    }

    func subject() async throws -> Subject {
        switch kind {
        case .application:
            guard let application = try await client.namespaced(Application.self, in: namespace).getIfPresent(name) else {
                throw Failure.invalid("Application \(namespace)/\(name) not found")
            }
            let spec = application.spec.withDefaults
            guard let scaling = spec.scaling else { throw Failure.invalid("Application \(namespace)/\(name) has no spec.scaling: nothing to replay") }
            return Subject(
                title: "Application \(namespace)/\(name)", scaling: scaling, status: application.status?.scaling,
                replicas: application.spec.replicas ?? spec.effectiveReplicas,
                readyQuery: Self.readyReplicasQuery(namespace: namespace, deployment: name),
                desiredQuery: Self.desiredReplicasQuery(namespace: namespace, deployment: name))
        case .autoscaler:
            guard let autoscaler = try await client.namespaced(Autoscaler.self, in: namespace).getIfPresent(name) else {
                throw Failure.invalid("Autoscaler \(namespace)/\(name) not found")
            }
            let target = autoscaler.spec.scaleTargetRef
            // An Application's pods are its Deployment of the same name.
            let workload: (kind: String, label: String)? = switch target.kind {
            case "Deployment", "Application": ("deployment", "deployment")
            case "StatefulSet": ("statefulset", "statefulset")
            default: nil
            }
            return Subject(
                title: "Autoscaler \(namespace)/\(name) (\(target.description))", scaling: autoscaler.spec.defaultedScaling,
                status: autoscaler.status?.scaling, replicas: autoscaler.status?.replicas ?? autoscaler.status?.scaling?.desiredReplicas ?? 1,
                readyQuery: workload.map { #"max(kube_\#($0.kind)_status_replicas_ready{namespace="\#(namespace)",\#($0.label)="\#(target.name)"})"# },
                desiredQuery: workload.map {
                    $0.kind == "statefulset"
                        ? #"max(kube_statefulset_replicas{namespace="\#(namespace)",statefulset="\#(target.name)"})"#
                        : #"max(kube_deployment_spec_replicas{namespace="\#(namespace)",deployment="\#(target.name)"})"#
                })
        }
    }

    public func run() async throws -> Report {
        let subject = try await subject()
        let current = subject.scaling
        var proposed = current
        if let behavior = options.behavior {
            proposed.behavior = behavior
            proposed = ApplicationSpec(image: "backtest", scaling: proposed).withDefaults.scaling ?? proposed
        }
        if let strategy = options.strategy { proposed.strategy = strategy }
        for metric in current.resolvedMetrics where metric.prometheus == nil { throw Backtest.Failure.live(metric: metric.name) }

        let end = options.end ?? Date()
        let start = end.addingTimeInterval(-options.since.inSeconds)
        let step = options.step.inSeconds
        let reader = MetricReader(client: client, namespace: namespace)
        var series: [Backtest.Series] = []
        for metric in current.resolvedMetrics {
            guard let source = metric.prometheus else { continue }
            let address = options.prometheusAddress ?? source.address
            switch try await history(source.query, from: metric, reader: reader, start: start, end: end, step: step) {
            case .success(let points) where points.isEmpty: throw Backtest.Failure.noHistory(metric: metric.name)
            case .success(let points): series.append(.init(metric: metric.name, points: points))
            case .failure(.emptyResult): throw Backtest.Failure.noHistory(metric: metric.name)
            case .failure(let why): throw Failure.history("metric \(metric.name): \(address) query_range failed: \(why)")
            }
        }
        let aligned = Backtest.align(series, start: start, end: end, step: step)

        // What the workload really had, when Prometheus has it (kube-state-metrics):
        // the replays then start where it was, and the report shows it beside them. A
        // target kind kube-state-metrics does not know has no default query.
        let replicasQuery = options.replicasQuery ?? subject.readyQuery
        let desiredQuery = options.desiredReplicasQuery ?? subject.desiredQuery
        var actual = Backtest.Series(metric: "replicas", points: [])
        var desired: [Backtest.Point] = []
        var actualNote = ""
        if let metric = current.resolvedMetrics.first(where: { $0.prometheus != nil }), let replicasQuery {
            switch try await history(replicasQuery, from: metric, reader: reader, start: start, end: end, step: step) {
            case .success(let points): actual.points = points
            case .failure(.emptyResult): break
            case .failure(let why): actualNote = ": \(why)"
            }
            if !actual.points.isEmpty, options.readyDelay == nil, let desiredQuery,
                case .success(let points) = try await history(desiredQuery, from: metric, reader: reader, start: start, end: end, step: step)
            {
                desired = points
            }
        }
        let readyDelay: TimeInterval
        let readyDelaySource: String
        if let given = options.readyDelay {
            (readyDelay, readyDelaySource) = (given.inSeconds, "as given")
        } else if let measured = Backtest.measuredReadyDelay(desired: desired, ready: actual.points) {
            (readyDelay, readyDelaySource) = (
                measured.seconds,
                "measured: the median of \(measured.scaleUps) scale-up\(measured.scaleUps == 1 ? "" : "s") in the history, to the samples' \(ScalingAlgorithm.format(step)) s"
            )
        } else if let status = subject.status?.readyDelaySeconds {
            (readyDelay, readyDelaySource) = (Double(status), "as strategy Predictive measured it, in status")
        } else {
            (readyDelay, readyDelaySource) = (Double(PredictiveStrategy.defaultReadyDelay), "assumed: no scale-up in the history, none measured in status")
        }
        let initial = actual.points.first.map { ScalingAlgorithm.clampToInt32($0.value.rounded()) } ?? subject.replicas
        // Each step is scored against the load it carried, as Forecast's gate scores it,
        // read from the same aligned readings.
        var histories: [String: MetricHistory] = [:]
        for one in series { histories[one.metric] = MetricHistory(start: start, step: step, values: aligned.readings.map { $0[one.metric] }) }
        let load = Backtest.load(during: aligned.times, step: step, readings: aligned.readings, metrics: current.resolvedMetrics, histories: histories)
        var replays = [("current", current), ("proposed", proposed)].map { entry in
            (name: entry.0, replay: Backtest.replay(
                scaling: entry.1, times: aligned.times, readings: aligned.readings, step: step, initial: initial, readyDelay: readyDelay,
                scoredAgainst: load))
        }
        let observed = Backtest.observed(actual, times: aligned.times, ideal: replays[0].replay.ideal, step: step)
        if let observed { replays.append((name: "actual", replay: observed)) }
        let actualLine: String
        if let replicasQuery {
            actualLine = observed != nil
                ? "actual:   the workload's ready replicas, from \(replicasQuery); both replays start at its \(initial)"
                : "actual:   no history of the workload's ready replicas (\(replicasQuery) returned none\(actualNote); is kube-state-metrics scraped? --replicas-query names another query); both replays start at the current \(initial)"
        } else {
            actualLine = "actual:   no default query for this target's kind (--replicas-query names one); both replays start at the current \(initial)"
        }
        return report(
            title: subject.title, current: current, proposed: proposed, aligned: aligned, replays: replays, start: start, end: end, step: step,
            readyDelay: readyDelay, readyDelaySource: readyDelaySource, actual: actualLine)
    }

    /// kube-state-metrics' desired replicas of a Deployment (`spec.replicas`).
    public static func desiredReplicasQuery(namespace: String, deployment: String) -> String {
        #"max(kube_deployment_spec_replicas{namespace="\#(namespace)",deployment="\#(deployment)"})"#
    }

    /// kube-state-metrics' ready replicas of a Deployment (the largest series, should
    /// several instances export it).
    public static func readyReplicasQuery(namespace: String, deployment: String) -> String {
        #"max(kube_deployment_status_replicas_ready{namespace="\#(namespace)",deployment="\#(deployment)"})"#
    }

    /// `query`'s samples in the window, from the Prometheus `metric` names (or the
    /// address given instead), with the credentials its Secrets hold.
    func history(
        _ query: String, from metric: ScalingMetric, reader: MetricReader, start: Date, end: Date, step: TimeInterval
    ) async throws -> Result<[Backtest.Point], MetricUnavailable> {
        guard let source = metric.prometheus else { return .failure(.emptyResult) }
        let secrets = try await reader.secrets(for: metric)
        let address = options.prometheusAddress ?? source.address
        guard let url = URL(string: address) else { throw Failure.invalid("\(address) is not a URL") }
        let prometheus = try PrometheusClient(address: url, timeout: .seconds(30), credentials: secrets.credentials, caPEM: secrets.caPEM)
        let history = await prometheus.queryRange(query, start: start, end: end, step: step)
        try? await prometheus.shutdown()
        return history
    }

    func report(
        title: String, current: Scaling, proposed: Scaling, aligned: (times: [Date], readings: [[String: Double]], gaps: [Backtest.Gap]),
        replays: [(name: String, replay: Backtest.Replay)], start: Date, end: Date, step: TimeInterval, readyDelay: TimeInterval,
        readyDelaySource: String, actual: String
    ) -> Report {
        let metric = current.resolvedMetrics.first?.name ?? ""
        var lines = [
            "Backtest of \(title): \(aligned.times.count) decisions every \(ScalingAlgorithm.format(step)) s from \(Time(start)) to \(Time(end)); pods ready \(ScalingAlgorithm.format(readyDelay)) s after a scale-up (\(readyDelaySource))",
            "current:  strategy \(current.strategy?.rawValue ?? "HPA"), scale-down window \(current.behavior?.scaleDown?.stabilizationWindowSeconds ?? 300) s",
            "proposed: strategy \(proposed.strategy?.rawValue ?? "HPA"), scale-down window \(proposed.behavior?.scaleDown?.stabilizationWindowSeconds ?? 300) s",
            actual,
        ]
        for gap in aligned.gaps { lines.append("gap: \(gap)") }
        lines.append("")
        lines.append(pad(["time", metric, "ideal"] + replays.map(\.name)))
        let every = max(1, aligned.times.count / max(options.rows, 1))
        for index in stride(from: 0, to: aligned.times.count, by: every) {
            lines.append(pad([
                Time(aligned.times[index]).description, aligned.readings[index][metric].map(ScalingAlgorithm.format) ?? "-",
                replays[0].replay.ideal[index].map(String.init) ?? "-",
            ] + replays.map { String($0.replay.ready[index]) }))
        }
        lines.append("")
        lines.append(pad(["policy", "shortfall replica·s", "idle replica·s", "scale changes", "down while unavailable"]))
        for entry in replays {
            let observed = entry.name == "actual"
            lines.append(pad([
                entry.name, ScalingAlgorithm.format(entry.replay.shortfall), ScalingAlgorithm.format(entry.replay.idle), String(entry.replay.scaleChanges),
                observed ? "-" : String(entry.replay.downWhileUnavailable),
            ]))
        }
        lines.append(
            "ideal: ceil(load / target) of the PerReplica metrics, within the bounds, a step's load being the metric half a step and half its query's range later (the metric reads the load that late); ready replicas are compared with it")
        if replays.contains(where: { $0.name == "actual" }) {
            lines.append("actual: its scale changes are changes of its ready count; where the current replay follows it, the replay's model (pod start, cadence) fits this Application")
        }
        let svg = Backtest.svg(
            title: "Backtest of \(namespace)/\(name)", times: aligned.times, values: aligned.readings.map { $0[metric] },
            ideal: replays[0].replay.ideal, replays: replays)
        return Report(lines: lines, svg: svg)
    }

    func pad(_ cells: [String]) -> String {
        let widths = [20, 12, 6, 8, 9]
        return cells.enumerated().map { index, cell in
            let width = index < widths.count ? widths[index] : 10
            return cell.count >= width ? cell : cell + String(repeating: " ", count: width - cell.count)
        }.joined(separator: "  ")
    }
}
