#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import KubeClient
import TideAPI
import TideScaler

/// What `kubectl tide` shows: every scaled Application and Autoscaler, why one scaled,
/// and observe mode's figures. Each command reads through the API (what the user's
/// kubeconfig may read) and returns lines or a JSON document; the executable prints.
public struct TideCLI: Sendable {
    public let client: KubeClient

    public init(client: KubeClient) { self.client = client }

    /// One row of `list`.
    public struct Row: Sendable, Hashable, Codable {
        public var kind: String
        public var namespace: String
        public var name: String
        public var target: String
        public var mode: String
        public var replicas: String
        public var desired: String
        public var metric: String
        public var health: String
    }

    /// A failure said in one line.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// Every Application with `spec.scaling` and every Autoscaler, in `namespace` (or all).
    public func list(namespace: String?) async throws -> [Row] {
        let applications = try await readable("applications") {
            if let namespace { return try await client.namespaced(Application.self, in: namespace).list().items }
            return try await client.allNamespaces(Application.self).list().items
        }
        let autoscalers = try await readable("autoscalers") {
            if let namespace { return try await client.namespaced(Autoscaler.self, in: namespace).list().items }
            return try await client.allNamespaces(Autoscaler.self).list().items
        }
        var rows: [Row] = []
        for application in applications {
            guard let scaling = application.spec.withDefaults.scaling else { continue }
            rows.append(Row(
                kind: "Application", namespace: application.namespace ?? "", name: application.name, target: "Deployment/\(application.name)",
                mode: scaling.mode?.rawValue ?? "CronJob", replicas: application.status?.readyReplicas.map(String.init) ?? "-",
                desired: (application.status?.scaling?.desiredReplicas ?? application.spec.replicas).map(String.init) ?? "-",
                metric: application.status?.scaling?.summary ?? "-", health: Self.health(application.status?.conditions ?? [])))
        }
        // An Application's own Autoscaler is its scaling path: the Application's row stands for it.
        for autoscaler in autoscalers where autoscaler.owningApplication == nil {
            let observing = autoscaler.spec.isObserving
            rows.append(Row(
                kind: "Autoscaler", namespace: autoscaler.namespace ?? "", name: autoscaler.name, target: autoscaler.spec.scaleTargetRef.description,
                mode: (autoscaler.spec.scaling.mode?.rawValue ?? "CronJob") + (observing ? " (observe)" : ""),
                replicas: autoscaler.status?.readyReplicas.map(String.init) ?? "-",
                desired: autoscaler.status?.scaling?.desiredReplicas.map(String.init) ?? "-",
                metric: autoscaler.status?.scaling?.summary ?? "-", health: Self.health(autoscaler.status?.conditions ?? [])))
        }
        return rows.sorted { ($0.namespace, $0.name, $0.kind) < ($1.namespace, $1.name, $1.kind) }
    }

    /// `Ready`, or the first condition that is not well, as `Type=Status (Reason)`.
    static func health(_ conditions: [Condition]) -> String {
        let bad = conditions.first { condition in
            switch condition.type {
            case "Ready", "ScalingActive": return condition.status != "True"
            case "Degraded": return condition.status == "True"
            default: return false
            }
        }
        if let bad { return "\(bad.type)=\(bad.status) (\(bad.reason))" }
        if conditions.isEmpty { return "waiting for the first decision" }
        return "OK"
    }

    /// `why NAME`: the last decision with each metric's reading and target, the
    /// conditions' reasons, then the Events about it (for an Application, its own
    /// Autoscaler's too: the scaler records them there), newest first.
    public func why(_ name: String, namespace: String) async throws -> [String] {
        let (kind, scaling, status, conditions, uid) = try await subject(name, namespace: namespace)
        var lines = ["\(kind) \(namespace)/\(name)"]
        let memory = status
        if let time = memory?.lastQueryTime {
            lines.append("last decision: \(time) → \(memory?.desiredReplicas.map(String.init) ?? "-") replicas" + (memory?.drivingMetric.map { " (driven by \($0))" } ?? ""))
        } else {
            lines.append("last decision: none yet (is its scaler running?)")
        }
        for metric in scaling.resolvedMetrics {
            let stored = memory?.metrics?.first { $0.name == metric.name }
            let reading = stored?.unavailableReason.map { "unavailable (\($0))" } ?? stored?.value ?? "not read yet"
            lines.append("  \(metric.name): \(reading) against a \(metric.target.type.rawValue) target of \(metric.target.value)")
        }
        for type in ["ScalingActive", "ScalingLimited", "ForecastConfident", "Ready"] {
            guard let condition = conditions.first(where: { $0.type == type }) else { continue }
            lines.append("\(type)=\(condition.status) \(condition.reason): \(condition.message)")
        }
        let events = try await readable("events") { try await client.namespaced(Event.self, in: namespace).list().items }
            .filter { event in
                guard event.regarding?.name == name else { return false }
                // An Application's scale Events are its own Autoscaler's (of its name).
                if kind == "Application", event.regarding?.kind == "Autoscaler" { return true }
                return (event.regarding?.uid == nil || event.regarding?.uid == uid) && event.regarding?.kind == kind
            }
            .sorted { $0.eventTime.date > $1.eventTime.date }
        lines.append(events.isEmpty ? "events: none" : "events, newest first:")
        for event in events.prefix(20) {
            let count = event.series.map { " (×\($0.count))" } ?? ""
            lines.append("  \(MicroTime(event.eventTime.date).description.prefix(19))Z \(event.type ?? "") \(event.reason ?? "")\(count): \(event.note ?? "")")
        }
        return lines
    }

    /// `report NAME`: observe mode's account, Tide's shadow beside the target.
    public func report(_ name: String, namespace: String) async throws -> [String] {
        guard let autoscaler = try await readable("autoscalers", { try await client.namespaced(Autoscaler.self, in: namespace).getIfPresent(name) }) else {
            throw Failure("autoscaler \(namespace)/\(name) not found (report shows an observing Autoscaler's figures)")
        }
        if let application = autoscaler.owningApplication {
            throw Failure("Autoscaler \(namespace)/\(name) is Application \(application)'s scaling path: it scales the Application and does not observe (kubectl tide why \(application))")
        }
        guard let account = autoscaler.status?.observation else {
            throw Failure(autoscaler.spec.isObserving
                ? "Autoscaler \(namespace)/\(name) has no observation yet: its scaler has not decided"
                : "Autoscaler \(namespace)/\(name) is not observing (spec.observe: false): it scales its target")
        }
        let hours = ScalingAlgorithm.format((account.lastTime.date.timeIntervalSince(account.since.date) / 360).rounded() / 10)
        return [
            "Autoscaler \(namespace)/\(name) observing \(autoscaler.spec.scaleTargetRef.description) since \(account.since) (\(hours) h)",
            Self.pad(["", "shortfall replica·s", "idle replica·s", "scale changes"]),
            Self.pad(["tide (would)", String(account.tide.shortfall), String(account.tide.idle), String(account.tide.scaleChanges)]),
            Self.pad(["actual", String(account.actual.shortfall), String(account.actual.idle), String(account.actual.scaleChanges)]),
            "now: Tide would have \(account.shadowReplicas) (\(account.shadowReady) ready); the target has \(account.lastActual.map(String.init) ?? "-") ready",
        ]
    }

    /// Aligned columns, as kubectl prints them.
    public static func table(_ header: [String], _ rows: [[String]]) -> [String] {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { cells in
            cells.enumerated().map { index, cell in index == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count + 3) }
                .joined()
        }
    }

    static func pad(_ cells: [String]) -> String {
        cells.enumerated().map { index, cell in index == cells.count - 1 ? cell : cell + String(repeating: " ", count: max(1, (index == 0 ? 14 : 21) - cell.count)) }
            .joined()
    }

    /// The Application (first) or Autoscaler called `name`.
    func subject(_ name: String, namespace: String) async throws -> (String, Scaling, ScalingStatus?, [Condition], String?) {
        if let application = try await readable("applications", { try await client.namespaced(Application.self, in: namespace).getIfPresent(name) }),
            let scaling = application.spec.withDefaults.scaling
        {
            return ("Application", scaling, application.status?.scaling, application.status?.conditions ?? [], application.metadata.uid)
        }
        if let autoscaler = try await readable("autoscalers", { try await client.namespaced(Autoscaler.self, in: namespace).getIfPresent(name) }) {
            return ("Autoscaler", autoscaler.spec.defaultedScaling, autoscaler.status?.scaling, autoscaler.status?.conditions ?? [], autoscaler.metadata.uid)
        }
        throw Failure("no scaled Application or Autoscaler \(namespace)/\(name)")
    }

    /// Runs `read`, turning an RBAC denial into one line that says what is missing.
    func readable<T>(_ resource: String, _ read: () async throws -> T) async throws -> T {
        do {
            return try await read()
        } catch KubeError.forbidden(let status) {
            throw Failure("forbidden: you may not read \(resource) here (\(status.message ?? "RBAC denied it"))")
        } catch KubeError.notFound(let status) where resource != "events" {
            throw Failure("the server does not serve \(resource): are Tide's CRDs installed? (\(status.message ?? ""))")
        }
    }
}
