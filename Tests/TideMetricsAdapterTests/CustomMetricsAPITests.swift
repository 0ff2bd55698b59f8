import Foundation
import KubeAPI
import KubeAPIExtensions
import Synchronization
import TideAPI
import TideScaler
import Testing
@testable import TideMetricsAdapter

/// Applications and Autoscalers, a source per metric and an authorizer, in memory, with
/// every access review and read counted.
final class FakeObjects: Sendable {
    struct State {
        var objects: [CustomMetricsAPI.MetricObject] = []
        var values: [String: MetricReading] = [:]
        var reads = 0
        var reviews: [SubjectAccessReview.ResourceAttributes] = []
    }

    let state = Mutex(State())
    let allowed: @Sendable (UserInfo, SubjectAccessReview.ResourceAttributes) -> Bool

    init(allowed: @escaping @Sendable (UserInfo, SubjectAccessReview.ResourceAttributes) -> Bool = { user, _ in user.name == "system:kube-controller-manager" }) {
        self.allowed = allowed
    }

    func add(_ kind: CustomMetricsAPI.Kind, _ name: String, in namespace: String, labels: [String: String] = [:], metrics: [(String, String?)]) {
        let scalingMetrics = metrics.map { name, query in
            query.map { ScalingMetric(name: name, prometheus: PrometheusSource(address: "http://prometheus:9090", query: $0), target: .init(type: .perReplica, value: "5")) }
                ?? ScalingMetric(name: name, http: HTTPSource(url: "http://127.0.0.1:9/\(name)", valueLocation: "v"), target: .init(type: .perReplica, value: "5"))
        }
        state.withLock { $0.objects.append(.init(kind: kind, namespace: namespace, name: name, labels: labels, metrics: scalingMetrics)) }
    }

    func set(_ metric: String, _ reading: MetricReading) { state.withLock { $0.values[metric] = reading } }

    var backend: CustomMetricsAPI.Backend {
        CustomMetricsAPI.Backend(
            objects: { kind, namespace in
                self.state.withLock { state in state.objects.filter { $0.kind == kind && (namespace == nil || $0.namespace == namespace) } }
            },
            namespaceExists: { namespace in namespace == "shop" || namespace == "empty" },
            read: { _, metric in
                self.state.withLock {
                    $0.reads += 1
                    return $0.values[metric.name] ?? .unavailable(.endpointUnreachable("connection refused"))
                }
            },
            authorize: { user, attributes in
                self.state.withLock { $0.reviews.append(attributes) }
                return .init(allowed: self.allowed(user, attributes), reason: nil)
            })
    }
}

@Suite("custom.metrics.k8s.io: discovery, Object values, wildcards, refusals")
struct CustomMetricsAPITests {
    static let base = "/apis/custom.metrics.k8s.io/v1beta2"

    func get(_ api: CustomMetricsAPI, _ path: String, query: [String: String] = [:], user: UserInfo = hpa) async -> AdapterResponse {
        await api.respond(method: "GET", path: path, query: query, user: user)
    }

    func cluster() -> FakeObjects {
        let cluster = FakeObjects()
        cluster.add(.application, "checkout", in: "shop", labels: ["tier": "web"], metrics: [("rps", "sum(rate(requests_total[1m]))"), ("queue", nil)])
        cluster.add(.application, "cart", in: "shop", labels: ["tier": "web"], metrics: [("rps", "sum(rate(cart_requests_total[30s]))")])
        cluster.add(.application, "batch", in: "shop", labels: ["tier": "jobs"], metrics: [("backlog", nil)])
        cluster.add(.autoscaler, "legacy", in: "shop", metrics: [("rps", "sum(rate(legacy_requests_total[2m]))")])
        return cluster
    }

    @Test("discovery lists applications.tide.dev/<metric> and autoscalers.tide.dev/<metric> for every metric name defined; the group offers v1beta2 and v1beta1")
    func discovery() async throws {
        let api = CustomMetricsAPI(backend: cluster().backend, cacheTTL: .zero)
        let group = try json(await get(api, "/apis/custom.metrics.k8s.io"))
        #expect(group["preferredVersion"]?["version"] == "v1beta2")
        #expect(group["versions"]?.arrayValue?.compactMap { $0["version"]?.stringValue } == ["v1beta2", "v1beta1"])
        for version in ["v1beta2", "v1beta1"] {
            let list = try json(await get(api, "/apis/custom.metrics.k8s.io/\(version)"))
            #expect(list["groupVersion"]?.stringValue == "custom.metrics.k8s.io/\(version)")
            let names = list["resources"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
            #expect(names == [
                "applications.tide.dev/backlog", "autoscalers.tide.dev/backlog", "applications.tide.dev/queue", "autoscalers.tide.dev/queue",
                "applications.tide.dev/rps", "autoscalers.tide.dev/rps",
            ])
            #expect(list["resources"]?.arrayValue?.allSatisfy { $0["namespaced"] == .bool(true) && $0["kind"] == "MetricValueList" } == true)
        }
    }

    @Test("one Application's metric: a MetricValueList whose item describes it, its value, timestamp and the query's window; v1beta1 in its own shape")
    func objectValue() async throws {
        let objects = cluster()
        objects.set("rps", .value(27.5))
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let api = CustomMetricsAPI(backend: objects.backend, cacheTTL: .zero, now: { now })
        let response = await get(api, "\(Self.base)/namespaces/shop/applications.tide.dev/checkout/rps")
        #expect(response.status == 200, "\(response.text)")
        let body = try json(response)
        #expect(body["kind"] == "MetricValueList" && body["apiVersion"] == "custom.metrics.k8s.io/v1beta2")
        let item = try #require(body["items"]?.arrayValue?.first)
        #expect(body["items"]?.arrayValue?.count == 1)
        #expect(item["describedObject"] == ["kind": "Application", "namespace": "shop", "name": "checkout", "apiVersion": "tide.dev/v1alpha1"])
        #expect(item["metric"] == ["name": "rps"])
        #expect(item["value"] == "27500m")
        #expect(item["windowSeconds"] == .int(60))
        #expect(item["timestamp"] == "2027-01-15T08:00:00Z")
        let reviewed = objects.state.withLock { $0.reviews }
        #expect(reviewed == [.init(namespace: "shop", verb: "get", group: "custom.metrics.k8s.io", version: "v1beta2", resource: "applications.tide.dev", subresource: "rps", name: "checkout")])

        let old = try json(await get(api, "/apis/custom.metrics.k8s.io/v1beta1/namespaces/shop/autoscalers.tide.dev/legacy/rps"))
        let oldItem = try #require(old["items"]?.arrayValue?.first)
        #expect(old["apiVersion"] == "custom.metrics.k8s.io/v1beta1")
        #expect(oldItem["metricName"] == "rps" && oldItem["metric"] == nil)
        #expect(oldItem["describedObject"]?["kind"] == "Autoscaler")
        #expect(oldItem["windowSeconds"] == .int(120))
        // An HTTP source does not say what it averages over: no window.
        objects.set("queue", .value(4))
        let queue = try json(await get(api, "\(Self.base)/namespaces/shop/applications.tide.dev/checkout/queue"))
        #expect(queue["items"]?.arrayValue?.first?["windowSeconds"] == nil)
        #expect(queue["items"]?.arrayValue?.first?["value"] == "4")
    }

    @Test("* with a label selector: one item per matching object that defines the metric, asked as list")
    func wildcard() async throws {
        let objects = cluster()
        objects.set("rps", .value(10))
        let api = CustomMetricsAPI(backend: objects.backend, cacheTTL: .zero)
        let all = try json(await get(api, "\(Self.base)/namespaces/shop/applications.tide.dev/*/rps"))
        #expect(all["items"]?.arrayValue?.compactMap { $0["describedObject"]?["name"]?.stringValue }.sorted() == ["cart", "checkout"])
        let web = try json(await get(api, "\(Self.base)/namespaces/shop/applications.tide.dev/*/rps", query: ["labelSelector": "tier=web,app!=cart"]))
        #expect(web["items"]?.arrayValue?.count == 2)
        let none = await get(api, "\(Self.base)/namespaces/shop/applications.tide.dev/*/rps", query: ["labelSelector": "tier=jobs"])
        #expect(none.status == 404 && none.text.contains("among those the label selector matches"), "\(none.text)")
        #expect(objects.state.withLock { $0.reviews }.allSatisfy { $0.verb == "list" && $0.name == nil })
    }

    @Test(
        "every bad request is a Status with the right code, and nothing is read before the access review allows it",
        arguments: [
            ("/namespaces/shop/applications.tide.dev/checkout/rps", ["metricSelector": "a=b"], 400, "metricSelector is not supported"),
            ("/namespaces/shop/applications.tide.dev/*/rps", ["labelSelector": "tier in (web"], 400, "labelSelector"),
            ("/namespaces/shop/applications.tide.dev/checkout/rps", ["labelSelector": "tier=web"], 400, "goes with the name *"),
            ("/namespaces/Shop!/applications.tide.dev/checkout/rps", [:], 400, "is not a namespace name"),
            ("/namespaces/shop/pods/checkout/rps", [:], 404, "is not served"),
            ("/namespaces/shop/applications.tide.dev/missing/rps", [:], 404, "\"missing\" not found"),
            ("/namespaces/gone/applications.tide.dev/checkout/rps", [:], 404, "namespace \"gone\" not found"),
            ("/namespaces/shop/applications.tide.dev/checkout/latency", [:], 404, "has no metric \"latency\" (it has: rps, queue)"),
            ("/namespaces/shop/metrics/rps", [:], 404, "no metrics of namespaces"),
            ("/applications.tide.dev/checkout/rps", [:], 404, "is namespaced"),
            ("/namespaces/shop/applications.tide.dev/checkout/rps", [:], 503, "metric rps of Application shop/checkout is unavailable"),
        ] as [(String, [String: String], Int, String)])
    func refusals(path: String, query: [String: String], status: Int, message: String) async throws {
        let objects = cluster()
        let api = CustomMetricsAPI(backend: objects.backend, cacheTTL: .zero)
        let response = await get(api, Self.base + path, query: query)
        #expect(response.status == status, "\(path): \(response.text)")
        let body = try json(response)
        #expect(body["kind"] == "Status" && body["code"] == .int(Int64(status)))
        #expect(body["message"]?.stringValue?.contains(message) == true, "\(path): \(response.text)")
        if status != 503 { #expect(objects.state.withLock { $0.reads } == 0, "nothing is read for a refused request") }
    }

    @Test("a user the access review refuses gets 403 in kube-apiserver's words and no value is read; writes are 405; an unknown version 404")
    func forbidden() async throws {
        let objects = cluster()
        objects.set("rps", .value(10))
        let api = CustomMetricsAPI(backend: objects.backend, cacheTTL: .seconds(60))
        // Cached for the HPA, still refused for another user.
        #expect(await get(api, "\(Self.base)/namespaces/shop/applications.tide.dev/checkout/rps").status == 200)
        let refused = await get(api, "\(Self.base)/namespaces/shop/applications.tide.dev/checkout/rps", user: UserInfo(name: "mallory"))
        #expect(refused.status == 403)
        #expect(try json(refused)["message"]?.stringValue
            == #"applications.tide.dev "checkout" is forbidden: User "mallory" cannot get resource "applications.tide.dev/rps" in API group "custom.metrics.k8s.io" in the namespace "shop""#)
        #expect(objects.state.withLock { $0.reads } == 1)
        #expect(await api.respond(method: "POST", path: "\(Self.base)/namespaces/shop/applications.tide.dev/checkout/rps", query: [:], user: hpa).status == 405)
        #expect(await get(api, "/apis/custom.metrics.k8s.io/v2/namespaces/shop/applications.tide.dev/checkout/rps").status == 404)
    }
}
