import KubeAPI
import KubeAPIExtensions
import TideAPI

/// Pure builders: an Autoscaler → the scaler children it should have (see
/// docs/architecture.md), one kind per file, listed in ``Children/scalerParts``: a
/// ServiceAccount; a Role that allows get on the Autoscaler and its status,
/// get/patch/update on its target's `/scale` and get on the target, each with
/// `resourceNames` of that one object, and Events; the binding; and the scaler, a
/// CronJob (mode CronJob) or a one-replica Deployment (mode Continuous) running
/// `tide-scaler --autoscaler NAME`. In mode HPA: a HorizontalPodAutoscaler on the
/// target. An Application's scaler is built here too, for the Autoscaler it owns.
public enum AutoscalerChildren {
    /// The target's resource, as discovery names it.
    public struct Target: Sendable, Hashable {
        public var group: String
        public var plural: String
        public var name: String

        public init(group: String, plural: String, name: String) {
            self.group = group
            self.plural = plural
            self.name = name
        }
    }

    public static func desired(for autoscaler: Autoscaler, target: Target, settings: OperatorSettings) throws -> [DesiredChild] {
        try Children.scalerParts.filter { $0.isWanted(by: autoscaler) }.map { try $0.desired(for: autoscaler, target: target, settings: settings) }
    }

    /// The kinds of an Autoscaler's children.
    static let kinds: Set<ResourceDescriptor> = [
        ServiceAccount.resource, Role.resource, RoleBinding.resource, CronJob.resource, Deployment.resource, HorizontalPodAutoscaler.resource,
    ]

    /// What the scaler does to its target's `/scale`.
    public static let scaleVerbs = ["get", "patch", "update"]
}
