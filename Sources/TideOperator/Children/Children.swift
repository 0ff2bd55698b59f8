import KubeAPI
import KubeAPIExtensions
import TideAPI

/// Settings of the operator that shape children: the scaler image and how the
/// scaler's pods run.
public struct OperatorSettings: Sendable, Hashable {
    /// Image with the `tide-scaler` binary.
    public var scalerImage: String
    public var fieldManager: String = "tide-operator"
    /// Labels every generated ServiceMonitor carries (`--service-monitor-labels`), under
    /// an Application's own `spec.metrics.labels`.
    public var serviceMonitorLabels: [String: String] = [:]

    public init(scalerImage: String = "ghcr.io/tide-dev/tide:0.1.0", serviceMonitorLabels: [String: String] = [:]) {
        self.scalerImage = scalerImage
        self.serviceMonitorLabels = serviceMonitorLabels
    }
}

/// One child object Tide wants to exist, in the form it server-side applies.
public struct DesiredChild: Sendable, Hashable {
    public var resource: ResourceDescriptor
    public var name: String
    /// The apply body: exactly the fields Tide owns.
    public var body: JSONValue
    /// The kind of child it is (a ``ChildPart``'s name), which says whether a live one
    /// must be replaced.
    public var part: String = ""

    public init(_ object: some KubernetesObject) throws {
        resource = type(of: object).resource
        name = object.name
        var typed = object
        typed.setTypeMeta()
        body = try JSONValue(encoding: typed)
    }

    init(_ object: some KubernetesObject, part: Any.Type) throws {
        try self.init(object)
        self.part = String(describing: part)
    }

    /// `Deployment hello`, for messages.
    public var description: String { "\(resource.kind) \(name)" }
}

/// Pure builders: Application → the children it should have (docs/architecture.md).
public enum Children {
    /// Labels on every child and on the pods.
    public static func labels(for application: Application) -> [String: String] { application.childLabels }

    /// The pod selector of the Deployment and Service.
    public static func selector(for application: Application) -> [String: String] {
        ["app.kubernetes.io/name": application.name, "app.kubernetes.io/instance": application.name]
    }

    /// The selector in query form, as `status.selector` reports it.
    public static func selectorString(for application: Application) -> String {
        LabelSelector(matchLabels: selector(for: application)).queryString
    }

    public static func ownerReference(for application: Application) -> OwnerReference { application.controllerReference }

    static func metadata(_ name: String, for application: Application, component: String? = nil) -> ObjectMeta {
        var labels = labels(for: application)
        if let component { labels["app.kubernetes.io/component"] = component }
        return ObjectMeta(name: name, namespace: application.namespace, labels: labels, ownerReferences: [ownerReference(for: application)])
    }

    /// The restricted Pod Security Standard, at container level. The root filesystem
    /// stays writable for the user's container (the standard does not require
    /// otherwise, and many services write temporary files).
    static let restrictedContainer = SecurityContext(
        runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: .init(drop: ["ALL"]),
        seccompProfile: SeccompProfile(type: "RuntimeDefault"))

    /// The scaler writes nothing to disk: its root filesystem is read-only as well.
    static let scalerContainer: SecurityContext = {
        var context = restrictedContainer
        context.readOnlyRootFilesystem = true
        return context
    }()

    /// The restricted Pod Security Standard, at pod level.
    static let restrictedPod = PodSecurityContext(runAsNonRoot: true, seccompProfile: SeccompProfile(type: "RuntimeDefault"))

    /// The children, in the order they are applied: one line per kind of child, each
    /// kind in a file of its own (what it is, when it is wanted, how it is built,
    /// whether a live one must be replaced rather than patched).
    ///
    /// An Application's scaler is not among them: it belongs to the Application's
    /// Autoscaler (``ApplicationAutoscaler``), whose children ``AutoscalerChildren``
    /// builds from ``scalerParts``.
    static let parts: [any ChildPart.Type] = [
        ServerDeployment.self, ServerService.self, ServerServiceMonitor.self, ApplicationAutoscaler.self,
    ]

    /// The kinds of an Autoscaler's scaler children, in the order they are applied
    /// (a RoleBinding after its Role), each in a file of its own.
    static let scalerParts: [any ScalerPart.Type] = [
        ScalerServiceAccount.self, ScalerRole.self, ScalerRoleBinding.self, ScalerCronJob.self, ScalerDeployment.self,
        AutoscalerHorizontalPodAutoscaler.self,
    ]

    /// Every child, given a defaulted, valid spec. The ServiceMonitor is included only
    /// when `serviceMonitors` is true (its CRD is installed). With `scaling`, in every
    /// mode, the Application's Autoscaler, whose children scale the Application (a
    /// scaler, or in mode HPA a HorizontalPodAutoscaler); the Deployment runs the
    /// Application's `spec.replicas`.
    public static func desired(for application: Application, settings: OperatorSettings, serviceMonitors: Bool) throws -> [DesiredChild] {
        try parts.filter { $0.isWanted(by: application, serviceMonitors: serviceMonitors) }.map { try $0.desired(for: application, settings: settings) }
    }

    /// Whether the live child cannot take the desired one in place and must be deleted
    /// and created again, as the child's kind says.
    public static func requiresReplacement(_ desired: DesiredChild, live: JSONValue) -> Bool {
        if let part = parts.first(where: { String(describing: $0) == desired.part }) { return part.requiresReplacement(desired, live: live) }
        return scalerParts.first { String(describing: $0) == desired.part }?.requiresReplacement(desired, live: live) ?? false
    }
}
