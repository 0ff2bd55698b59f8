import KubeAPI
import KubeAPIExtensions
import TideAPI

/// The scaler's Role: wanted whenever a scaler runs.
enum ScalerRole: ScalerPart {
    static func isWanted(by autoscaler: Autoscaler) -> Bool { mode(of: autoscaler) != .hpa }

    static func desired(for autoscaler: Autoscaler, target: AutoscalerChildren.Target, settings: OperatorSettings) throws -> DesiredChild {
        try DesiredChild(Children.scalerRole(for: autoscaler, target: target), part: self)
    }
}

extension Children {
    /// What the scaler may do, and only to its own Autoscaler and target: get the
    /// Autoscaler, write its status, get/patch/update the target's `/scale` and get the
    /// target, each with `resourceNames` of that one object; and record (and fold
    /// repeated) Events. No Secret: the credentials its metrics need are mounted as files.
    ///
    /// The operator holds each of these itself (RBAC lets it grant only what it has,
    /// so it needs no `escalate` or `bind`); for a kind it may not scale, the
    /// Autoscaler says `TargetNotPermitted` instead.
    public static func scalerRole(for autoscaler: Autoscaler, target: AutoscalerChildren.Target) -> Role {
        let name = autoscaler.metadata.name ?? ""
        return Role(
            metadata: ScalerOwner(autoscaler).metadata(),
            rules: [
                .init(apiGroups: ["tide.dev"], resources: ["autoscalers"], resourceNames: [name], verbs: ["get"]),
                .init(apiGroups: ["tide.dev"], resources: ["autoscalers/status"], resourceNames: [name], verbs: ["get", "patch", "update"]),
                .init(apiGroups: [target.group], resources: ["\(target.plural)/scale"], resourceNames: [target.name], verbs: AutoscalerChildren.scaleVerbs),
                .init(apiGroups: [target.group], resources: [target.plural], resourceNames: [target.name], verbs: ["get"]),
                .init(apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "get", "patch"]),
            ])
    }
}
