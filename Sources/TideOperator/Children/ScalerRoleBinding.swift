import KubeAPI
import KubeAPIExtensions
import TideAPI

/// The binding of the scaler's Role to its ServiceAccount: wanted whenever a scaler
/// runs. Its `roleRef` is immutable, so a changed one is replaced, not patched.
enum ScalerRoleBinding: ScalerPart {
    static func isWanted(by autoscaler: Autoscaler) -> Bool { mode(of: autoscaler) != .hpa }

    static func desired(for autoscaler: Autoscaler, target: AutoscalerChildren.Target, settings: OperatorSettings) throws -> DesiredChild {
        try DesiredChild(Children.scalerRoleBinding(for: ScalerOwner(autoscaler)), part: self)
    }

    static func requiresReplacement(_ desired: DesiredChild, live: JSONValue) -> Bool {
        guard let roleRef = desired.body["roleRef"] else { return false }
        return live["roleRef"] != nil && live["roleRef"] != roleRef
    }
}

extension Children {
    /// Binds the scaler's Role to its ServiceAccount.
    public static func scalerRoleBinding(for owner: ScalerOwner) -> RoleBinding {
        RoleBinding(
            metadata: owner.metadata(),
            roleRef: .init(kind: "Role", name: owner.scalerName),
            subjects: [.init(kind: "ServiceAccount", name: owner.scalerName, namespace: owner.namespace)])
    }
}
