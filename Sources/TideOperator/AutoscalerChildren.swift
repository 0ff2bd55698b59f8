import KubeAPI
import KubeAPIExtensions
import TideAPI

/// Pure builders: an Autoscaler → the scaler children it should have (see
/// docs/architecture.md): a ServiceAccount; a Role that allows get on the Autoscaler
/// and its status, get/patch/update on its target's `/scale` and get on the target, each
/// with `resourceNames` of that one object, and Events; the binding; and the scaler, a
/// CronJob (mode CronJob) or a one-replica Deployment (mode Continuous) running
/// `tide-scaler --autoscaler NAME`. In mode HPA: a HorizontalPodAutoscaler on the
/// target with one Object metric per metric, describing the Autoscaler (served by
/// tide-metrics-adapter's `custom.metrics.k8s.io`); none while `paused`.
public enum AutoscalerChildren {
    /// The target's resource, as discovery names it.
    public struct Target: Sendable, Hashable {
        public var group: String
        public var plural: String
        public var name: String

        public init(group: String, plural: String, name: String) {
            self.group = group
            self.plural = plural
            self.name = name
        }
    }

    public static func desired(for autoscaler: Autoscaler, target: Target, settings: OperatorSettings) throws -> [DesiredChild] {
        let owner = ScalerOwner(autoscaler)
        let mode = autoscaler.spec.scaling.mode ?? .cronJob
        guard mode != .hpa else {
            return autoscaler.spec.scaling.paused == true ? [] : [try DesiredChild(horizontalPodAutoscaler(for: autoscaler))]
        }
        var children = [
            try DesiredChild(Children.scalerServiceAccount(for: owner)),
            try DesiredChild(role(for: autoscaler, target: target)),
            try DesiredChild(Children.scalerRoleBinding(for: owner), part: ScalerRoleBinding.self),
        ]
        switch mode {
        case .continuous: children.append(try DesiredChild(Children.scalerDeployment(for: owner, settings: settings), part: ScalerDeployment.self))
        default: children.append(try DesiredChild(Children.scalerCronJob(for: owner, settings: settings)))
        }
        return children
    }

    /// What the scaler may do, and only to its own Autoscaler and target. The operator
    /// holds each of these itself (RBAC lets it grant only what it has); for a kind it
    /// may not scale, the Autoscaler says `TargetNotPermitted` instead.
    public static func role(for autoscaler: Autoscaler, target: Target) -> Role {
        let name = autoscaler.metadata.name ?? ""
        return Role(
            metadata: ScalerOwner(autoscaler).metadata(),
            rules: [
                .init(apiGroups: ["tide.dev"], resources: ["autoscalers"], resourceNames: [name], verbs: ["get"]),
                .init(apiGroups: ["tide.dev"], resources: ["autoscalers/status"], resourceNames: [name], verbs: ["get", "patch", "update"]),
                .init(apiGroups: [target.group], resources: ["\(target.plural)/scale"], resourceNames: [target.name], verbs: scaleVerbs),
                .init(apiGroups: [target.group], resources: [target.plural], resourceNames: [target.name], verbs: ["get"]),
                .init(apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "get", "patch"]),
            ])
    }

    /// Mode HPA: the HorizontalPodAutoscaler that scales the target on the Autoscaler's
    /// metrics, as Object metrics describing the Autoscaler, with its bounds and behavior.
    public static func horizontalPodAutoscaler(for autoscaler: Autoscaler) -> HorizontalPodAutoscaler {
        let scaling = autoscaler.spec.scaling
        let described = HorizontalPodAutoscaler.CrossVersionObjectReference(
            apiVersion: Autoscaler.resource.apiVersion, kind: Autoscaler.resource.kind, name: autoscaler.metadata.name ?? "")
        let metrics = scaling.resolvedMetrics.map { metric in
            HorizontalPodAutoscaler.MetricSpec(object: .init(describedObject: described, metric: .init(name: metric.name), target: Children.hpaTarget(metric)))
        }
        let target = autoscaler.spec.scaleTargetRef
        return HorizontalPodAutoscaler(
            metadata: ScalerOwner(autoscaler).metadata(component: "autoscaler"),
            spec: .init(
                scaleTargetRef: .init(apiVersion: target.apiVersion, kind: target.kind, name: target.name),
                minReplicas: max(scaling.minReplicas ?? Defaults.minReplicas, 1), maxReplicas: scaling.maxReplicas, metrics: metrics,
                behavior: Children.hpaBehavior(scaling)))
    }

    /// The kinds of an Autoscaler's children.
    static let kinds: Set<ResourceDescriptor> = [
        ServiceAccount.resource, Role.resource, RoleBinding.resource, CronJob.resource, Deployment.resource, HorizontalPodAutoscaler.resource,
    ]

    /// What the scaler does to its target's `/scale`.
    public static let scaleVerbs = ["get", "patch", "update"]
}
