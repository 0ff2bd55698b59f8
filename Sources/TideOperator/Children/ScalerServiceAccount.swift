import KubeAPI
import KubeAPIExtensions
import TideAPI

/// The scaler's ServiceAccount: wanted whenever a scaler runs (modes CronJob and
/// Continuous).
enum ScalerServiceAccount: ScalerPart {
    static func isWanted(by autoscaler: Autoscaler) -> Bool { mode(of: autoscaler) != .hpa }

    static func desired(for autoscaler: Autoscaler, target: AutoscalerChildren.Target, settings: OperatorSettings) throws -> DesiredChild {
        try DesiredChild(Children.scalerServiceAccount(for: ScalerOwner(autoscaler)), part: self)
    }
}

extension Children {
    /// The name of an Application's scaler children (those of its Autoscaler).
    public static func scalerName(for application: Application) -> String { "\(application.name)-scaler" }

    /// The ServiceAccount the scaler runs as.
    public static func scalerServiceAccount(for owner: ScalerOwner) -> ServiceAccount { ServiceAccount(metadata: owner.metadata()) }
}
