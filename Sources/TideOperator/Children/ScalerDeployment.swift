import KubeAPI
import KubeAPIExtensions
import TideAPI

/// Mode Continuous: the scaler as a one-replica Deployment that loops. Its strategy is
/// `Recreate`; a live one still on the server-defaulted `RollingUpdate` (whose
/// `rollingUpdate` field stays behind) cannot switch in place and is replaced.
enum ScalerDeployment: ChildPart {
    static func isWanted(by application: Application, serviceMonitors: Bool) -> Bool {
        Children.runsScaler(application) && application.spec.scaling?.mode == .continuous
    }

    static func desired(for application: Application, settings: OperatorSettings) throws -> DesiredChild {
        try DesiredChild(Children.scalerDeployment(for: application, settings: settings), part: self)
    }

    static func requiresReplacement(_ desired: DesiredChild, live: JSONValue) -> Bool {
        let wanted = desired.body["spec"]?["strategy"]?["type"]?.stringValue
        let current = live["spec"]?["strategy"]?["type"]?.stringValue
        return wanted == "Recreate" && current != nil && current != "Recreate"
    }
}

extension Children {
    /// `mode: Continuous`: one scaler pod that loops every `interval`.
    public static func scalerDeployment(for application: Application, settings: OperatorSettings) -> Deployment {
        let interval = application.spec.scaling?.interval ?? Defaults.continuousInterval
        let template = scalerPod(
            for: application, settings: settings, arguments: scalerArguments(for: application) + ["--interval", interval],
            restartPolicy: "Always")
        var selector = selector(for: application)
        selector["app.kubernetes.io/name"] = scalerName(for: application)
        return Deployment(
            metadata: metadata(scalerName(for: application), for: application, component: "scaler"),
            // Recreate: never two scalers at once, not even during a rollout.
            spec: .init(replicas: 1, selector: LabelSelector(matchLabels: selector), template: template, strategy: .init(type: "Recreate")))
    }
}
