#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import KubeAPIExtensions
import KubeClient
import TideAPI
import TideMetrics

/// The `custom.metrics.k8s.io` API (`v1beta2`, and `v1beta1` for older clients) over
/// the metrics of Applications and Autoscalers, so an HPA can use them as `type:
/// Object` metrics, as the Kubernetes documentation teaches, without prometheus-adapter.
///
/// - Discovery lists, for every metric name any Application or Autoscaler defines,
///   the resources `applications.tide.dev/<metric>` and `autoscalers.tide.dev/<metric>`.
/// - `…/namespaces/{ns}/applications.tide.dev/{name}/{metric}` is a `MetricValueList`
///   with one item describing that Application; `…/*/{metric}?labelSelector=…` one
///   item per matching object that defines the metric. The same for Autoscalers.
///
/// Guarantees, as for ``ExternalMetricsAPI``:
/// - A value is served only to a user a SubjectAccessReview allows (verb `get` for one
///   object, `list` for `*`; resource `applications.tide.dev`, subresource the
///   metric), asked before anything about the object is looked up.
/// - A value comes from the metric's own source, read as the scaler reads it; an
///   unavailable metric is a `503` naming the reason, never a made-up value.
/// - Answers are reused for the cache time; `metricSelector` is refused (Tide's
///   metrics have no labels to select on).
public final class CustomMetricsAPI: Sendable {
    public static let group = "custom.metrics.k8s.io"
    public static let versions = ["v1beta2", "v1beta1"]

    /// The kinds whose metrics are served, by the resource name clients use.
    public enum Kind: String, Sendable, CaseIterable {
        case application = "applications.tide.dev"
        case autoscaler = "autoscalers.tide.dev"

        public var kind: String { self == .application ? "Application" : "Autoscaler" }
    }

    /// One object and the metrics it defines.
    public struct MetricObject: Sendable {
        public var kind: Kind
        public var namespace: String
        public var name: String
        public var labels: [String: String]
        public var metrics: [ScalingMetric]

        public init(kind: Kind, namespace: String, name: String, labels: [String: String], metrics: [ScalingMetric]) {
            self.kind = kind
            self.namespace = namespace
            self.name = name
            self.labels = labels
            self.metrics = metrics
        }

        public init(_ application: Application) {
            self.init(
                kind: .application, namespace: application.metadata.namespace ?? "", name: application.name,
                labels: application.metadata.labels ?? [:], metrics: application.spec.scaling?.resolvedMetrics ?? [])
        }

        public init(_ autoscaler: Autoscaler) {
            self.init(
                kind: .autoscaler, namespace: autoscaler.metadata.namespace ?? "", name: autoscaler.metadata.name ?? "",
                labels: autoscaler.metadata.labels ?? [:], metrics: autoscaler.spec.scaling.resolvedMetrics)
        }
    }

    /// What the API reads; closures so tests can stand in for the cluster.
    public struct Backend: Sendable {
        /// The objects of a kind in a namespace, or in every namespace for `nil`.
        public var objects: @Sendable (Kind, String?) async throws -> [MetricObject]
        public var namespaceExists: @Sendable (String) async throws -> Bool
        /// One metric of an object in a namespace, read from its source.
        public var read: @Sendable (String, ScalingMetric) async -> MetricReading
        public var authorize: @Sendable (UserInfo, SubjectAccessReview.ResourceAttributes) async throws -> AccessReviewer.Decision

        public init(
            objects: @escaping @Sendable (Kind, String?) async throws -> [MetricObject],
            namespaceExists: @escaping @Sendable (String) async throws -> Bool,
            read: @escaping @Sendable (String, ScalingMetric) async -> MetricReading,
            authorize: @escaping @Sendable (UserInfo, SubjectAccessReview.ResourceAttributes) async throws -> AccessReviewer.Decision
        ) {
            self.objects = objects
            self.namespaceExists = namespaceExists
            self.read = read
            self.authorize = authorize
        }

        /// The cluster behind `client`.
        public static func cluster(_ client: KubeClient, reviewer: AccessReviewer) -> Backend {
            Backend(
                objects: { kind, namespace in
                    switch (kind, namespace) {
                    case (.application, let namespace?): try await client.namespaced(Application.self, in: namespace).listAll().items.map(MetricObject.init)
                    case (.application, nil): try await client.allNamespaces(Application.self).listAll().items.map(MetricObject.init)
                    case (.autoscaler, let namespace?): try await client.namespaced(Autoscaler.self, in: namespace).listAll().items.map(MetricObject.init)
                    case (.autoscaler, nil): try await client.allNamespaces(Autoscaler.self).listAll().items.map(MetricObject.init)
                    }
                },
                namespaceExists: { try await client.clusterScoped(Namespace.self).getIfPresent($0) != nil },
                read: { namespace, metric in await MetricReader(client: client, namespace: namespace).read(metric) },
                authorize: { try await reviewer.decide($0, $1) })
        }
    }

    let backend: Backend
    let answers: AnswerCache
    let now: @Sendable () -> Date

    public init(backend: Backend, cacheTTL: Duration = .seconds(5), now: @escaping @Sendable () -> Date = { Date() }) {
        self.backend = backend
        self.answers = AnswerCache(ttl: cacheTTL, capacity: 4_096)
        self.now = now
    }

    /// Whether `path` belongs to this API.
    public static func serves(_ path: String) -> Bool {
        path == "/apis/\(group)" || path.hasPrefix("/apis/\(group)/")
    }

    /// Whether `path` is this API's discovery.
    static func isDiscovery(_ path: String) -> Bool {
        let segments = path.split(separator: "/")
        return serves(path) && (segments.count == 2 || (segments.count == 3 && versions.contains(String(segments[2]))))
    }

    /// Answers one request of `user`.
    public func respond(method: String, path: String, query: [String: String], user: UserInfo) async -> AdapterResponse {
        let segments = path.split(separator: "/").map(String.init)
        guard segments.count >= 2, segments[0] == "apis", segments[1] == Self.group else {
            return .failure(404, "NotFound", "the server could not find the requested resource")
        }
        guard method == "GET" else {
            return .failure(405, "MethodNotAllowed", "\(Self.group) is read-only: \(method) is not supported")
        }
        if segments.count == 2 { return .json(Self.apiGroup) }
        let version = segments[2]
        guard Self.versions.contains(version) else {
            return .failure(404, "NotFound", "the server could not find the requested resource (\(Self.group) serves \(Self.versions.joined(separator: " and ")))")
        }
        switch segments.count {
        case 3:
            return await discovery(version: version)
        case 8 where segments[3] == "namespaces":
            return await value(
                version: version, namespace: segments[4], resource: segments[5], name: segments[6], metric: segments[7], query: query, user: user)
        case 7 where segments[3] == "namespaces" && segments[5] == "metrics":
            return .failure(404, "NotFound", "Tide serves no metrics of namespaces, only of \(Self.resourceNames)")
        case 6 where Kind(rawValue: segments[3]) != nil:
            return .failure(404, "NotFound", "\(segments[3]) is namespaced: ask for /apis/\(Self.group)/\(version)/namespaces/{namespace}/\(segments[3])/{name}/{metric}")
        default:
            return .failure(
                404, "NotFound", "the server could not find the requested resource: \(Self.group) serves /namespaces/{namespace}/{resource}/{name}/{metric}")
        }
    }

    static var resourceNames: String { Kind.allCases.map(\.rawValue).joined(separator: " and ") }

    func discovery(version: String) async -> AdapterResponse {
        let key = AnswerCache.Key(namespace: "", metric: "discovery/\(version)", selector: "")
        if let cached = await answers.answer(for: key) { return cached }
        var names = Set<String>()
        do {
            for kind in Kind.allCases {
                for object in try await backend.objects(kind, nil) { names.formUnion(object.metrics.map(\.name)) }
            }
        } catch {
            return .failure(500, "InternalError", "could not list Applications and Autoscalers: \(error)")
        }
        let resources = names.sorted().flatMap { name in
            Kind.allCases.map { kind in
                ExternalMetricsAPI.APIResource(name: "\(kind.rawValue)/\(name)", singularName: "", namespaced: true, kind: "MetricValueList", verbs: ["get"])
            }
        }
        let answer = AdapterResponse.json(ExternalMetricsAPI.APIResourceList(groupVersion: "\(Self.group)/\(version)", resources: resources))
        await answers.keep(answer, for: key)
        return answer
    }

    func value(version: String, namespace: String, resource: String, name: String, metric: String, query: [String: String], user: UserInfo) async -> AdapterResponse {
        guard let kind = Kind(rawValue: resource) else {
            return .failure(404, "NotFound", "the server could not find the requested resource: \(resource.debugDescription) is not served (\(Self.resourceNames) are)")
        }
        if let metricSelector = query["metricSelector"], !metricSelector.isEmpty {
            return .failure(400, "BadRequest", "metricSelector is not supported: Tide's custom metrics have no labels to select on")
        }
        guard ExternalMetricsAPI.isDNSLabel(namespace) else {
            return .failure(400, "BadRequest", "\(namespace.debugDescription) is not a namespace name")
        }
        let wildcard = name == "*"
        let text = query["labelSelector"] ?? ""
        if !wildcard, !text.isEmpty {
            return .failure(400, "BadRequest", "labelSelector selects among objects: it goes with the name *, not with \(name.debugDescription)")
        }
        let selector: LabelSelector
        do {
            selector = try LabelSelector(parsing: text)
        } catch {
            return .failure(400, "BadRequest", "labelSelector \(text.debugDescription): \(error)")
        }
        let verb = wildcard ? "list" : "get"
        do {
            let decision = try await backend.authorize(user, .init(
                namespace: namespace, verb: verb, group: Self.group, version: version, resource: resource, subresource: metric, name: wildcard ? nil : name))
            guard decision.allowed else {
                let object = wildcard ? resource : "\(resource) \(name.debugDescription)"
                let why = decision.reason.map { ": \($0)" } ?? ""
                return .failure(
                    403, "Forbidden",
                    "\(object) is forbidden: User \(user.name.debugDescription) cannot \(verb) resource \("\(resource)/\(metric)".debugDescription) in API group \(Self.group.debugDescription) in the namespace \(namespace.debugDescription)\(why)")
            }
        } catch {
            return .failure(500, "InternalError", "could not check access with a SubjectAccessReview: \(error)")
        }
        let key = AnswerCache.Key(namespace: namespace, metric: "\(version)/\(resource)/\(name)/\(metric)", selector: text)
        if let cached = await answers.answer(for: key) { return cached }
        let answer = await lookUp(version: version, kind: kind, namespace: namespace, name: name, metric: metric, selector: selector)
        await answers.keep(answer, for: key)
        return answer
    }

    func lookUp(version: String, kind: Kind, namespace: String, name: String, metric: String, selector: LabelSelector) async -> AdapterResponse {
        let wildcard = name == "*"
        let chosen: [(object: MetricObject, metric: ScalingMetric)]
        do {
            let objects = try await backend.objects(kind, namespace)
            if !wildcard {
                guard let object = objects.first(where: { $0.name == name }) else {
                    guard try await backend.namespaceExists(namespace) else { return .failure(404, "NotFound", "namespace \(namespace.debugDescription) not found") }
                    return .failure(404, "NotFound", "\(kind.rawValue) \(name.debugDescription) not found")
                }
                guard let found = object.metrics.first(where: { $0.name == metric }) else {
                    let defined = object.metrics.map(\.name).joined(separator: ", ")
                    return .failure(404, "NotFound", "\(kind.kind) \(namespace)/\(name) has no metric \(metric.debugDescription) (it has: \(defined.isEmpty ? "none" : defined))")
                }
                chosen = [(object, found)]
            } else {
                chosen = objects.filter { selector.matches($0.labels) }.compactMap { object in
                    object.metrics.first(where: { $0.name == metric }).map { (object, $0) }
                }
                if chosen.isEmpty {
                    guard try await backend.namespaceExists(namespace) else { return .failure(404, "NotFound", "namespace \(namespace.debugDescription) not found") }
                    return .failure(
                        404, "NotFound",
                        "no \(kind.kind) in namespace \(namespace) defines metric \(metric.debugDescription)" + (selector == LabelSelector() ? "" : " among those the label selector matches"))
                }
            }
        } catch {
            return .failure(500, "InternalError", "could not list the \(kind.rawValue) of namespace \(namespace): \(error)")
        }
        var items: [MetricValue] = []
        var unavailable: [String] = []
        for (object, scalingMetric) in chosen {
            switch await backend.read(namespace, scalingMetric) {
            case .value(let value):
                items.append(MetricValue(
                    describedObject: .init(kind: kind.kind, namespace: namespace, name: object.name, apiVersion: "tide.dev/v1alpha1"),
                    metric: metric, timestamp: Time(now()), windowSeconds: Self.window(of: scalingMetric), value: ExternalMetricsAPI.quantity(value)))
            case .unavailable(let why):
                unavailable.append("metric \(metric) of \(kind.kind) \(namespace)/\(object.name) is unavailable: \(why) (\(why.reason))")
            }
        }
        // A value that could not be read is never left out quietly: the whole answer is a 503.
        if !unavailable.isEmpty { return .failure(503, "ServiceUnavailable", unavailable.joined(separator: "; ")) }
        return version == "v1beta1"
            ? .json(MetricValueListV1Beta1(items: items.map(\.v1beta1)))
            : .json(MetricValueListV1Beta2(items: items.map(\.v1beta2)))
    }

    /// The seconds a Prometheus metric's query averages over (its longest range), as the
    /// metric's source gives it; none for a source that does not say.
    static func window(of metric: ScalingMetric) -> Int64? {
        guard let query = metric.prometheus?.query, let range = PromQLRange.longest(in: query) else { return nil }
        return Int64(range.rounded())
    }

    static var apiGroup: ExternalMetricsAPI.APIGroup {
        let versions = Self.versions.map { ExternalMetricsAPI.APIGroupVersion(groupVersion: "\(group)/\($0)", version: $0) }
        return ExternalMetricsAPI.APIGroup(name: group, versions: versions, preferredVersion: versions[0])
    }

    struct ObjectReference: Codable, Hashable {
        var kind: String
        var namespace: String
        var name: String
        var apiVersion: String
    }

    /// One value, either version's shape.
    struct MetricValue {
        var describedObject: ObjectReference
        var metric: String
        var timestamp: Time
        var windowSeconds: Int64?
        var value: String

        var v1beta2: MetricValueV1Beta2 {
            MetricValueV1Beta2(describedObject: describedObject, metric: .init(name: metric), timestamp: timestamp, windowSeconds: windowSeconds, value: value)
        }

        var v1beta1: MetricValueV1Beta1 {
            MetricValueV1Beta1(describedObject: describedObject, metricName: metric, timestamp: timestamp, windowSeconds: windowSeconds, value: value)
        }
    }

    struct MetricIdentifier: Codable, Hashable {
        var name: String
    }

    struct MetricValueV1Beta2: Codable, Hashable {
        var describedObject: ObjectReference
        var metric: MetricIdentifier
        var timestamp: Time
        var windowSeconds: Int64?
        var value: String
    }

    struct MetricValueV1Beta1: Codable, Hashable {
        var describedObject: ObjectReference
        var metricName: String
        var timestamp: Time
        var windowSeconds: Int64?
        var value: String
    }

    struct MetricValueListV1Beta2: Codable, Hashable {
        var kind = "MetricValueList"
        var apiVersion = "\(CustomMetricsAPI.group)/v1beta2"
        var metadata: [String: String] = [:]
        var items: [MetricValueV1Beta2]
    }

    struct MetricValueListV1Beta1: Codable, Hashable {
        var kind = "MetricValueList"
        var apiVersion = "\(CustomMetricsAPI.group)/v1beta1"
        var metadata: [String: String] = [:]
        var items: [MetricValueV1Beta1]
    }
}
