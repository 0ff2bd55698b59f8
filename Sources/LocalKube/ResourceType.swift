import KubeAPI
import KubeAPIExtensions

/// A kind LocalKube serves: where (group, version, plural), how it is scoped and
/// which subresources it has. Built-in types are registered at start; a
/// CustomResourceDefinition adds one per served version.
public struct ResourceType: Sendable, Hashable {
    public var descriptor: ResourceDescriptor
    public var singular: String
    public var shortNames: [String]
    public var categories: [String]
    public var hasStatus: Bool
    public var scale: ScalePaths?
    /// The OpenAPI v3 schema objects are validated against, without its
    /// `apiVersion`/`kind`/`metadata` properties (custom resources only).
    public var schema: JSONValue?
    /// `additionalPrinterColumns` of a custom resource, for `kubectl get`.
    public var printerColumns: [JSONValue]
    /// The storage key shared by all versions of one kind.
    public var storageKey: String { "\(descriptor.group)/\(descriptor.plural)" }

    public struct ScalePaths: Sendable, Hashable {
        public var specReplicas: [String]
        public var statusReplicas: [String]
        public var labelSelector: [String]?

        public init(specReplicas: [String], statusReplicas: [String], labelSelector: [String]?) {
            self.specReplicas = specReplicas
            self.statusReplicas = statusReplicas
            self.labelSelector = labelSelector
        }

        /// Parses `.spec.replicas`-style paths.
        init(specReplicasPath: String, statusReplicasPath: String, labelSelectorPath: String?) {
            func split(_ path: String) -> [String] { path.split(separator: ".").map(String.init) }
            self.init(
                specReplicas: split(specReplicasPath), statusReplicas: split(statusReplicasPath),
                labelSelector: labelSelectorPath.map(split))
        }
    }

    public init(
        _ descriptor: ResourceDescriptor, singular: String, shortNames: [String] = [], categories: [String] = [],
        hasStatus: Bool = false, scale: ScalePaths? = nil, schema: JSONValue? = nil, printerColumns: [JSONValue] = []
    ) {
        self.descriptor = descriptor
        self.singular = singular
        self.shortNames = shortNames
        self.categories = categories
        self.hasStatus = hasStatus
        self.scale = scale
        self.schema = schema
        self.printerColumns = printerColumns
    }

    /// The built-in kinds every LocalKube serves.
    public static let builtIn: [ResourceType] = [
        ResourceType(Namespace.resource, singular: "namespace", shortNames: ["ns"], hasStatus: true),
        ResourceType(ServiceAccount.resource, singular: "serviceaccount", shortNames: ["sa"]),
        ResourceType(Service.resource, singular: "service", shortNames: ["svc"], categories: ["all"], hasStatus: true),
        ResourceType(ConfigMap.resource, singular: "configmap", shortNames: ["cm"]),
        ResourceType(
            ResourceDescriptor(group: "", version: "v1", plural: "secrets", kind: "Secret", namespaced: true),
            singular: "secret"),
        ResourceType(
            Deployment.resource, singular: "deployment", shortNames: ["deploy"], categories: ["all"], hasStatus: true,
            scale: ScalePaths(specReplicas: ["spec", "replicas"], statusReplicas: ["status", "replicas"], labelSelector: nil)),
        ResourceType(
            ResourceDescriptor(group: "apps", version: "v1", plural: "statefulsets", kind: "StatefulSet", namespaced: true),
            singular: "statefulset", shortNames: ["sts"], categories: ["all"], hasStatus: true,
            scale: ScalePaths(specReplicas: ["spec", "replicas"], statusReplicas: ["status", "replicas"], labelSelector: nil)),
        ResourceType(
            ResourceDescriptor(group: "apps", version: "v1", plural: "replicasets", kind: "ReplicaSet", namespaced: true),
            singular: "replicaset", shortNames: ["rs"], categories: ["all"], hasStatus: true,
            scale: ScalePaths(specReplicas: ["spec", "replicas"], statusReplicas: ["status", "replicas"], labelSelector: nil)),
        ResourceType(CronJob.resource, singular: "cronjob", shortNames: ["cj"], categories: ["all"], hasStatus: true),
        ResourceType(HorizontalPodAutoscaler.resource, singular: "horizontalpodautoscaler", shortNames: ["hpa"], categories: ["all"], hasStatus: true),
        ResourceType(RoleBinding.resource, singular: "rolebinding"),
        ResourceType(
            ResourceDescriptor(
                group: "rbac.authorization.k8s.io", version: "v1", plural: "roles", kind: "Role", namespaced: true),
            singular: "role"),
        ResourceType(
            ResourceDescriptor(
                group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterroles", kind: "ClusterRole",
                namespaced: false), singular: "clusterrole"),
        ResourceType(
            ResourceDescriptor(
                group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterrolebindings",
                kind: "ClusterRoleBinding", namespaced: false), singular: "clusterrolebinding"),
        ResourceType(Lease.resource, singular: "lease"),
        ResourceType(
            ResourceDescriptor(group: "apiregistration.k8s.io", version: "v1", plural: "apiservices", kind: "APIService", namespaced: false),
            singular: "apiservice", hasStatus: true),
        ResourceType(Event.resource, singular: "event", shortNames: ["ev"]),
        ResourceType(CustomResourceDefinition.resource, singular: "customresourcedefinition", shortNames: ["crd", "crds"], hasStatus: true),
    ]
}
