import KubeAPI
import TideAPI

/// Modes CronJob and Continuous: the Autoscaler of the Application's own name that
/// scales the Application through its `/scale` (``Application/scalingAutoscaler``). The
/// scaler, its RBAC, its conditions and its memory are that Autoscaler's; the
/// Application mirrors them (``StatusBuilder``).
enum ApplicationAutoscaler: ChildPart {
    static func isWanted(by application: Application, serviceMonitors: Bool) -> Bool { application.scalesThroughAutoscaler }

    static func desired(for application: Application, settings: OperatorSettings) throws -> DesiredChild {
        guard let autoscaler = application.scalingAutoscaler else { throw Unwanted() }
        return try DesiredChild(autoscaler, part: self)
    }

    struct Unwanted: Error, CustomStringConvertible {
        var description: String { "the Application does not scale through a scaler" }
    }
}
