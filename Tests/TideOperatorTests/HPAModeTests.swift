import Foundation
import KubeAPI
import KubeAPIExtensions
import TideAPI
import TideOperator
import Testing

@Suite("Mode HPA: the HorizontalPodAutoscaler instead of a scaler")
struct HPAModeTests {
    let settings = OperatorSettings(scalerImage: "tide:test")

    func hpaSpec(paused: Bool? = nil) -> ApplicationSpec {
        var spec = scaled(.hpa)
        spec.scaling?.minReplicas = 2
        spec.scaling?.prometheus = nil
        spec.scaling?.target = nil
        spec.scaling?.paused = paused
        spec.scaling?.metrics = [
            ScalingMetric(name: "rps", prometheus: PrometheusSource(address: "http://prometheus:9090", query: "sum(rate(x[1m]))"), target: .init(type: .perReplica, value: "5")),
            ScalingMetric(name: "queue", http: HTTPSource(url: "http://hello:8080/q", valueLocation: "depth"), target: .init(type: .total, value: "500m")),
        ]
        spec.scaling?.behavior = ScalingBehavior(scaleDown: ScalingRules(stabilizationWindowSeconds: 120, policies: [.init(type: .percent, value: 50, periodSeconds: 60)]))
        return spec
    }

    @Test("an HPA, from the Application's own Autoscaler, on the Application's /scale with one External metric per Application metric, its bounds and behavior; no scaler; the Deployment runs the Application's replicas")
    func children() throws {
        let app = application(spec: hpaSpec())
        let desired = try Children.desired(for: app, settings: settings, serviceMonitors: false)
        #expect(desired.map(\.description) == ["Deployment hello", "Service hello", "Autoscaler hello"])
        let deployment = try #require(desired.first)
        #expect(deployment.body.value(atPath: ["spec", "replicas"]) == 2, "the Application's count, which the HPA writes through its /scale")
        let scaling = try scalerChildren(for: app)
        #expect(scaling.map(\.description) == ["HorizontalPodAutoscaler hello-scaler"], "no scaler, no scaler RBAC")
        let hpa = try #require(scaling.last).body
        #expect(hpa["apiVersion"] == "autoscaling/v2")
        #expect(hpa.value(atPath: ["spec", "scaleTargetRef"]) == ["apiVersion": "tide.dev/v1alpha1", "kind": "Application", "name": "hello"])
        #expect(hpa.value(atPath: ["spec", "minReplicas"]) == 2)
        #expect(hpa.value(atPath: ["spec", "maxReplicas"]) == 10)
        #expect(hpa.value(atPath: ["spec", "metrics"]) == [
            ["type": "External", "external": ["metric": ["name": "hello-rps"], "target": ["type": "AverageValue", "averageValue": "5"]]],
            ["type": "External", "external": ["metric": ["name": "hello-queue"], "target": ["type": "Value", "value": "500m"]]],
        ])
        // Defaults filled in, as the HPA's own defaults are.
        #expect(hpa.value(atPath: ["spec", "behavior", "scaleDown"]) == [
            "stabilizationWindowSeconds": 120, "selectPolicy": "Max", "policies": [["type": "Percent", "value": 50, "periodSeconds": 60]],
        ])
        #expect(hpa.value(atPath: ["spec", "behavior", "scaleUp", "stabilizationWindowSeconds"]) == 0)
        #expect(hpa.value(atPath: ["metadata", "ownerReferences"])?.arrayValue?.first?["kind"] == "Autoscaler")
        #expect(try #require(app.scalingAutoscaler).spec.validate().isEmpty, "External names are the target Application's")
        // The other modes have a scaler and no HPA; every mode runs the Application's count.
        for mode in [ScalingMode.cronJob, .continuous] {
            var spec = hpaSpec()
            spec.scaling?.mode = mode
            let other = application(spec: spec)
            #expect(!(try scalerChildren(for: other)).contains { $0.resource == HorizontalPodAutoscaler.resource })
            #expect(try Children.desired(for: other, settings: settings, serviceMonitors: false).first?.body.value(atPath: ["spec", "replicas"]) == 2)
        }
    }

    @Test("hpa.metricType Object: one Object metric per Application metric, describing the Application; hpa outside mode HPA is refused; a user's Autoscaler reads its own Object metrics")
    func objectMetrics() throws {
        var spec = hpaSpec()
        spec.scaling?.hpa = HPASettings(metricType: .object)
        let hpa = try #require(try scalerChildren(for: application(spec: spec)).last).body
        let described: JSONValue = ["apiVersion": "tide.dev/v1alpha1", "kind": "Application", "name": "hello"]
        #expect(hpa.value(atPath: ["spec", "metrics"]) == [
            ["type": "Object", "object": ["describedObject": described, "metric": ["name": "rps"], "target": ["type": "AverageValue", "averageValue": "5"]]],
            ["type": "Object", "object": ["describedObject": described, "metric": ["name": "queue"], "target": ["type": "Value", "value": "500m"]]],
        ])
        #expect(spec.withDefaults.validate().isEmpty)
        spec.scaling?.mode = .cronJob
        #expect(spec.withDefaults.validate().map(\.description).contains { $0.hasPrefix("spec.scaling.hpa: applies to mode HPA only") })
        // A user's Autoscaler on a Deployment: Object metrics describing the Autoscaler; External refused.
        var own = try #require(application(spec: hpaSpec()).scalingAutoscaler)
        own.metadata = ObjectMeta(name: "checkout", namespace: "demo")
        own.spec.scaleTargetRef = ScaleTargetReference(apiVersion: "apps/v1", kind: "Deployment", name: "checkout")
        let users = AutoscalerChildren.horizontalPodAutoscaler(for: own)
        #expect(users.spec?.metrics?.first?.object?.describedObject == .init(apiVersion: "tide.dev/v1alpha1", kind: "Autoscaler", name: "checkout"))
        own.spec.scaling.hpa = HPASettings(metricType: .external)
        #expect(own.spec.validate().map(\.field) == ["spec.hpa.metricType"])
    }

    @Test("paused: no HPA, so the replicas stay where they are")
    func paused() throws {
        let app = application(spec: hpaSpec(paused: true))
        #expect(try Children.desired(for: app, settings: settings, serviceMonitors: false).map(\.description) == [
            "Deployment hello", "Service hello", "Autoscaler hello",
        ])
        #expect(try scalerChildren(for: app).isEmpty)
    }

    @Test("what an HPA cannot do is refused in mode HPA, with the reason")
    func refusals() {
        var zero = hpaSpec()
        zero.scaling?.minReplicas = 0
        var fallback = hpaSpec()
        fallback.scaling?.onMetricUnavailable = .fallback
        fallback.scaling?.fallback = Fallback(failureThreshold: 3, replicas: 2)
        var tolerance = hpaSpec()
        tolerance.scaling?.tolerance = 0.2
        var predictive = hpaSpec()
        predictive.scaling?.strategy = .predictive
        var forecast = hpaSpec()
        forecast.scaling?.strategy = .forecast
        let cases: [(ApplicationSpec, String)] = [
            (zero, "spec.scaling.minReplicas: must be at least 1 in mode HPA"),
            (fallback, "spec.scaling.onMetricUnavailable: Fallback is not available in mode HPA"),
            (tolerance, "spec.scaling.tolerance: is cluster-wide in mode HPA"),
            (predictive, "spec.scaling.strategy: Predictive is Tide's scaler's; in mode HPA"),
            (forecast, "spec.scaling.strategy: Forecast is Tide's scaler's; in mode HPA"),
        ]
        for (spec, message) in cases {
            let issues = spec.withDefaults.validate().map(\.description)
            #expect(issues.contains { $0.hasPrefix(message) }, "\(issues)")
        }
        #expect(hpaSpec().withDefaults.validate().isEmpty)
    }

    /// An Application in mode HPA its HorizontalPodAutoscaler scaled to 4 (through its `/scale`).
    var hpaApplication: Application {
        var spec = hpaSpec()
        spec.replicas = 4
        return application(spec: spec)
    }

    func withAutoscaler(_ conditions: [(String, String, String, String)]?) -> Observation {
        var observation = Observation()
        var deployment = Children.deployment(for: hpaApplication)
        deployment.metadata.generation = 1
        deployment.spec?.replicas = 4
        deployment.status = .init(observedGeneration: 1, replicas: 4, updatedReplicas: 4, readyReplicas: 4, availableReplicas: 4)
        observation.deployment = deployment
        if let conditions {
            var hpa = AutoscalerChildren.horizontalPodAutoscaler(for: hpaApplication.scalingAutoscaler!)
            hpa.status = try? JSONValue.object(["conditions": .array(conditions.map {
                ["type": .string($0.0), "status": .string($0.1), "reason": .string($0.2), "message": .string($0.3), "lastTransitionTime": "2026-12-01T10:00:00Z"]
            })]).decode(as: HorizontalPodAutoscaler.Status.self)
            observation.autoscaler = hpa
        }
        return observation
    }

    @Test("the Application's conditions mirror the HPA's; Ready counts the replicas the HPA chose")
    func mirroredConditions() throws {
        let app = hpaApplication
        let failing = StatusBuilder.status(for: app, observation: withAutoscaler([
            ("AbleToScale", "True", "SucceededGetScale", "the HPA controller was able to get the target's current scale"),
            ("ScalingActive", "False", "FailedGetExternalMetric", "the HPA was unable to compute the replica count: unable to get external metric demo/hello-rps"),
        ]))
        let conditions = failing.conditions ?? []
        #expect(conditions[type: "ScalingActive"]?.status == "False")
        #expect(conditions[type: "ScalingActive"]?.reason == "FailedGetExternalMetric")
        #expect(conditions[type: "ScalingActive"]?.message.contains("unable to get external metric demo/hello-rps") == true)
        #expect(conditions[type: "AbleToScale"]?.status == "True")
        #expect(conditions[type: "ScalingLimited"] == nil)
        #expect(conditions[type: "Ready"]?.status == "True", "4 of the HPA's 4 replicas are available")
        #expect(conditions[type: "Ready"]?.message.contains("4 of 4") == true)

        let waiting = StatusBuilder.status(for: app, observation: withAutoscaler(nil)).conditions ?? []
        #expect(waiting[type: "ScalingActive"]?.status == "Unknown")
        #expect(waiting[type: "ScalingActive"]?.reason == "WaitingForAutoscaler")

        // Back to CronJob mode: the HPA-only condition goes; the scaler's are kept as it wrote them.
        var back = app
        back.spec.scaling?.mode = .cronJob
        back.status = failing
        let after = StatusBuilder.status(for: back, observation: Observation()).conditions ?? []
        #expect(after[type: "AbleToScale"] == nil)
        #expect(after[type: "ScalingActive"]?.reason == "FailedGetExternalMetric")
    }
}
