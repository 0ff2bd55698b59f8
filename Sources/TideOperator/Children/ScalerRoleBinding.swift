import KubeAPI
import KubeAPIExtensions
import TideAPI

/// The binding of the scaler's Role to its ServiceAccount: wanted whenever a scaler
/// runs. Its `roleRef` is immutable, so a changed one is replaced, not patched.
enum ScalerRoleBinding: ChildPart {
    static func isWanted(by application: Application, serviceMonitors: Bool) -> Bool { Children.runsScaler(application) }

    static func desired(for application: Application, settings: OperatorSettings) throws -> DesiredChild {
        try DesiredChild(Children.scalerRoleBinding(for: application), part: self)
    }

    static func requiresReplacement(_ desired: DesiredChild, live: JSONValue) -> Bool {
        guard let roleRef = desired.body["roleRef"] else { return false }
        return live["roleRef"] != nil && live["roleRef"] != roleRef
    }
}

extension Children {
    public static func scalerRoleBinding(for application: Application) -> RoleBinding {
        RoleBinding(
            metadata: metadata(scalerName(for: application), for: application, component: "scaler"),
            roleRef: .init(kind: "Role", name: scalerName(for: application)),
            subjects: [.init(kind: "ServiceAccount", name: scalerName(for: application), namespace: application.namespace)])
    }
}
