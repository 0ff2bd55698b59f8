import KubeAPI
import KubeAPIExtensions
import TideAPI

/// Mode Continuous: the scaler as a one-replica Deployment that loops. Its strategy is
/// `Recreate`; a live one still on the server-defaulted `RollingUpdate` (whose
/// `rollingUpdate` field stays behind) cannot switch in place and is replaced.
enum ScalerDeployment: ScalerPart {
    static func isWanted(by autoscaler: Autoscaler) -> Bool { mode(of: autoscaler) == .continuous }

    static func desired(for autoscaler: Autoscaler, target: AutoscalerChildren.Target, settings: OperatorSettings) throws -> DesiredChild {
        try DesiredChild(Children.scalerDeployment(for: ScalerOwner(autoscaler), settings: settings), part: self)
    }

    static func requiresReplacement(_ desired: DesiredChild, live: JSONValue) -> Bool {
        let wanted = desired.body["spec"]?["strategy"]?["type"]?.stringValue
        let current = live["spec"]?["strategy"]?["type"]?.stringValue
        return wanted == "Recreate" && current != nil && current != "Recreate"
    }
}

extension Children {
    /// `mode: Continuous`: one scaler pod that loops every `interval`.
    public static func scalerDeployment(for owner: ScalerOwner, settings: OperatorSettings) -> Deployment {
        let interval = owner.scaling?.interval ?? Defaults.continuousInterval
        let template = scalerPod(for: owner, settings: settings, arguments: scalerArguments(for: owner) + ["--interval", interval], restartPolicy: "Always")
        let selector = [
            "app.kubernetes.io/name": owner.scalerName, "app.kubernetes.io/instance": owner.labels["app.kubernetes.io/instance"] ?? owner.name,
        ]
        return Deployment(
            metadata: owner.metadata(),
            // Recreate: never two scalers at once, not even during a rollout.
            spec: .init(replicas: 1, selector: LabelSelector(matchLabels: selector), template: template, strategy: .init(type: "Recreate")))
    }
}
