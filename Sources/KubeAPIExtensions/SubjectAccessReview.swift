import KubeAPI

/// `authorization.k8s.io/v1` SubjectAccessReview: asks the API server whether a user
/// may do something. Created, never stored; the answer is in ``status``.
public struct SubjectAccessReview: ClusterScopedObject, Hashable {
    public static let resource = ResourceDescriptor(
        group: "authorization.k8s.io", version: "v1", plural: "subjectaccessreviews", kind: "SubjectAccessReview", namespaced: false)
    public var apiVersion: String? = "authorization.k8s.io/v1"
    public var kind: String? = "SubjectAccessReview"
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?

    public init(spec: Spec) {
        self.metadata = ObjectMeta()
        self.spec = spec
    }

    public struct Spec: Sendable, Hashable, Codable {
        public var user: String?
        public var groups: [String]?
        public var extra: [String: [String]]?
        public var uid: String?
        public var resourceAttributes: ResourceAttributes?
        public var nonResourceAttributes: NonResourceAttributes?

        public init(
            user: String?, groups: [String]? = nil, extra: [String: [String]]? = nil, uid: String? = nil,
            resourceAttributes: ResourceAttributes? = nil, nonResourceAttributes: NonResourceAttributes? = nil
        ) {
            self.user = user
            self.groups = groups
            self.extra = extra
            self.uid = uid
            self.resourceAttributes = resourceAttributes
            self.nonResourceAttributes = nonResourceAttributes
        }
    }

    public struct ResourceAttributes: Sendable, Hashable, Codable {
        public var namespace: String?
        public var verb: String?
        public var group: String?
        public var version: String?
        public var resource: String?
        public var subresource: String?
        public var name: String?

        public init(
            namespace: String? = nil, verb: String, group: String, version: String? = nil, resource: String,
            subresource: String? = nil, name: String? = nil
        ) {
            self.namespace = namespace
            self.verb = verb
            self.group = group
            self.version = version
            self.resource = resource
            self.subresource = subresource
            self.name = name
        }
    }

    public struct NonResourceAttributes: Sendable, Hashable, Codable {
        public var path: String?
        public var verb: String?

        public init(path: String, verb: String) {
            self.path = path
            self.verb = verb
        }
    }

    public struct Status: Sendable, Hashable, Codable {
        public var allowed: Bool
        public var denied: Bool?
        public var reason: String?
        public var evaluationError: String?

        public init(allowed: Bool, denied: Bool? = nil, reason: String? = nil, evaluationError: String? = nil) {
            self.allowed = allowed
            self.denied = denied
            self.reason = reason
            self.evaluationError = evaluationError
        }
    }
}
