#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Metrics
import KubeAPI
import KubeRuntime
import Synchronization
import TideAPI

/// What the scalers decided, as Prometheus series: the operator reads each scaled
/// Application's and each Autoscaler's status as its cache sees it and exports it.
///
/// Every series is named `tide_…` and labelled `namespace` and `name`, and `metric`
/// for per-metric ones; nothing else, so a scaled Application or an acting Autoscaler
/// with `m` metrics has 15 + 3m series, an observing Autoscaler 5 more (its
/// observation). They are removed when the object goes or stops scaling. An
/// Application and an Autoscaler of the same name in one namespace share their series.
///
/// The counters count the decisions the cache saw: a status the scaler replaced twice
/// between two watch events counts once (at a CronJob's minute, never).
public final class DecisionMetrics: Sendable {
    /// Every series name, for the README, the dashboard and the alert rules to check against.
    public static let names = [
        "tide_replicas", "tide_ready_replicas", "tide_desired_replicas", "tide_min_replicas", "tide_max_replicas",
        "tide_scaling_limited", "tide_scaling_active", "tide_last_decision_timestamp_seconds", "tide_decision_interval_seconds",
        "tide_decisions_total", "tide_scale_ups_total", "tide_scale_downs_total", "tide_held_decisions_total", "tide_unavailable_decisions_total",
        "tide_spec_invalid",
        "tide_metric_value", "tide_metric_target", "tide_metric_unavailable",
        "tide_observed_shadow_replicas", "tide_observed_tide_shortfall_replica_seconds", "tide_observed_tide_idle_replica_seconds",
        "tide_observed_target_shortfall_replica_seconds", "tide_observed_target_idle_replica_seconds",
    ]

    /// What the series are read from: the parts of an Autoscaler's spec and status a
    /// decision leaves (a scaled Application's decisions are its own Autoscaler's).
    public struct Scaled: Sendable {
        public var key: ObjectKey
        public var scaling: Scaling
        public var replicas: Int32?
        public var readyReplicas: Int32?
        public var conditions: [Condition]
        public var memory: ScalingStatus?
        public var observation: ObservationStatus?
        /// Whether `tide_spec_invalid` is this object's to set: not for an Application's
        /// own Autoscaler, whose Application says whether its spec is valid.
        public var reportsValidity = true

        /// An Autoscaler, acting or observing, or `nil` in mode HPA.
        public init?(_ autoscaler: Autoscaler) {
            let scaling = autoscaler.spec.defaultedScaling
            guard scaling.mode != .hpa else { return nil }
            key = ObjectKey(autoscaler)
            self.scaling = scaling
            replicas = autoscaler.status?.replicas
            readyReplicas = autoscaler.status?.readyReplicas
            conditions = autoscaler.status?.conditions ?? []
            memory = autoscaler.status?.scaling
            observation = autoscaler.spec.isObserving ? autoscaler.status?.observation : nil
            reportsValidity = autoscaler.owningApplication == nil
        }
    }

    let factory: any MetricsFactory
    let entries = Mutex<[ObjectKey: Entry]>([:])

    /// The series of one Application and what was last seen of it.
    final class Entry: Sendable {
        let gauges: Mutex<[String: Gauge]> = Mutex([:])
        let counters: Mutex<[String: Counter]> = Mutex([:])
        let last = Mutex<(decision: Time?, scale: Time?, desired: Int32?)>((nil, nil, nil))
    }

    public init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// Follows `applications`: each change records, each deletion forgets.
    public func follow(_ applications: Informer<Application>) {
        applications.subscribe { [weak self] change in
            switch change {
            case .applied(let application): self?.record(application)
            case .deleted(let application): self?.forget(ObjectKey(application))
            }
        }
    }

    /// Follows `autoscalers`: each change records, each deletion forgets.
    public func follow(_ autoscalers: Informer<Autoscaler>) {
        autoscalers.subscribe { [weak self] change in
            switch change {
            case .applied(let autoscaler): self?.record(autoscaler)
            case .deleted(let autoscaler): self?.forget(ObjectKey(autoscaler))
            }
        }
    }

    /// Sets `tide_spec_invalid` for a scaled Application, and removes the series of one
    /// that no longer scales. Its decisions are its own Autoscaler's series, under the
    /// same namespace and name (the Application's status mirrors them a moment later,
    /// and would count each twice).
    public func record(_ application: Application) {
        if application.scalesThroughAutoscaler {
            let key = ObjectKey(application)
            let invalid = application.status?.conditions?[type: "Ready"]?.reason == "InvalidSpec"
            set("tide_spec_invalid", invalid ? 1 : 0, in: entry(key), key: key)
            return
        }
        forget(ObjectKey(application))
    }

    /// The series of `key`, made on first use.
    func entry(_ key: ObjectKey) -> Entry {
        entries.withLock { entries in
            if let entry = entries[key] { return entry }
            let entry = Entry()
            entries[key] = entry
            return entry
        }
    }

    /// Sets gauge `name` (per `metric` when given) of `key`; `nil` removes it.
    func set(_ name: String, _ value: Double?, metric: String? = nil, in entry: Entry, key: ObjectKey) {
        let id = metric.map { "\(name)/\($0)" } ?? name
        guard let value else {
            entry.gauges.withLock { $0.removeValue(forKey: id) }?.destroy()
            return
        }
        let series = entry.gauges.withLock { gauges in
            if let existing = gauges[id] { return existing }
            let dimensions = [("namespace", key.namespace ?? ""), ("name", key.name)] + (metric.map { [("metric", $0)] } ?? [])
            let made = Gauge(label: name, dimensions: dimensions, factory: factory)
            gauges[id] = made
            return made
        }
        series.record(value)
    }

    /// Sets the series from `autoscaler`'s spec and status.
    public func record(_ autoscaler: Autoscaler) {
        guard let scaled = Scaled(autoscaler) else {
            // An Application's own in mode HPA: the Application's validity stays.
            return forget(ObjectKey(autoscaler), keeping: autoscaler.owningApplication == nil ? [] : ["tide_spec_invalid"])
        }
        record(scaled)
    }

    /// Sets the series of one scaled object.
    public func record(_ scaled: Scaled) {
        let key = scaled.key
        let scaling = scaled.scaling
        let entry = entry(key)
        let base = [("namespace", key.namespace ?? ""), ("name", key.name)]
        func gauge(_ name: String, _ value: Double?, metric: String? = nil) { set(name, value, metric: metric, in: entry, key: key) }
        func count(_ name: String) {
            let counter = entry.counters.withLock { counters in
                if let existing = counters[name] { return existing }
                let made = Counter(label: name, dimensions: base, factory: factory)
                counters[name] = made
                return made
            }
            counter.increment()
        }
        let memory = scaled.memory
        gauge("tide_replicas", scaled.replicas.map(Double.init))
        gauge("tide_ready_replicas", scaled.readyReplicas.map(Double.init))
        gauge("tide_desired_replicas", memory?.desiredReplicas.map(Double.init))
        gauge("tide_min_replicas", Double(scaling.minReplicas ?? Defaults.minReplicas))
        gauge("tide_max_replicas", Double(scaling.maxReplicas))
        let observation = scaled.observation
        gauge("tide_observed_shadow_replicas", observation.map { Double($0.shadowReplicas) })
        gauge("tide_observed_tide_shortfall_replica_seconds", observation.map { Double($0.tide.shortfall) })
        gauge("tide_observed_tide_idle_replica_seconds", observation.map { Double($0.tide.idle) })
        gauge("tide_observed_target_shortfall_replica_seconds", observation.map { Double($0.actual.shortfall) })
        gauge("tide_observed_target_idle_replica_seconds", observation.map { Double($0.actual.idle) })
        let conditions = scaled.conditions
        gauge("tide_scaling_limited", conditions[type: "ScalingLimited"].map { $0.status == "True" ? 1 : 0 })
        gauge("tide_scaling_active", conditions[type: "ScalingActive"].map { $0.status == "True" ? 1 : 0 })
        // An invalid spec takes no decision to count: it is a state, 1 while it lasts.
        if scaled.reportsValidity { gauge("tide_spec_invalid", conditions[type: "Ready"]?.reason == "InvalidSpec" ? 1 : 0) }
        gauge("tide_last_decision_timestamp_seconds", memory?.lastQueryTime.map { $0.date.timeIntervalSince1970 })
        gauge("tide_decision_interval_seconds", Self.interval(of: scaling))
        for metric in scaling.resolvedMetrics {
            let stored = memory?.metrics?.first { $0.name == metric.name }
            gauge("tide_metric_value", stored?.value.flatMap(Double.init), metric: metric.name)
            gauge("tide_metric_target", Quantity.parse(metric.target.value), metric: metric.name)
            gauge("tide_metric_unavailable", stored.map { $0.unavailableReason == nil ? 0 : 1 }, metric: metric.name)
        }
        // Counters move only on a decision the cache has not seen before.
        let (newDecision, scaledNow, previousDesired) = entry.last.withLock { last -> (Bool, Bool, Int32?) in
            let decided = memory?.lastQueryTime != nil && memory?.lastQueryTime != last.decision
            let scaled = memory?.lastScaleTime != nil && memory?.lastScaleTime != last.scale
            let previous = last.desired
            if decided {
                last = (memory?.lastQueryTime, memory?.lastScaleTime, memory?.desiredReplicas)
            }
            return (decided, scaled, previous)
        }
        guard newDecision else { return }
        count("tide_decisions_total")
        let unavailable = (memory?.consecutiveFailures ?? 0) > 0
        if unavailable { count("tide_unavailable_decisions_total") }
        var moved = false
        if scaledNow, let desired = memory?.desiredReplicas, let before = previousDesired {
            if desired > before {
                count("tide_scale_ups_total")
                moved = true
            } else if desired < before {
                count("tide_scale_downs_total")
                moved = true
            }
        }
        // Held: read every metric and kept the count.
        if !moved, !unavailable { count("tide_held_decisions_total") }
    }

    /// Removes every series of `key` but the gauges named in `keeping`.
    public func forget(_ key: ObjectKey, keeping: Set<String> = []) {
        if !keeping.isEmpty {
            guard let entry = entries.withLock({ $0[key] }) else { return }
            let gauges = entry.gauges.withLock { gauges in
                let removed = gauges.filter { !keeping.contains($0.key) }
                for id in removed.keys { gauges.removeValue(forKey: id) }
                return Array(removed.values)
            }
            for gauge in gauges { gauge.destroy() }
            for counter in entry.counters.withLock({ counters in defer { counters.removeAll() }; return Array(counters.values) }) { counter.destroy() }
            entry.last.withLock { $0 = (nil, nil, nil) }
            return
        }
        guard let entry = entries.withLock({ $0.removeValue(forKey: key) }) else { return }
        for gauge in entry.gauges.withLock({ Array($0.values) }) { gauge.destroy() }
        for counter in entry.counters.withLock({ Array($0.values) }) { counter.destroy() }
    }

    /// Seconds between decisions: the Continuous interval, or the CronJob's schedule
    /// when it is every N minutes (60 s for `* * * * *`); `nil` for another schedule.
    static func interval(of scaling: Scaling) -> Double? {
        if scaling.mode == .continuous { return DurationText.parse(scaling.interval ?? Defaults.continuousInterval)?.inSeconds }
        let fields = (scaling.schedule ?? Defaults.schedule).split(separator: " ")
        guard fields.count == 5, fields[1...].allSatisfy({ $0 == "*" }) else { return nil }
        if fields[0] == "*" { return 60 }
        if fields[0].hasPrefix("*/"), let minutes = Double(fields[0].dropFirst(2)) { return minutes * 60 }
        return nil
    }
}
