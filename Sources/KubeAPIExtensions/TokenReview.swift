import KubeAPI

/// `authentication.k8s.io/v1` TokenReview: asks the API server who a bearer token
/// belongs to. Created, never stored; the answer is in `status`.
///
/// An unknown or expired token is not an error of the request: the server answers
/// `201` with `status.authenticated` unset and `status.error` saying why.
public struct TokenReview: ClusterScopedObject, Hashable {
    public static let resource = ResourceDescriptor(
        group: "authentication.k8s.io", version: "v1", plural: "tokenreviews", kind: "TokenReview", namespaced: false)
    public var apiVersion: String? = "authentication.k8s.io/v1"
    public var kind: String? = "TokenReview"
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?

    public init(token: String, audiences: [String]? = nil) {
        self.metadata = ObjectMeta()
        self.spec = Spec(token: token, audiences: audiences)
    }

    public struct Spec: Sendable, Hashable, Codable {
        public var token: String
        /// The audiences the token must be meant for; empty means the API server's own.
        public var audiences: [String]?

        public init(token: String, audiences: [String]? = nil) {
            self.token = token
            self.audiences = audiences
        }
    }

    public struct Status: Sendable, Hashable, Codable {
        public var authenticated: Bool?
        public var user: User?
        public var audiences: [String]?
        public var error: String?

        public init(authenticated: Bool? = nil, user: User? = nil, audiences: [String]? = nil, error: String? = nil) {
            self.authenticated = authenticated
            self.user = user
            self.audiences = audiences
            self.error = error
        }
    }

    /// The authenticated user, as the server knows it.
    public struct User: Sendable, Hashable, Codable {
        public var username: String?
        public var uid: String?
        public var groups: [String]?
        public var extra: [String: [String]]?

        public init(username: String? = nil, uid: String? = nil, groups: [String]? = nil, extra: [String: [String]]? = nil) {
            self.username = username
            self.uid = uid
            self.groups = groups
            self.extra = extra
        }
    }
}
