import KubeAPI
import TideAPI

/// One kind of child an Application can have (see docs/architecture.md): when it is
/// wanted, how it is built, and whether a live one must be replaced rather than
/// patched. Each lives in a file of its own; ``Children/parts`` lists them in the order
/// they are applied, so a new kind of child is one file and one line there.
protocol ChildPart: Sendable {
    /// Whether `application` (a defaulted, valid spec) has this child; `serviceMonitors`
    /// says whether the ServiceMonitor CRD is installed.
    static func isWanted(by application: Application, serviceMonitors: Bool) -> Bool
    /// The child, as Tide server-side applies it.
    static func desired(for application: Application, settings: OperatorSettings) throws -> DesiredChild
    /// Whether a live object cannot take `desired` in place (an immutable field differs)
    /// and must be deleted and created again.
    static func requiresReplacement(_ desired: DesiredChild, live: JSONValue) -> Bool
}

extension ChildPart {
    static func requiresReplacement(_ desired: DesiredChild, live: JSONValue) -> Bool { false }
}

/// One kind of scaler child an Autoscaler can have (see docs/architecture.md): when it
/// is wanted, how it is built, and whether a live one must be replaced rather than
/// patched. Each lives in a file of its own; ``Children/scalerParts`` lists them in the
/// order they are applied. An Application's scaler comes from here too, through the
/// Autoscaler the Application owns.
protocol ScalerPart: Sendable {
    /// Whether `autoscaler` (a valid spec) has this child.
    static func isWanted(by autoscaler: Autoscaler) -> Bool
    /// The child, as Tide server-side applies it; `target` is the resource discovery
    /// found for the Autoscaler's target.
    static func desired(for autoscaler: Autoscaler, target: AutoscalerChildren.Target, settings: OperatorSettings) throws -> DesiredChild
    /// Whether a live object cannot take `desired` in place and must be replaced.
    static func requiresReplacement(_ desired: DesiredChild, live: JSONValue) -> Bool
}

extension ScalerPart {
    static func requiresReplacement(_ desired: DesiredChild, live: JSONValue) -> Bool { false }

    /// The mode a scaler part follows (CronJob unless set).
    static func mode(of autoscaler: Autoscaler) -> ScalingMode { autoscaler.spec.scaling.mode ?? .cronJob }
}
