import KubeAPI
import KubeAPIExtensions
import TideAPI

/// The scaler's Role: wanted whenever a scaler runs.
enum ScalerRole: ChildPart {
    static func isWanted(by application: Application, serviceMonitors: Bool) -> Bool { Children.runsScaler(application) }

    static func desired(for application: Application, settings: OperatorSettings) throws -> DesiredChild {
        try DesiredChild(Children.scalerRole(for: application), part: self)
    }
}

extension Children {
    /// What the scaler may do, and only to its own Application: read it, write its
    /// `/scale` and `/status`, and record (and fold repeated) Events. No Secret: the
    /// credentials its metric needs are mounted as files.
    ///
    /// The operator holds every one of these permissions itself (RBAC lets it grant
    /// only what it has), so it needs no `escalate` or `bind`.
    public static func scalerRole(for application: Application) -> Role {
        Role(
            metadata: metadata(scalerName(for: application), for: application, component: "scaler"),
            rules: [
                .init(apiGroups: ["tide.dev"], resources: ["applications"], resourceNames: [application.name], verbs: ["get"]),
                .init(
                    apiGroups: ["tide.dev"], resources: ["applications/scale", "applications/status"], resourceNames: [application.name],
                    verbs: ["get", "patch", "update"]),
                .init(apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "get", "patch"]),
            ])
    }
}
