#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import KubeAPIExtensions
import KubeClient
import KubeProbes
import TideAPI
import TideMetrics

/// A reply of the adapter: an HTTP status and a JSON body.
public struct AdapterResponse: Sendable, Hashable {
    public var status: Int
    public var body: [UInt8]

    /// `body` as text (for tests and logs).
    public var text: String { String(decoding: body, as: UTF8.self) }

    static func json<T: Encodable>(_ value: T, status: Int = 200) -> AdapterResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return AdapterResponse(status: status, body: Array((try? encoder.encode(value)) ?? Data("{}".utf8)))
    }

    /// A Kubernetes `Status` of failure, as kube-apiserver would answer it.
    static func failure(_ code: Int, _ reason: String, _ message: String) -> AdapterResponse {
        json(Status(message: message, reason: reason, code: code), status: code)
    }
}

/// The `external.metrics.k8s.io/v1beta1` API over Applications' metrics, for an
/// authenticated user: discovery, and each metric's current value as an
/// `ExternalMetricValueList`.
///
/// Guarantees:
/// - A metric is served only to a user a SubjectAccessReview allows (verb `list`,
///   resource the metric's name), asked before anything about the metric is looked up.
/// - A value comes from the metric's own source (Prometheus or HTTP JSON), read as the
///   scaler reads it; an unavailable metric is a `503` whose message says why, never
///   a made-up value.
/// - Answers (values and failures) are reused for ``cacheTTL``, so many HPAs on one
///   metric, or one HPA's retries, do not multiply the source's load.
public final class ExternalMetricsAPI: Sendable {
    public static let group = "external.metrics.k8s.io"
    public static let version = "v1beta1"
    public static var groupVersion: String { "\(group)/\(version)" }

    /// What the API reads; closures so tests can stand in for the cluster.
    public struct Backend: Sendable {
        /// The Applications of a namespace.
        public var applications: @Sendable (String) async throws -> [Application]
        /// Whether a namespace exists.
        public var namespaceExists: @Sendable (String) async throws -> Bool
        /// One metric of an Application in a namespace, read from its source.
        public var read: @Sendable (String, ScalingMetric) async -> MetricReading
        /// Whether a user may list a metric in a namespace.
        public var authorize: @Sendable (UserInfo, String, String) async throws -> AccessReviewer.Decision

        public init(
            applications: @escaping @Sendable (String) async throws -> [Application],
            namespaceExists: @escaping @Sendable (String) async throws -> Bool,
            read: @escaping @Sendable (String, ScalingMetric) async -> MetricReading,
            authorize: @escaping @Sendable (UserInfo, String, String) async throws -> AccessReviewer.Decision
        ) {
            self.applications = applications
            self.namespaceExists = namespaceExists
            self.read = read
            self.authorize = authorize
        }

        /// The cluster behind `client`: Applications and Secrets through the API,
        /// access through SubjectAccessReviews.
        public static func cluster(_ client: KubeClient, reviewer: AccessReviewer) -> Backend {
            Backend(
                applications: { try await client.namespaced(Application.self, in: $0).listAll().items },
                namespaceExists: { try await client.clusterScoped(Namespace.self).getIfPresent($0) != nil },
                read: { namespace, metric in await MetricReader(client: client, namespace: namespace).read(metric) },
                authorize: { try await reviewer.decide($0, namespace: $1, metric: $2) })
        }
    }

    public let cacheTTL: Duration
    let backend: Backend
    let answers: AnswerCache
    let now: @Sendable () -> Date

    /// - Parameter cacheTTL: how long a metric's answer is reused (default 5 s; the HPA
    ///   asks every 15 s).
    public init(backend: Backend, cacheTTL: Duration = .seconds(5), now: @escaping @Sendable () -> Date = { Date() }) {
        self.backend = backend
        self.cacheTTL = cacheTTL
        self.answers = AnswerCache(ttl: cacheTTL, capacity: 4_096)
        self.now = now
    }

    /// Answers one request of `user`. `path` is the URL path, `query` its decoded
    /// parameters.
    public func respond(method: String, path: String, query: [String: String], user: UserInfo) async -> AdapterResponse {
        let segments = path.split(separator: "/").map(String.init)
        guard segments.count >= 2, segments[0] == "apis", segments[1] == Self.group else {
            return .failure(404, "NotFound", "the server could not find the requested resource (this server serves \(Self.groupVersion) only)")
        }
        guard method == "GET" else {
            return .failure(405, "MethodNotAllowed", "\(Self.groupVersion) is read-only: \(method) is not supported")
        }
        switch segments.count {
        case 2: return .json(Self.apiGroup)
        case 3 where segments[2] == Self.version: return .json(Self.resourceList)
        case 6 where segments[2] == Self.version && segments[3] == "namespaces":
            return await value(namespace: segments[4], metric: segments[5], selector: query["labelSelector"] ?? "", user: user)
        default:
            return .failure(404, "NotFound", "the server could not find the requested resource: \(Self.groupVersion) serves /namespaces/{namespace}/{metric}")
        }
    }

    func value(namespace: String, metric name: String, selector text: String, user: UserInfo) async -> AdapterResponse {
        let selector: LabelSelector
        do {
            selector = try LabelSelector(parsing: text)
        } catch {
            return .failure(400, "BadRequest", "labelSelector \(text.debugDescription): \(error)")
        }
        guard Self.isDNSLabel(namespace) else {
            return .failure(400, "BadRequest", "\(namespace.debugDescription) is not a namespace name")
        }
        do {
            let decision = try await backend.authorize(user, namespace, name)
            guard decision.allowed else {
                let why = decision.reason.map { ": \($0)" } ?? ""
                return .failure(
                    403, "Forbidden",
                    "\(name).\(Self.group) is forbidden: User \(user.name.debugDescription) cannot list resource \(name.debugDescription) in API group \(Self.group.debugDescription) in the namespace \(namespace.debugDescription)\(why)")
            }
        } catch {
            return .failure(500, "InternalError", "could not check access with a SubjectAccessReview: \(error)")
        }
        let key = AnswerCache.Key(namespace: namespace, metric: name, selector: text)
        if let cached = await answers.answer(for: key) { return cached }
        let answer = await lookUp(namespace: namespace, metric: name, selector: selector)
        await answers.keep(answer, for: key)
        return answer
    }

    func lookUp(namespace: String, metric name: String, selector: LabelSelector) async -> AdapterResponse {
        let matches: [(application: Application, metric: ScalingMetric)]
        do {
            let applications = try await backend.applications(namespace).filter { selector.matches($0.metadata.labels ?? [:]) }
            matches = ExternalMetricName.matches(name, among: applications)
            if matches.isEmpty {
                guard try await backend.namespaceExists(namespace) else {
                    return .failure(404, "NotFound", "namespace \(namespace.debugDescription) not found")
                }
                return .failure(
                    404, "NotFound",
                    "no Application in namespace \(namespace) has a metric named by \(name.debugDescription)"
                        + (selector == LabelSelector() ? "" : " among those the label selector matches")
                        + " (external metric names are <application>-<metric>)")
            }
        } catch {
            return .failure(500, "InternalError", "could not list the Applications of namespace \(namespace): \(error)")
        }
        guard matches.count == 1, let match = matches.first else {
            let pairs = matches.map { "Application \($0.application.name) metric \($0.metric.name)" }.joined(separator: ", ")
            return .failure(
                409, "Conflict",
                "\(name.debugDescription) names more than one metric in namespace \(namespace) (\(pairs)); narrow it with a label selector on the Application's labels")
        }
        let subject = "metric \(match.metric.name) of Application \(namespace)/\(match.application.name)"
        switch await backend.read(namespace, match.metric) {
        case .value(let value):
            return .json(ExternalMetricValueList(items: [
                .init(
                    metricName: name, metricLabels: ["application": match.application.name, "metric": match.metric.name],
                    timestamp: Time(now()), value: Self.quantity(value))
            ]))
        case .unavailable(let why):
            return .failure(503, "ServiceUnavailable", "\(subject) is unavailable: \(why) (\(why.reason))")
        }
    }

    /// `value` as a Kubernetes quantity: an integer as is, anything else in
    /// thousandths (`12.5` → `12500m`), the precision the HPA compares at.
    public static func quantity(_ value: Double) -> String {
        let limit = 9.0e15
        if value == value.rounded(), abs(value) < limit { return String(Int64(value)) }
        let milli = (value * 1_000).rounded()
        if abs(milli) < limit { return "\(Int64(milli))m" }
        return String(Int64(max(-limit, min(limit, value.rounded()))))
    }

    static func isDNSLabel(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 63 && text.first != "-" && text.last != "-"
            && text.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    struct APIGroupVersion: Codable, Hashable {
        var groupVersion: String
        var version: String
    }

    struct APIGroup: Codable, Hashable {
        var kind = "APIGroup"
        var apiVersion = "v1"
        var name: String
        var versions: [APIGroupVersion]
        var preferredVersion: APIGroupVersion
    }

    static var apiGroup: APIGroup {
        let version = APIGroupVersion(groupVersion: groupVersion, version: Self.version)
        return APIGroup(name: group, versions: [version], preferredVersion: version)
    }

    struct APIResource: Codable, Hashable {
        var name: String
        var singularName: String
        var namespaced: Bool
        var kind: String
        var verbs: [String]
    }

    struct APIResourceList: Codable, Hashable {
        var kind = "APIResourceList"
        var apiVersion = "v1"
        var groupVersion: String
        var resources: [APIResource]
    }

    static var resourceList: APIResourceList {
        APIResourceList(
            groupVersion: groupVersion,
            resources: [APIResource(name: "externalmetrics", singularName: "", namespaced: true, kind: "ExternalMetricValueList", verbs: ["get"])])
    }

    struct ExternalMetricValueList: Codable, Hashable {
        var kind = "ExternalMetricValueList"
        var apiVersion = ExternalMetricsAPI.groupVersion
        var metadata: [String: String] = [:]
        var items: [ExternalMetricValue]
    }

    struct ExternalMetricValue: Codable, Hashable {
        var metricName: String
        var metricLabels: [String: String]
        var timestamp: Time
        var value: String
    }
}

/// The adapter's answers, shared by concurrent requests.
actor AnswerCache {
    struct Key: Hashable {
        var namespace: String
        var metric: String
        var selector: String
    }

    var cache: ExpiringCache<Key, AdapterResponse>

    init(ttl: Duration, capacity: Int) { cache = ExpiringCache(ttl: ttl, capacity: capacity) }

    func answer(for key: Key) -> AdapterResponse? { cache.value(for: key) }

    func keep(_ answer: AdapterResponse, for key: Key) { cache.keep(answer, for: key) }
}
