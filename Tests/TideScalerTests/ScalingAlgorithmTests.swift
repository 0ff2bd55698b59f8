import Foundation
import KubeAPI
import TideAPI
import TideScaler
import Testing

let t0 = Date(timeIntervalSince1970: 1_800_000_000)

func scaling(
    min: Int32 = 1, max: Int32 = 10, target: String = "5", type: MetricTargetType = .perReplica,
    behavior: ScalingBehavior? = nil, unavailable: MetricUnavailablePolicy = .hold, fallback: Fallback? = nil, paused: Bool = false
) -> Scaling {
    let spec = Scaling(
        minReplicas: min, maxReplicas: max, prometheus: PrometheusSource(address: "http://p:9090", query: "q"),
        target: MetricTarget(type: type, value: target), behavior: behavior, onMetricUnavailable: unavailable,
        fallback: fallback, paused: paused)
    return ApplicationSpec(image: "x", scaling: spec).withDefaults.scaling!
}

func decide(_ current: Int32, _ reading: MetricReading, _ scaling: Scaling, history: ScalingStatus = ScalingStatus(), at now: Date = t0) -> ScalingDecision {
    ScalingAlgorithm.decide(ScalingInput(currentReplicas: current, scaling: scaling, reading: reading, history: history, now: now))
}

/// Runs a sequence of readings, one per `step` seconds, carrying the history.
func run(_ start: Int32, _ values: [Double], _ scaling: Scaling, step: TimeInterval = 15) -> [Int32] {
    var current = start
    var history = ScalingStatus()
    var result: [Int32] = []
    for (index, value) in values.enumerated() {
        let decision = decide(current, .value(value), scaling, history: history, at: t0.addingTimeInterval(Double(index) * step))
        current = decision.desiredReplicas
        history = decision.history
        result.append(current)
    }
    return result
}

@Suite("Scaling algorithm (HPA semantics)")
struct ScalingAlgorithmTests {
    @Test(
        "PerReplica and Total targets, tolerance band, min/max clamp",
        arguments: [
            // (current, value, type, target, expected)
            (Int32(2), 10.0, MetricTargetType.perReplica, "5", Int32(2)),  // exactly on target
            (2, 10.9, .perReplica, "5", 2),  // within 10%
            (2, 11.5, .perReplica, "5", 3),  // outside the band: ceil(11.5/5)
            (4, 12.5, .perReplica, "5", 3),  // scale down... but the window holds (tested separately); raw is 3
            (2, 200, .perReplica, "5", 6),  // limited by the default scale-up: max(+100%, +4 pods)
            (3, 30, .total, "10", 7),  // Total: ratio 3 × 3 = 9, limited to 3 + 4
            (3, 31, .total, "30", 3),  // within tolerance
            (1, 0.5, .perReplica, "500m", 1),
        ])
    func raw(current: Int32, value: Double, type: MetricTargetType, target: String, expected: Int32) {
        let spec = scaling(target: target, type: type, behavior: ScalingBehavior(scaleDown: ScalingRules(stabilizationWindowSeconds: 0)))
        #expect(decide(current, .value(value), spec).desiredReplicas == expected)
    }

    @Test("the default scale-up allows the larger of +100% or +4 pods per 15 s")
    func defaultScaleUp() {
        let spec = scaling(max: 100)
        #expect(decide(1, .value(500), spec).desiredReplicas == 5, "1 → +4 pods beats +100%")
        #expect(decide(10, .value(500), spec).desiredReplicas == 20, "10 → +100% beats +4 pods")
        // Within one period the additions count: after 1 → 5, at most 5 more (from a start of 1: max(2, 5)) → stays 5.
        let first = decide(1, .value(500), spec)
        let second = decide(5, .value(500), spec, history: first.history, at: t0.addingTimeInterval(5))
        #expect(second.desiredReplicas == 5)
        #expect(second.limited.reason == "ScaleUpLimit")
        let later = decide(5, .value(500), spec, history: first.history, at: t0.addingTimeInterval(16))
        #expect(later.desiredReplicas == 10)
    }

    @Test("the default 300 s scale-down window keeps the highest recent recommendation")
    func scaleDownWindow() {
        let spec = scaling()
        // Load 40 (8 replicas) then drops to 5 (1 replica): stays at 8 for 300 s.
        var values = [40.0]
        values += Array(repeating: 5, count: 25)  // 25 × 15 s = 375 s
        let replicas = run(8, values, spec)
        #expect(replicas[0] == 8)
        #expect(replicas[1...19].allSatisfy { $0 == 8 }, "\(replicas)")  // 15…285 s: the 8 is still in the window
        #expect(replicas[20] == 1, "\(replicas)")  // 300 s: the 8 leaves the window
        let held = decide(8, .value(5), spec, history: decide(8, .value(40), spec).history, at: t0.addingTimeInterval(60))
        #expect(held.limited.reason == "ScaleDownStabilized")
    }

    @Test("a scale-down policy of 1 pod per 60 s steps down one at a time")
    func scaleDownPolicy() {
        let spec = scaling(behavior: ScalingBehavior(scaleDown: ScalingRules(stabilizationWindowSeconds: 0, policies: [ScalingPolicy(type: .pods, value: 1, periodSeconds: 60)])))
        let replicas = run(6, Array(repeating: 1, count: 9), spec, step: 30)
        #expect(replicas == [5, 5, 4, 4, 3, 3, 2, 2, 1])
    }

    @Test("selectPolicy Disabled forbids that direction; Min picks the most conservative policy")
    func selectPolicy() {
        let noUp = scaling(behavior: ScalingBehavior(scaleUp: ScalingRules(selectPolicy: .disabled)))
        #expect(decide(2, .value(100), noUp).desiredReplicas == 2)
        let noDown = scaling(behavior: ScalingBehavior(scaleDown: ScalingRules(stabilizationWindowSeconds: 0, selectPolicy: .disabled)))
        #expect(decide(8, .value(1), noDown).desiredReplicas == 8)
        let cautious = scaling(max: 100, behavior: ScalingBehavior(scaleUp: ScalingRules(selectPolicy: .min)))
        #expect(decide(10, .value(500), cautious).desiredReplicas == 14, "min(+100%, +4) = +4")
    }

    @Test("min and max bounds are applied and reported")
    func bounds() {
        let spec = scaling(min: 2, max: 4, behavior: ScalingBehavior(scaleDown: ScalingRules(stabilizationWindowSeconds: 0)))
        let high = decide(4, .value(100), spec)
        #expect(high.desiredReplicas == 4)
        #expect(high.limited == .init(status: true, reason: "TooManyReplicas", message: "the computed 20 replicas are above maxReplicas 4"))
        let low = decide(3, .value(0), spec)
        #expect(low.desiredReplicas == 2)
        #expect(low.limited.reason == "TooFewReplicas")
        #expect(decide(3, .value(15), spec).limited.reason == "DesiredWithinRange")
    }

    @Test(
        "an unavailable metric holds, never scales down, and counts failures",
        arguments: [
            MetricUnavailable.unreachable("connection refused"), .timeout(.seconds(5)), .httpStatus(503, ""),
            .queryError(errorType: "bad_data", error: "parse error"), .malformedResponse("not JSON"), .emptyResult,
            .multipleSeries(3), .unsupportedResultType("matrix"), .notFinite("NaN"),
        ])
    func unavailableHolds(reason: MetricUnavailable) {
        var history = ScalingStatus()
        history.consecutiveFailures = 4
        let decision = decide(6, .unavailable(reason), scaling(), history: history)
        #expect(decision.desiredReplicas == 6)
        #expect(decision.active.status == false)
        #expect(decision.active.reason == "FailedGetMetric")
        #expect(decision.active.message.contains(reason.reason))
        #expect(decision.event == .metricUnavailable)
        #expect(decision.history.consecutiveFailures == 5)
        #expect(!reason.description.isEmpty)
    }

    @Test("a single metric that cannot be read is named in the condition, the message and the event, as one of several is")
    func singleUnavailableNamed() {
        var spec = scaling()
        spec.prometheus = nil
        spec.target = nil
        spec.metrics = [ScalingMetric(
            name: "orders", http: HTTPSource(url: "http://hello.demo:8080/orders", valueLocation: "data.orders"),
            target: MetricTarget(type: .perReplica, value: "5"))]
        let decision = ScalingAlgorithm.decide(ScalingInput(
            currentReplicas: 3, scaling: spec, readings: ["orders": .unavailable(.unreachable("connection refused"))], history: ScalingStatus(),
            now: Date(timeIntervalSince1970: 1_800_000_000)))
        #expect(decision.desiredReplicas == 3)
        #expect(decision.active.reason == "FailedGetMetric")
        #expect(decision.active.message.hasPrefix("orders: "), "\(decision.active.message)")
        #expect(decision.message.hasPrefix("metric orders unavailable ("), "\(decision.message)")
        // The single-metric form names its one query too.
        let single = decide(3, .unavailable(.emptyResult), scaling())
        #expect(single.active.message.hasPrefix("\(ScalingMetric.singleMetricName): "), "\(single.active.message)")
    }

    @Test("Fallback applies after failureThreshold runs, but never below the current count")
    func fallback() {
        let spec = scaling(unavailable: .fallback, fallback: Fallback(failureThreshold: 3, replicas: 5))
        var history = ScalingStatus()
        var current: Int32 = 2
        var seen: [Int32] = []
        for run in 0..<4 {
            let decision = decide(current, .unavailable(.emptyResult), spec, history: history, at: t0.addingTimeInterval(Double(run) * 60))
            current = decision.desiredReplicas
            history = decision.history
            seen.append(current)
        }
        #expect(seen == [2, 2, 5, 5])
        #expect(decide(8, .unavailable(.emptyResult), spec, history: history).desiredReplicas == 8, "no scale down to the fallback")
        // A good reading resets the failure count.
        #expect(decide(5, .value(25), spec, history: history).history.consecutiveFailures == 0)
    }

    @Test("paused keeps the count and says so")
    func paused() {
        let decision = decide(3, .value(1_000), scaling(paused: true))
        #expect(decision.desiredReplicas == 3)
        #expect(decision.active.reason == "ScalingPaused")
        #expect(decision.event == nil)
    }

    @Test("history is pruned to the longest window and carries the metric and scale time")
    func history() {
        let spec = scaling()
        let first = decide(2, .value(20), spec)
        #expect(first.history.lastMetricValue == "20")
        #expect(first.history.recommendations?.count == 1)
        #expect(first.history.scaleEvents == [.init(time: Time(t0), change: 2)])
        #expect(first.history.lastScaleTime == Time(t0))
        #expect(first.event == .scaledUp)
        let much = decide(4, .value(20), spec, history: first.history, at: t0.addingTimeInterval(400))
        #expect(much.history.recommendations?.count == 1, "the 400 s old recommendation is gone")
        #expect(much.history.scaleEvents == nil, "scale events older than 15 s are gone")
        #expect(ScalingAlgorithm.format(12.5) == "12.5")
        #expect(ScalingAlgorithm.format(1.0 / 3.0) == "0.333")
    }

    /// How a metric value reads in status and `kubectl get`: three decimals at most,
    /// no trailing zeros, no "-0".
    @Test(
        "metric values are written with at most three decimals",
        arguments: [
            (0.0, "0"), (12.5, "12.5"), (1.0 / 3.0, "0.333"), (2.0004, "2"), (2.0005, "2.001"), (-3.25, "-3.25"),
            (-0.0001, "0"), (1_234_567.8915, "1234567.892"), (0.05, "0.05"), (100.0, "100"), (Double.infinity, "inf"),
        ])
    func formatsValues(value: Double, text: String) {
        #expect(ScalingAlgorithm.format(value) == text)
    }
}
