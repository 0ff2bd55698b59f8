import KubeAPI

/// Scales any workload with a `/scale` subresource (a Deployment, a StatefulSet, an
/// Application, an Argo Rollout, …) with Tide's scaler, or, with `observe: true`,
/// decides and records what it would do without ever writing the target.
public struct Autoscaler: NamespacedObject, HasStatusSubresource, Hashable {
    public static let resource = ResourceDescriptor(
        group: "tide.dev", version: "v1alpha1", plural: "autoscalers", kind: "Autoscaler", namespaced: true)
    public var apiVersion: String? = "tide.dev/v1alpha1"
    public var kind: String? = "Autoscaler"
    public var metadata: ObjectMeta
    public var spec: AutoscalerSpec
    public var status: AutoscalerStatus?

    public init(metadata: ObjectMeta, spec: AutoscalerSpec, status: AutoscalerStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

/// The workload a scaler scales, as the HorizontalPodAutoscaler names it.
public struct ScaleTargetReference: Sendable, Hashable, Codable {
    /// `apps/v1`, `tide.dev/v1alpha1`, …
    public var apiVersion: String
    public var kind: String
    public var name: String

    public init(apiVersion: String, kind: String, name: String) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
    }

    /// The API group (empty for the core group) and version.
    public var groupVersion: (group: String, version: String) {
        let parts = apiVersion.split(separator: "/", maxSplits: 1).map(String.init)
        return parts.count == 2 ? (parts[0], parts[1]) : ("", parts.first ?? "")
    }

    /// `Deployment/checkout`.
    public var description: String { "\(kind)/\(name)" }
}

/// What the user asks for: the target, whether only to observe, and the scaling spec,
/// whose fields sit beside `scaleTargetRef` exactly as they do under
/// `Application.spec.scaling`.
public struct AutoscalerSpec: Sendable, Hashable, Codable {
    public var scaleTargetRef: ScaleTargetReference
    /// Decide and record everything, never write the target's `/scale`.
    public var observe: Bool?
    /// The scaling spec (its fields are inline in the JSON).
    public var scaling: Scaling

    public init(scaleTargetRef: ScaleTargetReference, observe: Bool? = nil, scaling: Scaling) {
        self.scaleTargetRef = scaleTargetRef
        self.observe = observe
        self.scaling = scaling
    }

    enum CodingKeys: String, CodingKey {
        case scaleTargetRef, observe
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        scaleTargetRef = try container.decode(ScaleTargetReference.self, forKey: .scaleTargetRef)
        observe = try container.decodeIfPresent(Bool.self, forKey: .observe)
        scaling = try Scaling(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        try scaling.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(scaleTargetRef, forKey: .scaleTargetRef)
        try container.encodeIfPresent(observe, forKey: .observe)
    }

    /// Whether the target is never written.
    public var isObserving: Bool { observe == true }

    /// Whether the target is an Application (whose metrics the metrics adapter also
    /// serves under External names, `<application>-<metric>`).
    public var targetsApplication: Bool {
        scaleTargetRef.kind == Application.resource.kind && scaleTargetRef.apiVersion == Application.resource.apiVersion
    }

    /// The problems that make it invalid, as for an Application's scaling, plus the
    /// target reference's.
    public func validate() -> [ValidationIssue] {
        var issues = ApplicationSpec(image: "validation", scaling: scaling).withDefaults.validate()
            .filter { $0.field.hasPrefix("spec.scaling") }
            .map { ValidationIssue(field: $0.field.replacing("spec.scaling", with: "spec"), message: $0.message) }
        if scaleTargetRef.name.isEmpty { issues.append(.init(field: "spec.scaleTargetRef.name", message: "is required")) }
        if scaleTargetRef.kind.isEmpty { issues.append(.init(field: "spec.scaleTargetRef.kind", message: "is required")) }
        if scaleTargetRef.groupVersion.version.isEmpty {
            issues.append(.init(field: "spec.scaleTargetRef.apiVersion", message: "is required, e.g. apps/v1"))
        }
        if scaling.mode == .hpa {
            if isObserving {
                issues.append(.init(field: "spec.observe", message: "needs mode CronJob or Continuous: in mode HPA a HorizontalPodAutoscaler scales, and nothing observes"))
            }
            if scaling.hpa?.metricType == .external, !targetsApplication {
                issues.append(.init(
                    field: "spec.hpa.metricType",
                    message: "an Autoscaler's HorizontalPodAutoscaler reads Object metrics (custom.metrics.k8s.io); External names are an Application's, for an Autoscaler whose target is that Application"))
            }
        }
        return issues
    }

    /// The scaling spec with every default filled, as for an Application.
    public var defaultedScaling: Scaling { ApplicationSpec(image: "defaults", scaling: scaling).withDefaults.scaling ?? scaling }
}

/// What the scaler reports.
public struct AutoscalerStatus: Sendable, Hashable, Codable {
    public var observedGeneration: Int64?
    public var conditions: [Condition]?
    /// The scaler's memory and last decision, as under an Application.
    public var scaling: ScalingStatus?
    /// The target's replicas (`/scale` `status.replicas`) and ready replicas at the last decision.
    public var replicas: Int32?
    public var readyReplicas: Int32?
    /// With `observe: true`: Tide's shadow against what the target really had.
    public var observation: ObservationStatus?

    public init() {}
}

/// Observe mode's account, since ``since``: Tide's shadow replica count (following its
/// own decisions and the measured pod start) and the target's actual ready replicas,
/// each scored against the ideal (`ceil(value / target)` of the largest PerReplica
/// metric, within the bounds).
public struct ObservationStatus: Sendable, Hashable, Codable {
    public var since: Time
    /// The last decision the account includes.
    public var lastTime: Time
    public var tide: Tally
    public var actual: Tally
    /// The replicas Tide would have now, and those that would be ready.
    public var shadowReplicas: Int32
    public var shadowReady: Int32
    /// When the shadow's last scale-up would be ready.
    public var shadowReadyAt: Time?
    /// The ideal at the last decision, and the target's ready replicas then.
    public var lastIdeal: Int32?
    public var lastActual: Int32?
    /// One line: `tide 120/900 vs actual 480/4100` (shortfall/idle replica·s).
    public var summary: String
    /// When the daily summary Event was last recorded.
    public var lastReportTime: Time?

    public init(
        since: Time, lastTime: Time, tide: Tally, actual: Tally, shadowReplicas: Int32, shadowReady: Int32, shadowReadyAt: Time? = nil,
        lastIdeal: Int32? = nil, lastActual: Int32? = nil, summary: String, lastReportTime: Time? = nil
    ) {
        self.since = since
        self.lastTime = lastTime
        self.tide = tide
        self.actual = actual
        self.shadowReplicas = shadowReplicas
        self.shadowReady = shadowReady
        self.shadowReadyAt = shadowReadyAt
        self.lastIdeal = lastIdeal
        self.lastActual = lastActual
        self.summary = summary
        self.lastReportTime = lastReportTime
    }

    /// Replica·seconds ready below and above the ideal, and changes of the count.
    public struct Tally: Sendable, Hashable, Codable {
        public var shortfall: Int64
        public var idle: Int64
        public var scaleChanges: Int32

        public init(shortfall: Int64 = 0, idle: Int64 = 0, scaleChanges: Int32 = 0) {
            self.shortfall = shortfall
            self.idle = idle
            self.scaleChanges = scaleChanges
        }
    }
}
