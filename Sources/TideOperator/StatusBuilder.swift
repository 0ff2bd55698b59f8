import KubeAPI
import KubeAPIExtensions
import TideAPI

/// What the reconcile found, from which status is computed.
public struct Observation: Sendable, Hashable {
    /// Validation problems; non-empty means nothing was applied.
    public var invalid: [ValidationIssue] = []
    /// Children that exist but are not controlled by this Application.
    public var conflicts: [String] = []
    /// Children that could not be applied, with the reason.
    public var failures: [String] = []
    /// Whether the ServiceMonitor CRD is installed.
    public var serviceMonitorsAvailable = true
    /// The live Deployment's status, if it exists.
    public var deployment: Deployment?
    /// Mode HPA: the live HorizontalPodAutoscaler of the Application's Autoscaler, if it exists.
    public var autoscaler: HorizontalPodAutoscaler?
    /// Modes CronJob and Continuous: the Application's own Autoscaler, if it exists,
    /// whose scaler's status the Application shows.
    public var scaler: Autoscaler?

    public init() {}
}

/// Pure: the status an Application should have after a reconcile.
public enum StatusBuilder {
    /// Computes the next status, keeping every condition's `lastTransitionTime` unless
    /// its status changes. The scaler's part (`scaling`, `ScalingActive`,
    /// `ScalingLimited`, the strategy's condition) is the Application's Autoscaler's,
    /// mirrored; until that Autoscaler has decided (or was given the Application's
    /// memory), the Application's own is kept as it is. In mode HPA there is no scaler:
    /// `AbleToScale`, `ScalingActive` and `ScalingLimited` mirror the
    /// HorizontalPodAutoscaler's (its Autoscaler's, which scales the Application).
    public static func status(for application: Application, observation: Observation, now: Time = .now) -> ApplicationStatus {
        var status = application.status ?? ApplicationStatus()
        let generation = application.metadata.generation
        status.observedGeneration = generation
        status.selector = Children.selectorString(for: application)
        if application.runsScaler, let scaler = observation.scaler, let memory = scaler.status?.scaling {
            status.scaling = memory
            status.conditions = mirror(scaler, into: status.conditions ?? [], generation: generation)
        }
        let deploymentStatus = observation.deployment?.status
        status.replicas = deploymentStatus?.replicas ?? 0
        status.readyReplicas = deploymentStatus?.readyReplicas ?? 0
        // The moment the ready count reaches the scaler's pending scale-up is seen here,
        // not at the scaler's next run (a minute later in CronJob mode): record it once.
        status.scaleUpReady = .scaleUpReady(
            recorded: status.scaleUpReady, pending: status.scaling?.pendingScaleUp, ready: status.readyReplicas ?? 0, at: now)
        var conditions = status.conditions ?? []
        func set(_ type: String, _ value: Bool, _ reason: String, _ message: String) {
            conditions.set(Condition(
                type: type, status: value ? "True" : "False", observedGeneration: generation, lastTransitionTime: now,
                reason: reason, message: message))
        }

        if !observation.invalid.isEmpty {
            let message = observation.invalid.map(\.description).joined(separator: "; ")
            set("Ready", false, "InvalidSpec", message)
            set("Progressing", false, "InvalidSpec", "fix the spec; nothing is applied until it is valid")
            set("Degraded", true, "InvalidSpec", message)
            status.conditions = conditions
            return status
        }

        let hpaMode = application.spec.scaling?.mode == .hpa
        let deployment = observation.deployment
        let desired = application.spec.effectiveReplicas
        if hpaMode {
            mirror(observation.autoscaler, paused: application.spec.scaling?.paused == true, into: &conditions, generation: generation, now: now)
        } else {
            conditions.removeAll { $0.type == "AbleToScale" }
        }
        let rolledOut: Bool = {
            guard let deployment, let live = deployment.status else { return false }
            let observed = (live.observedGeneration ?? 0) >= (deployment.metadata.generation ?? 0)
            let updated = (live.updatedReplicas ?? 0) >= desired
            let available = (live.availableReplicas ?? 0) >= desired
            let noExtra = (live.replicas ?? 0) <= desired
            return observed && updated && available && noExtra
        }()

        if !observation.conflicts.isEmpty {
            set("Ready", false, "ResourceConflict", "not controlled by this Application, left alone: " + observation.conflicts.joined(separator: ", "))
        } else if !observation.failures.isEmpty {
            set("Ready", false, "ApplyFailed", observation.failures.joined(separator: "; "))
        } else if rolledOut {
            set("Ready", true, "Available", "all children applied; \(desired) of \(desired) replicas available")
        } else {
            let available = deploymentStatus?.availableReplicas ?? 0
            set("Ready", false, "RollingOut", "waiting for the Deployment: \(available) of \(desired) replicas available")
        }

        if rolledOut || deployment == nil {
            set("Progressing", false, rolledOut ? "RolloutComplete" : "NotStarted", rolledOut ? "the Deployment is up to date" : "the Deployment does not exist yet")
        } else {
            let updated = deploymentStatus?.updatedReplicas ?? 0
            set("Progressing", true, "RollingOut", "\(updated) of \(desired) replicas updated")
        }

        if !observation.conflicts.isEmpty {
            set("Degraded", true, "ResourceConflict", "objects with Tide's names exist and are not controlled by this Application: " + observation.conflicts.joined(separator: ", "))
        } else if !observation.serviceMonitorsAvailable {
            set("Degraded", true, "ServiceMonitorCRDMissing", "the monitoring.coreos.com/v1 ServiceMonitor resource is not installed; everything else is deployed and Prometheus must be configured to scrape the Service")
        } else if !observation.failures.isEmpty {
            set("Degraded", true, "ApplyFailed", observation.failures.joined(separator: "; "))
        } else if application.scalesThroughAutoscaler, let scaler = observation.scaler,
            let blocked = scaler.status?.conditions?[type: "Ready"], blocked.status == "False"
        {
            // The Autoscaler cannot scale the Application (a scaler refused its target, an
            // operator without the rights to grant it): the Application says so too.
            set("Degraded", true, "ScalingBlocked", "Autoscaler \(scaler.metadata.name ?? ""): \(blocked.reason): \(blocked.message)")
        } else {
            set("Degraded", false, "AsExpected", "every child is as desired")
        }
        status.conditions = conditions
        return status
    }

    /// The Application's own condition types; every other one is its scaler's.
    static let ownConditionTypes: Set<String> = ["Ready", "Progressing", "Degraded", "AbleToScale"]

    /// The Autoscaler's scaling conditions (all but its `Ready`) as the Application's,
    /// as they are (status, reason, message, transition time); a scaling condition the
    /// Autoscaler no longer has is removed.
    static func mirror(_ scaler: Autoscaler, into conditions: [Condition], generation: Int64?) -> [Condition] {
        var next = conditions.filter { ownConditionTypes.contains($0.type) }
        for var condition in scaler.status?.conditions ?? [] where !ownConditionTypes.contains(condition.type) {
            condition.observedGeneration = generation
            next.append(condition)
        }
        return next
    }

    /// The HorizontalPodAutoscaler's conditions as the Application's, with its reasons
    /// and messages (what `kubectl describe hpa` shows); before its first sync, or
    /// while paused (no HPA), one condition says so.
    static func mirror(_ autoscaler: HorizontalPodAutoscaler?, paused: Bool, into conditions: inout [Condition], generation: Int64?, now: Time) {
        let types = ["AbleToScale", "ScalingActive", "ScalingLimited"]
        func set(_ type: String, _ status: String, _ reason: String, _ message: String, at time: Time?) {
            conditions.set(Condition(
                type: type, status: status, observedGeneration: generation, lastTransitionTime: time ?? now, reason: reason, message: message))
        }
        if paused {
            conditions.removeAll { $0.type == "AbleToScale" || $0.type == "ScalingLimited" }
            set("ScalingActive", "False", "Paused", "spec.scaling.paused: no HorizontalPodAutoscaler; the replicas stay where they are", at: nil)
            return
        }
        let reported = autoscaler?.status?.conditions ?? []
        guard !reported.isEmpty else {
            conditions.removeAll { $0.type == "AbleToScale" || $0.type == "ScalingLimited" }
            set(
                "ScalingActive", "Unknown", "WaitingForAutoscaler",
                autoscaler == nil ? "the HorizontalPodAutoscaler does not exist yet" : "the HorizontalPodAutoscaler has not synced yet", at: nil)
            return
        }
        for type in types {
            guard let condition = reported.first(where: { $0.type == type }) else {
                conditions.removeAll { $0.type == type }
                continue
            }
            set(
                type, condition.status, condition.reason ?? "HorizontalPodAutoscaler",
                "HorizontalPodAutoscaler: " + (condition.message ?? condition.reason ?? condition.status), at: condition.lastTransitionTime)
        }
    }
}
