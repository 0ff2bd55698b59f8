import Crypto
import KubeAPI
import KubeAPIExtensions
import KubeClient

/// Who may read `/metrics`, asked of the API server as kube-apiserver's delegated
/// authentication and authorization would (kubebuilder's secure metrics):
///
/// 1. the bearer token is reviewed with a TokenReview: no token or one the server does
///    not know is ``Verdict/unauthenticated(_:)`` (401);
/// 2. its user is asked about with a SubjectAccessReview for verb `get` on the
///    non-resource URL `/metrics` (the `tide-metrics-reader` ClusterRole grants it):
///    not allowed is ``Verdict/forbidden(user:)`` (403);
/// 3. an API server that cannot answer either is ``Verdict/unavailable(_:)`` (503), never
///    an open door.
///
/// Answers are kept for `ttl` (10 s by default: Prometheus scrapes every 15–30 s, so a
/// revoked role or token stops working within one scrape), keyed by the token's SHA-256;
/// the token itself is neither kept nor logged. An error is not kept.
public actor MetricsAuthorizer {
    public enum Verdict: Sendable, Hashable {
        case allowed(user: String)
        case unauthenticated(String)
        case forbidden(user: String)
        case unavailable(String)

        /// The HTTP status the endpoint answers with.
        public var status: Int {
            switch self {
            case .allowed: return 200
            case .unauthenticated: return 401
            case .forbidden: return 403
            case .unavailable: return 503
            }
        }
    }

    /// The path and verb a reader must be allowed.
    public static let path = "/metrics"

    let reviewToken: @Sendable (TokenReview) async throws -> TokenReview
    let reviewAccess: @Sendable (SubjectAccessReview) async throws -> SubjectAccessReview
    var answers: ExpiringCache<[UInt8], Verdict>

    public init(client: KubeClient, ttl: Duration = .seconds(10), capacity: Int = 1_024) {
        let tokens = client.clusterScoped(TokenReview.self)
        let access = client.clusterScoped(SubjectAccessReview.self)
        self.init(reviewToken: { try await tokens.create($0) }, reviewAccess: { try await access.create($0) }, ttl: ttl, capacity: capacity)
    }

    public init(
        reviewToken: @escaping @Sendable (TokenReview) async throws -> TokenReview,
        reviewAccess: @escaping @Sendable (SubjectAccessReview) async throws -> SubjectAccessReview, ttl: Duration, capacity: Int
    ) {
        self.reviewToken = reviewToken
        self.reviewAccess = reviewAccess
        self.answers = ExpiringCache(ttl: ttl, capacity: capacity)
    }

    /// The verdict on a request whose `Authorization` header is `authorization`.
    public func verdict(authorization: String?) async -> Verdict {
        guard let authorization, authorization.hasPrefix("Bearer "), case let token = String(authorization.dropFirst(7)), !token.isEmpty else {
            return .unauthenticated("no bearer token")
        }
        let key = Array(SHA256.hash(data: Array(token.utf8)))
        if let kept = answers.value(for: key) { return kept }
        let verdict = await ask(token)
        if case .unavailable = verdict { return verdict }
        answers.keep(verdict, for: key)
        return verdict
    }

    func ask(_ token: String) async -> Verdict {
        let reviewed: TokenReview
        do {
            reviewed = try await reviewToken(TokenReview(token: token))
        } catch {
            return .unavailable("cannot review the token: \(Self.describe(error))")
        }
        guard reviewed.status?.authenticated == true, let user = reviewed.status?.user, let name = user.username else {
            return .unauthenticated(reviewed.status?.error ?? "the token is not valid")
        }
        let asked: SubjectAccessReview
        do {
            asked = try await reviewAccess(SubjectAccessReview(spec: .init(
                user: name, groups: user.groups, extra: user.extra, uid: user.uid,
                nonResourceAttributes: .init(path: Self.path, verb: "get"))))
        } catch {
            return .unavailable("cannot review access: \(Self.describe(error))")
        }
        return asked.status?.allowed == true ? .allowed(user: name) : .forbidden(user: name)
    }

    static func describe(_ error: any Error) -> String {
        (error as? KubeError).map { "\($0)" } ?? "\(error)"
    }
}
