#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import KubeAPIExtensions
import KubeClient
import KubeProbes

/// Whether a user may read a metric, asked of the API server with a
/// SubjectAccessReview, the answer kept for a short time.
///
/// The question is the one kube-apiserver itself would ask for the request: for an
/// external metric, verb `list` on resource `<metric name>` in group
/// `external.metrics.k8s.io`; for a custom metric, verb `get` (one object) or `list`
/// (`*`) on resource `<resource>` with subresource `<metric>` in group
/// `custom.metrics.k8s.io`, which an RBAC rule names `applications.tide.dev/<metric>`.
/// The HPA controller's role grants both. An answer the server could not give (an
/// error) is not kept.
public actor AccessReviewer {
    public struct Decision: Sendable, Hashable {
        public var allowed: Bool
        /// The authorizer's reason, when it gave one.
        public var reason: String?
    }

    struct Key: Hashable {
        var user: UserInfo
        var attributes: SubjectAccessReview.ResourceAttributes
    }

    let review: @Sendable (SubjectAccessReview) async throws -> SubjectAccessReview
    var answers: ExpiringCache<Key, Decision>

    /// - Parameters:
    ///   - ttl: how long an answer is reused (kube-apiserver's webhook authorizer
    ///     keeps allowed answers 5 minutes; a metrics API is asked every 15 s per HPA,
    ///     so a short time keeps revocations quick).
    ///   - capacity: the most answers kept; when full, expired ones go first, then all.
    public init(client: KubeClient, ttl: Duration = .seconds(10), capacity: Int = 1_024) {
        let reviews = client.clusterScoped(SubjectAccessReview.self)
        self.init(review: { try await reviews.create($0) }, ttl: ttl, capacity: capacity)
    }

    init(review: @escaping @Sendable (SubjectAccessReview) async throws -> SubjectAccessReview, ttl: Duration, capacity: Int) {
        self.review = review
        self.answers = ExpiringCache(ttl: ttl, capacity: capacity)
    }

    /// Whether `user` may list external metric `metric` in `namespace`.
    public func decide(_ user: UserInfo, namespace: String, metric: String) async throws -> Decision {
        try await decide(user, .init(namespace: namespace, verb: "list", group: ExternalMetricsAPI.group, version: ExternalMetricsAPI.version, resource: metric))
    }

    /// Whether `user` may do what `attributes` say.
    public func decide(_ user: UserInfo, _ attributes: SubjectAccessReview.ResourceAttributes) async throws -> Decision {
        let key = Key(user: user, attributes: attributes)
        if let decision = answers.value(for: key) { return decision }
        let asked = try await review(SubjectAccessReview(spec: .init(
            user: user.name, groups: user.groups.isEmpty ? nil : user.groups, extra: user.extra.isEmpty ? nil : user.extra,
            resourceAttributes: attributes)))
        let decision = Decision(allowed: asked.status?.allowed ?? false, reason: asked.status?.reason)
        answers.keep(decision, for: key)
        return decision
    }
}
