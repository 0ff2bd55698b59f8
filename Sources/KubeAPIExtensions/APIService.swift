import KubeAPI

/// `apiregistration.k8s.io/v1` APIService: tells kube-apiserver's aggregator which
/// Service serves a group/version.
public struct APIService: ClusterScopedObject, Hashable {
    public static let resource = ResourceDescriptor(
        group: "apiregistration.k8s.io", version: "v1", plural: "apiservices", kind: "APIService", namespaced: false)
    public var apiVersion: String? = "apiregistration.k8s.io/v1"
    public var kind: String? = "APIService"
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public init(metadata: ObjectMeta, spec: Spec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }

    public struct Spec: Sendable, Hashable, Codable {
        public var group: String?
        public var version: String?
        public var service: ServiceReference?
        /// PEM, base64 on the wire (a JSON `[]byte`).
        public var caBundle: String?
        public var insecureSkipTLSVerify: Bool?
        public var groupPriorityMinimum: Int32?
        public var versionPriority: Int32?

        public init(
            group: String, version: String, service: ServiceReference?, caBundle: String? = nil,
            groupPriorityMinimum: Int32 = 100, versionPriority: Int32 = 100
        ) {
            self.group = group
            self.version = version
            self.service = service
            self.caBundle = caBundle
            self.groupPriorityMinimum = groupPriorityMinimum
            self.versionPriority = versionPriority
        }
    }

    public struct ServiceReference: Sendable, Hashable, Codable {
        public var namespace: String?
        public var name: String?
        public var port: Int32?

        public init(namespace: String, name: String, port: Int32? = nil) {
            self.namespace = namespace
            self.name = name
            self.port = port
        }
    }

    public struct Status: Sendable, Hashable, Codable {
        public var conditions: [Condition]?
    }

    /// An APIService condition (its reason and message may be absent).
    public struct Condition: Sendable, Hashable, Codable {
        public var type: String
        public var status: String
        public var reason: String?
        public var message: String?
    }

    /// The `Available` condition, if reported.
    public var available: Condition? { status?.conditions?.first { $0.type == "Available" } }
}
