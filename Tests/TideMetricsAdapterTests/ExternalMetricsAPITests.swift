import Foundation
import KubeAPI
import KubeAPIExtensions
import Synchronization
import TideAPI
import TideScaler
import Testing
@testable import TideMetricsAdapter

/// A namespace of Applications, a source per metric, and an authorizer, all in memory.
final class FakeCluster: Sendable {
    let state = Mutex<(applications: [String: [Application]], values: [String: MetricReading], reads: Int, lists: Int, reviews: Int)>(
        ([:], [:], 0, 0, 0))
    let allowed: @Sendable (UserInfo) -> Bool

    init(allowed: @escaping @Sendable (UserInfo) -> Bool = { $0.name == "system:kube-controller-manager" }) {
        self.allowed = allowed
    }

    func add(_ name: String, in namespace: String, labels: [String: String] = [:], metrics: [String]) {
        let scaling = Scaling(
            maxReplicas: 5,
            metrics: metrics.map { ScalingMetric(name: $0, http: HTTPSource(url: "http://127.0.0.1:9/\($0)", valueLocation: "v"), target: .init(type: .perReplica, value: "5")) })
        let application = Application(
            metadata: ObjectMeta(name: name, namespace: namespace, labels: labels.isEmpty ? nil : labels),
            spec: ApplicationSpec(image: "hello:1", scaling: scaling))
        state.withLock { $0.applications[namespace, default: []].append(application) }
    }

    func set(_ metric: String, _ reading: MetricReading) { state.withLock { $0.values[metric] = reading } }
    var reads: Int { state.withLock { $0.reads } }
    var lists: Int { state.withLock { $0.lists } }

    var backend: ExternalMetricsAPI.Backend {
        ExternalMetricsAPI.Backend(
            applications: { namespace in
                self.state.withLock {
                    $0.lists += 1
                    return $0.applications[namespace] ?? []
                }
            },
            namespaceExists: { namespace in self.state.withLock { $0.applications[namespace] != nil } },
            read: { _, metric in
                self.state.withLock {
                    $0.reads += 1
                    return $0.values[metric.name] ?? .unavailable(.endpointUnreachable("connection refused"))
                }
            },
            authorize: { user, _, _ in
                self.state.withLock { $0.reviews += 1 }
                return .init(allowed: self.allowed(user), reason: nil)
            })
    }
}

let hpa = UserInfo(name: "system:kube-controller-manager")

func get(_ api: ExternalMetricsAPI, _ path: String, selector: String? = nil, user: UserInfo = hpa) async -> AdapterResponse {
    await api.respond(method: "GET", path: path, query: selector.map { ["labelSelector": $0] } ?? [:], user: user)
}

func json(_ response: AdapterResponse) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(response.body)) }

@Suite("external.metrics.k8s.io: names, values, refusals")
struct ExternalMetricsAPITests {
    static let base = "/apis/external.metrics.k8s.io/v1beta1"

    @Test("the metric's live value, in thousandths, labelled with its Application and metric")
    func value() async throws {
        let cluster = FakeCluster()
        cluster.add("hello", in: "demo", metrics: ["rps", "queue"])
        cluster.set("rps", .value(12.5))
        let api = ExternalMetricsAPI(backend: cluster.backend, cacheTTL: .zero)
        let response = await get(api, "\(Self.base)/namespaces/demo/hello-rps")
        #expect(response.status == 200)
        let body = try json(response)
        #expect(body["kind"] == "ExternalMetricValueList")
        #expect(body["items"]?.arrayValue?.count == 1)
        #expect(body["items"]?.arrayValue?.first?["value"] == "12500m")
        #expect(body["items"]?.arrayValue?.first?["metricName"] == "hello-rps")
        #expect(body["items"]?.arrayValue?.first?["metricLabels"] == ["application": "hello", "metric": "rps"])
    }

    @Test("an unavailable metric is a 503 that says why, never a made-up value")
    func unavailable() async throws {
        let cluster = FakeCluster()
        cluster.add("hello", in: "demo", metrics: ["rps"])
        let api = ExternalMetricsAPI(backend: cluster.backend, cacheTTL: .zero)
        let response = await get(api, "\(Self.base)/namespaces/demo/hello-rps")
        #expect(response.status == 503)
        let body = try json(response)
        #expect(body["kind"] == "Status")
        #expect(body["reason"] == "ServiceUnavailable")
        #expect(body["message"]?.stringValue?.contains("metric rps of Application demo/hello is unavailable") == true)
        #expect(body["message"]?.stringValue?.contains("EndpointUnreachable") == true)
        #expect(!response.text.contains("\"items\""))
    }

    @Test("bad input: unknown metric, unknown namespace, bad selector, a name two metrics fit, a write, another group")
    func badInput() async throws {
        let cluster = FakeCluster()
        cluster.add("a-b", in: "demo", labels: ["team": "x"], metrics: ["c"])
        cluster.add("a", in: "demo", labels: ["team": "y"], metrics: ["b-c"])
        cluster.set("c", .value(1))
        cluster.set("b-c", .value(2))
        let api = ExternalMetricsAPI(backend: cluster.backend, cacheTTL: .zero)
        let cases: [(String, String?, Int, String, String)] = [
            ("\(Self.base)/namespaces/demo/nope", nil, 404, "NotFound", "no Application in namespace demo has a metric named by \"nope\""),
            ("\(Self.base)/namespaces/missing/a-b-c", nil, 404, "NotFound", "namespace \"missing\" not found"),
            ("\(Self.base)/namespaces/demo/a-b-c", "team in x", 400, "BadRequest", "unable to parse label selector term 'team in x'"),
            ("\(Self.base)/namespaces/demo/a-b-c", nil, 409, "Conflict", "Application a-b metric c, Application a metric b-c"),
            ("\(Self.base)/namespaces/demo/a-b-c", "team=z", 404, "NotFound", "among those the label selector matches"),
            ("\(Self.base)/namespaces/Demo/a-b-c", nil, 400, "BadRequest", "is not a namespace name"),
            ("\(Self.base)/namespaces/demo", nil, 404, "NotFound", "serves /namespaces/{namespace}/{metric}"),
            ("/apis/custom.metrics.k8s.io/v1beta1", nil, 404, "NotFound", "serves external.metrics.k8s.io/v1beta1 only"),
        ]
        for (path, selector, code, reason, message) in cases {
            let response = await get(api, path, selector: selector)
            #expect(response.status == code, "\(path) \(selector ?? "")")
            let body = try json(response)
            #expect(body["reason"]?.stringValue == reason, "\(path)")
            #expect(body["code"]?.intValue == Int64(code), "\(path)")
            #expect(body["message"]?.stringValue?.contains(message) == true, "\(path): \(body["message"]?.stringValue ?? "")")
        }
        // The label selector on the Applications' labels picks one of the two.
        let picked = await get(api, "\(Self.base)/namespaces/demo/a-b-c", selector: "team=y")
        #expect(try json(picked)["items"]?.arrayValue?.first?["value"] == "2")
        let write = await api.respond(method: "POST", path: "\(Self.base)/namespaces/demo/a-b-c", query: [:], user: hpa)
        #expect(write.status == 405)
    }

    @Test("a user the access review denies learns nothing: 403 before any Application is listed or source read")
    func denied() async throws {
        let cluster = FakeCluster()
        cluster.add("hello", in: "demo", metrics: ["rps"])
        cluster.set("rps", .value(3))
        let api = ExternalMetricsAPI(backend: cluster.backend, cacheTTL: .seconds(60))
        _ = await get(api, "\(Self.base)/namespaces/demo/hello-rps")
        let before = (cluster.lists, cluster.reads)
        for path in ["\(Self.base)/namespaces/demo/hello-rps", "\(Self.base)/namespaces/demo/nope", "\(Self.base)/namespaces/missing/x"] {
            let response = await get(api, path, user: UserInfo(name: "bob", groups: ["dev"]))
            #expect(response.status == 403, "\(path)")
            #expect(try json(response)["message"]?.stringValue?.contains("User \"bob\" cannot list resource") == true)
            #expect(!response.text.contains("\"items\""))
        }
        #expect(cluster.lists == before.0 && cluster.reads == before.1, "nothing was looked up for the denied user")
    }

    @Test("answers are reused within the cache time: many HPAs on one metric read its source once")
    func cached() async throws {
        let cluster = FakeCluster()
        cluster.add("hello", in: "demo", metrics: ["rps"])
        cluster.set("rps", .value(3))
        let api = ExternalMetricsAPI(backend: cluster.backend, cacheTTL: .seconds(60))
        for _ in 0..<5 { #expect(await get(api, "\(Self.base)/namespaces/demo/hello-rps").status == 200) }
        #expect(cluster.reads == 1)
        let uncached = ExternalMetricsAPI(backend: cluster.backend, cacheTTL: .zero)
        for _ in 0..<3 { _ = await get(uncached, "\(Self.base)/namespaces/demo/hello-rps") }
        #expect(cluster.reads == 4)
    }

    @Test("discovery lists the group's one resource kind")
    func discovery() async throws {
        let api = ExternalMetricsAPI(backend: FakeCluster().backend)
        let list = try json(await get(api, Self.base))
        #expect(list["kind"] == "APIResourceList")
        #expect(list["groupVersion"] == "external.metrics.k8s.io/v1beta1")
        #expect(list["resources"]?.arrayValue?.first?["kind"] == "ExternalMetricValueList")
        let group = try json(await get(api, "/apis/external.metrics.k8s.io"))
        #expect(group["preferredVersion"]?["version"] == "v1beta1")
    }

    @Test("values as Kubernetes quantities", arguments: [
        (0.0, "0"), (3.0, "3"), (-2.0, "-2"), (12.5, "12500m"), (0.0004, "0m"), (0.0015, "2m"), (1e20, "9000000000000000"), (123456.789, "123456789m"),
    ])
    func quantity(value: Double, expected: String) {
        #expect(ExternalMetricsAPI.quantity(value) == expected)
    }
}

@Suite("request-header authentication and the APIService check")
struct AuthenticationTests {
    static let configMap: [String: String] = [
        "requestheader-client-ca-file": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        "requestheader-allowed-names": "[\"front-proxy-client\"]",
        "requestheader-username-headers": "[\"X-Remote-User\"]",
        "requestheader-group-headers": "[\"X-Remote-Group\"]",
        "requestheader-extra-headers-prefix": "[\"X-Remote-Extra-\"]",
    ]

    @Test("the user, groups and extras the front proxy names, from its allowed certificate only")
    func authenticate() throws {
        let authenticator = try RequestHeaderAuthenticator(configMap: Self.configMap)
        let headers: [(name: String, value: String)] = [
            ("x-remote-user", "alice"), ("X-Remote-Group", "dev"), ("X-Remote-Group", "system:authenticated"),
            ("X-Remote-Extra-Acme.com%2Fproject", "tide"), ("Authorization", "Bearer secret"),
        ]
        let user = try authenticator.authenticate(certificateCommonName: "front-proxy-client", headers: headers).get()
        #expect(user == UserInfo(name: "alice", groups: ["dev", "system:authenticated"], extra: ["acme.com/project": ["tide"]]))
        #expect(authenticator.authenticate(certificateCommonName: nil, headers: headers) == .failure(.noClientCertificate))
        #expect(authenticator.authenticate(certificateCommonName: "someone", headers: headers) == .failure(.nameNotAllowed("someone")))
        #expect(authenticator.authenticate(certificateCommonName: "front-proxy-client", headers: [("X-Remote-Group", "dev")]) == .failure(.noUser))
        // An empty allowed list takes any certificate the front-proxy CA signed.
        var open = Self.configMap
        open["requestheader-allowed-names"] = "[]"
        #expect((try RequestHeaderAuthenticator(configMap: open)).authenticate(certificateCommonName: "any", headers: headers).map(\.name) == .success("alice"))
    }

    @Test("a cluster without the front-proxy settings, or with unreadable ones, is refused with the reason")
    func badConfiguration() {
        var missing = Self.configMap
        missing["requestheader-client-ca-file"] = nil
        #expect(throws: RequestHeaderAuthenticator.ConfigurationError.missingClientCA) { try RequestHeaderAuthenticator(configMap: missing) }
        var broken = Self.configMap
        broken["requestheader-allowed-names"] = "front-proxy-client"
        #expect(throws: RequestHeaderAuthenticator.ConfigurationError.notAJSONList(key: "requestheader-allowed-names")) {
            try RequestHeaderAuthenticator(configMap: broken)
        }
    }

    @Test("query strings decode %XX and + (as the aggregator forwards them)")
    func query() {
        #expect(PercentDecoding.query("labelSelector=team+in+%28a%2Cb%29&x=1&x=2&flag") == ["labelSelector": "team in (a,b)", "x": "1", "flag": ""])
        #expect(PercentDecoding.decode("100%") == "100%")
        #expect(PercentDecoding.decode("%zz%41") == "%zzA")
    }

    @Test("the adapter updates only an APIService that names its own Service")
    func ownership() throws {
        func service(_ reference: APIService.ServiceReference?) -> APIService {
            APIService(metadata: ObjectMeta(name: "v1beta1.external.metrics.k8s.io"), spec: .init(group: "external.metrics.k8s.io", version: "v1beta1", service: reference))
        }
        try ServingCertificate.checkOwnership(service(.init(namespace: "tide-system", name: "tide-metrics-adapter")), namespace: "tide-system", service: "tide-metrics-adapter")
        #expect(throws: ServingCertificate.Failure.heldByAnother(apiService: "v1beta1.external.metrics.k8s.io", service: "Service keda/keda-operator-metrics-apiserver")) {
            try ServingCertificate.checkOwnership(service(.init(namespace: "keda", name: "keda-operator-metrics-apiserver")), namespace: "tide-system", service: "tide-metrics-adapter")
        }
        #expect(throws: ServingCertificate.Failure.self) {
            try ServingCertificate.checkOwnership(service(nil), namespace: "tide-system", service: "tide-metrics-adapter")
        }
    }
}
