import KubeAPI
import KubeAPIExtensions
import TideAPI

/// The scaler's ServiceAccount: wanted whenever a scaler runs (modes CronJob and
/// Continuous).
enum ScalerServiceAccount: ChildPart {
    static func isWanted(by application: Application, serviceMonitors: Bool) -> Bool { Children.runsScaler(application) }

    static func desired(for application: Application, settings: OperatorSettings) throws -> DesiredChild {
        try DesiredChild(Children.scalerServiceAccount(for: application), part: self)
    }
}

extension Children {
    public static func scalerName(for application: Application) -> String { "\(application.name)-scaler" }

    public static func scalerServiceAccount(for application: Application) -> ServiceAccount { scalerServiceAccount(for: ScalerOwner(application)) }

    /// The ServiceAccount the scaler runs as.
    public static func scalerServiceAccount(for owner: ScalerOwner) -> ServiceAccount { ServiceAccount(metadata: owner.metadata()) }
}
