import Foundation
import KubeAPI
import TideAPI
import Testing

func scalingSpec(query: String = "sum(rate(x[1m]))", address: String = "http://prometheus:9090", min: Int32? = nil, max: Int32 = 5) -> Scaling {
    Scaling(minReplicas: min, maxReplicas: max, prometheus: PrometheusSource(address: address, query: query), target: MetricTarget(type: .perReplica, value: "5"))
}

@Suite("Application defaults and validation")
struct ApplicationSpecTests {
    @Test("defaults fill every optional field, HPA behavior included")
    func defaults() {
        let spec = ApplicationSpec(image: "hello:1", scaling: scalingSpec()).withDefaults
        #expect(spec.port == 8080)
        #expect(spec.metrics == MetricsEndpoint(path: "/metrics", interval: "15s"))
        let scaling = spec.scaling!
        #expect(scaling.minReplicas == 1)
        #expect(scaling.schedule == "* * * * *")
        #expect(scaling.mode == .cronJob)
        #expect(scaling.tolerance == 0.1)
        #expect(scaling.onMetricUnavailable == .hold)
        #expect(scaling.prometheus?.timeout == "5s")
        #expect(scaling.behavior?.scaleUp == Defaults.scaleUp)
        #expect(scaling.behavior?.scaleDown?.stabilizationWindowSeconds == 300)
        #expect(spec.effectiveReplicas == 1, "with scaling and no replicas, minReplicas")
        #expect(ApplicationSpec(image: "x", replicas: 3).withDefaults.effectiveReplicas == 3)
        #expect(ApplicationSpec(image: "x").withDefaults.effectiveReplicas == 1)
        // A partial behavior keeps what the user set.
        var custom = scalingSpec()
        custom.behavior = ScalingBehavior(scaleDown: ScalingRules(stabilizationWindowSeconds: 30))
        let merged = ApplicationSpec(image: "x", scaling: custom).withDefaults.scaling!.behavior!.scaleDown!
        #expect(merged.stabilizationWindowSeconds == 30)
        #expect(merged.policies == Defaults.scaleDown.policies)
    }

    @Test(
        "each problem the schema cannot catch has a clear message on its field",
        arguments: [
            (ApplicationSpec(image: "   "), "spec.image", "must name a container image"),
            (ApplicationSpec(image: "a b"), "spec.image", "whitespace"),
            (ApplicationSpec(image: "x", metrics: MetricsEndpoint(path: "metrics")), "spec.metrics.path", "must start with /"),
            (ApplicationSpec(image: "x", metrics: MetricsEndpoint(interval: "soon")), "spec.metrics.interval", "is not a duration"),
            (ApplicationSpec(image: "x", env: [EnvVar(name: "A", value: "1"), EnvVar(name: "A", value: "2")]), "spec.env[1].name", "more than once"),
            (ApplicationSpec(image: "x", env: [EnvVar(name: "1BAD")]), "spec.env[0].name", "not a valid environment variable name"),
            (ApplicationSpec(image: "x", env: [EnvVar(name: "ÄPFEL")]), "spec.env[0].name", "ASCII letters"),
            (ApplicationSpec(image: "x", env: [EnvVar(name: "KÉY")]), "spec.env[0].name", "ASCII letters"),
            (ApplicationSpec(image: "x", env: [EnvVar(name: "\u{0663}X")]), "spec.env[0].name", "ASCII letters"),
            (ApplicationSpec(image: "x", scaling: { var s = scalingSpec(); s.schedule = "\u{0663} * * * *"; return s }()), "spec.scaling.schedule", "cron"),
            (ApplicationSpec(image: "x", scaling: scalingSpec(query: "  \n ")), "spec.scaling.prometheus.query", "empty"),
            (ApplicationSpec(image: "x", scaling: scalingSpec(address: "prometheus:9090")), "spec.scaling.prometheus.address", "not an http(s) URL"),
            (ApplicationSpec(image: "x", scaling: scalingSpec(min: 4, max: 2)), "spec.scaling.maxReplicas", "at least minReplicas (4)"),
        ])
    func invalid(spec: ApplicationSpec, field: String, message: String) {
        let issues = spec.withDefaults.validate()
        #expect(issues.contains { $0.field == field && $0.message.contains(message) }, "\(issues)")
    }

    @Test("environment variable names follow the API server's rule exactly")
    func environmentNames() {
        for good in ["A", "a_b", "-x", ".env", "HTTP_PROXY", "x1.2-3"] { #expect(ApplicationSpec.isEnvironmentVariableName(good), "\(good)") }
        for bad in ["", "1A", "Ä", "A B", "A=B", "naïve", "\u{0663}"] { #expect(!ApplicationSpec.isEnvironmentVariableName(bad), "\(bad)") }
    }

    @Test("names the children cannot carry are refused, with the limit for each mode",
        arguments: [
            ("hello", nil as ScalingMode?, true), ("9lives", nil, false), ("Hello", nil, false), ("a-", nil, false),
            (String(repeating: "a", count: 63), nil, true), (String(repeating: "a", count: 64), nil, false),
            (String(repeating: "a", count: 45), .cronJob, true), (String(repeating: "a", count: 46), .cronJob, false),
            (String(repeating: "a", count: 56), .continuous, true), (String(repeating: "a", count: 57), .continuous, false),
        ])
    func names(name: String, mode: ScalingMode?, valid: Bool) {
        var scaling = mode.map { _ in scalingSpec() }
        scaling?.mode = mode
        let application = Application(metadata: ObjectMeta(name: name, namespace: "demo"), spec: ApplicationSpec(image: "x", scaling: scaling).withDefaults)
        let issues = application.validate().filter { $0.field == "metadata.name" }
        #expect(issues.isEmpty == valid, "\(name.count) characters, \(mode?.rawValue ?? "no scaling"): \(issues)")
    }

    @Test("scaling details: durations, schedule, target, tolerance, fallback")
    func scalingDetails() {
        var scaling = scalingSpec()
        scaling.interval = "every now and then"
        scaling.schedule = "each minute"
        scaling.prometheus?.timeout = "2m"
        scaling.target?.value = "-1"
        scaling.tolerance = 1.5
        scaling.onMetricUnavailable = .fallback
        let fields = Set(ApplicationSpec(image: "x", scaling: scaling).withDefaults.validate().map(\.field))
        #expect(fields == [
            "spec.scaling.interval", "spec.scaling.schedule", "spec.scaling.prometheus.timeout", "spec.scaling.target.value",
            "spec.scaling.tolerance", "spec.scaling.fallback",
        ])
        var fallback = scalingSpec(max: 5)
        fallback.fallback = Fallback(failureThreshold: 0, replicas: 9)
        let fallbackFields = Set(ApplicationSpec(image: "x", scaling: fallback).withDefaults.validate().map(\.field))
        #expect(fallbackFields == ["spec.scaling.fallback.failureThreshold", "spec.scaling.fallback.replicas"])
        #expect(ApplicationSpec(image: "x", scaling: scalingSpec()).withDefaults.validate().isEmpty)
    }

    @Test("durations and quantities parse as Prometheus and Kubernetes write them")
    func parsing() {
        #expect(DurationText.parse("15s") == .seconds(15))
        #expect(DurationText.parse("1m30s") == .seconds(90))
        #expect(DurationText.parse("500ms") == .milliseconds(500))
        #expect(DurationText.parse("2h") == .seconds(7_200))
        for bad in ["", "15", "s", "1x", "-5s", "0s", "1m 30s"] { #expect(DurationText.parse(bad) == nil, "\(bad)") }
        #expect(Quantity.parse("5") == 5)
        #expect(Quantity.parse("500m") == 0.5)
        #expect(Quantity.parse("2k") == 2_000)
        #expect(Quantity.parse("0.25") == 0.25)
        #expect(Quantity.parse("five") == nil)
    }

    @Test("the Application decodes what kubectl would send and encodes without nulls")
    func codable() throws {
        let json = #"{"apiVersion":"tide.dev/v1alpha1","kind":"Application","metadata":{"name":"a"},"spec":{"image":"x","scaling":{"maxReplicas":3,"prometheus":{"address":"http://p:9090","query":"up"},"target":{"type":"Total","value":"10"}}}}"#
        let application = try KubeJSON.decoder.decode(Application.self, from: Data(json.utf8))
        #expect(application.spec.scaling?.target?.type == .total)
        let encoded = String(decoding: try KubeJSON.encoder.encode(application), as: UTF8.self)
        #expect(!encoded.contains("null"))
        #expect(throws: DecodingError.self) {
            try KubeJSON.decoder.decode(Application.self, from: Data(#"{"metadata":{},"spec":{"image":"x","scaling":{"maxReplicas":3,"prometheus":{"address":"a","query":"q"},"target":{"type":"Sideways","value":"1"}}}}"#.utf8))
        }
    }

    static func metricsSpec(_ metrics: [ScalingMetric], min: Int32? = nil) -> Scaling {
        Scaling(minReplicas: min, maxReplicas: 5, metrics: metrics)
    }

    static let rps = ScalingMetric(
        name: "rps", prometheus: PrometheusSource(address: "http://p:9090", query: "sum(x)"), target: MetricTarget(type: .perReplica, value: "5"))
    static let orders = ScalingMetric(
        name: "orders", http: HTTPSource(url: "http://orders:8080/stats", valueLocation: "data.orders"), target: MetricTarget(type: .perReplica, value: "10"))

    @Test("several metrics: each needs one source, a unique DNS-label name, a valid target; the list is bounded; the forms do not mix")
    func severalMetrics() {
        func issues(_ scaling: Scaling) -> [String] { ApplicationSpec(image: "x", scaling: scaling).withDefaults.validate().map(\.description) }
        #expect(issues(Self.metricsSpec([Self.rps, Self.orders])).isEmpty)
        #expect(issues(Self.metricsSpec([Self.rps, Self.orders], min: 0)).isEmpty, "minReplicas 0 is scale to zero")
        var both = Self.rps
        both.http = Self.orders.http
        var neither = Self.rps
        neither.prometheus = nil
        var badName = Self.orders
        badName.name = "Orders_2"
        var badLocation = Self.orders
        badLocation.http?.valueLocation = "data..orders"
        var badURL = Self.orders
        badURL.http?.url = "orders:8080"
        var badActivation = Self.rps
        badActivation.name = "rps2"
        badActivation.activation = "-1"
        var badHeader = Self.orders
        badHeader.name = "orders2"
        badHeader.http?.headers = [HTTPHeaderSource(name: "Authorization", value: "Bearer x"), HTTPHeaderSource(name: "X-Key")]
        let found = issues(Self.metricsSpec([both, neither, Self.rps, badName, badLocation, badURL, badActivation, badHeader]))
        for expected in [
            "spec.scaling.metrics[0]: has two sources; give exactly one of prometheus and http",
            "spec.scaling.metrics[1]: needs a source: prometheus or http",
            "spec.scaling.metrics[2].name: \"rps\" names more than one metric",
            "spec.scaling.metrics[3].name: \"Orders_2\" must be 1-63 lowercase letters, digits and '-', starting with a letter",
            "spec.scaling.metrics[4].http.valueLocation: \"data..orders\" is not a dot-separated path such as data.orders or items.0.count",
            "spec.scaling.metrics[5].http.url: \"orders:8080\" is not an http(s) URL",
            "spec.scaling.metrics[6].activation: must not be negative, got -1",
            "spec.scaling.metrics[7].http.headers[0].name: \"Authorization\" is set by the scaler; use auth for credentials",
            "spec.scaling.metrics[7].http.headers[1]: needs exactly one of value and valueFrom.secretKeyRef",
        ] {
            #expect(found.contains { $0.hasPrefix(expected) }, "missing: \(expected)\nfound: \(found)")
        }
        var mixed = Self.metricsSpec([Self.rps])
        mixed.prometheus = PrometheusSource(address: "http://p:9090", query: "q")
        #expect(issues(mixed).contains("spec.scaling.metrics: give either metrics or prometheus with target, not both"))
        #expect(issues(Self.metricsSpec([])).contains("spec.scaling.metrics: must name at least one metric"))
        let eleven = (0..<11).map { index -> ScalingMetric in
            var metric = Self.rps
            metric.name = "m\(index)"
            return metric
        }
        #expect(issues(Self.metricsSpec(eleven)).contains("spec.scaling.metrics: may name at most 10 metrics, got 11"))
        #expect(issues(Scaling(maxReplicas: 3)).contains("spec.scaling.prometheus: is required (or give metrics): the Prometheus query to scale on"))
        var cooldown = Self.metricsSpec([Self.rps], min: 0)
        cooldown.cooldownPeriod = "a while"
        #expect(issues(cooldown).contains("spec.scaling.cooldownPeriod: \"a while\" is not a duration such as 300s or 5m"))
    }

    @Test("the single-metric form reads as one metric named prometheus; defaults fill each metric")
    func resolvedMetrics() {
        let single = ApplicationSpec(image: "x", scaling: scalingSpec()).withDefaults.scaling
        #expect(single?.resolvedMetrics.map(\.name) == ["prometheus"])
        #expect(single?.resolvedMetrics.first?.prometheus?.timeout == "5s")
        let list = ApplicationSpec(image: "x", scaling: Self.metricsSpec([Self.rps, Self.orders], min: 0)).withDefaults
        #expect(list.scaling?.resolvedMetrics.map(\.name) == ["rps", "orders"])
        #expect(list.scaling?.metrics?.last?.http?.timeout == "5s")
        #expect(list.scaling?.metrics?.allSatisfy { $0.activation == "0" } == true)
        #expect(list.scaling?.cooldownPeriod == "300s")
        #expect(list.effectiveReplicas == 1, "an Application that may scale to zero starts with one replica")
    }
}
