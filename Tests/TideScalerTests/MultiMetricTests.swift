import Foundation
import KubeAPI
import TideAPI
import TideScaler
import Testing

func metric(_ name: String, target: String = "5", type: MetricTargetType = .perReplica, activation: String? = nil) -> ScalingMetric {
    ScalingMetric(
        name: name, http: HTTPSource(url: "http://\(name):8080/stats", valueLocation: "value"), target: MetricTarget(type: type, value: target),
        activation: activation)
}

func several(
    _ metrics: [ScalingMetric], min: Int32 = 1, max: Int32 = 10, cooldown: String? = nil, scaleDownWindow: Int32 = 0,
    unavailable: MetricUnavailablePolicy = .hold, fallback: Fallback? = nil
) -> Scaling {
    let spec = Scaling(
        minReplicas: min, maxReplicas: max, metrics: metrics, cooldownPeriod: cooldown,
        behavior: ScalingBehavior(scaleDown: ScalingRules(stabilizationWindowSeconds: scaleDownWindow)), onMetricUnavailable: unavailable,
        fallback: fallback)
    return ApplicationSpec(image: "x", scaling: spec).withDefaults.scaling!
}

let down = MetricReading.unavailable(.endpointUnreachable("connection refused"))

@Suite("Scaling algorithm: its four steps, several metrics, scale to zero")
struct MultiMetricTests {
    @Test(
        "step 1, recommend: per metric, from its value, target and the tolerance",
        arguments: [
            // (current, value, type, target, expected replicas, active above activation 1)
            (Int32(2), 10.0, MetricTargetType.perReplica, "5", Int32(2), true),
            (2, 30, .perReplica, "5", 6, true),
            (0, 3, .perReplica, "5", 1, true),
            (0, 0, .perReplica, "5", 0, false),
            (4, 2, .total, "1", 8, true),
            (4, 0.5, .total, "1", 2, false),
        ])
    func recommend(current: Int32, value: Double, type: MetricTargetType, target: String, expected: Int32, active: Bool) {
        let result = ScalingAlgorithm.recommend(
            metric("rps", target: target, type: type, activation: "1"), reading: .value(value), current: current, tolerance: 0.1)
        #expect(result.replicas == expected)
        #expect(result.isActive == active)
        #expect(result.explanation.hasPrefix("rps "))
        let unavailable = ScalingAlgorithm.recommend(metric("rps"), reading: down, current: current, tolerance: 0.1)
        #expect(unavailable.replicas == nil && unavailable.isActive == nil)
    }

    @Test("step 2, stabilize: up to the lowest of the up-window, down to the highest of the down-window")
    func stabilize() {
        let history = [ScalingStatus.Recommendation(time: Time(t0.addingTimeInterval(-100)), replicas: 8)]
        let rules = (up: ScalingRules(stabilizationWindowSeconds: 0), down: ScalingRules(stabilizationWindowSeconds: 300))
        let held = ScalingAlgorithm.stabilize(2, current: 8, history: history, up: rules.up, down: rules.down, now: t0)
        #expect(held.replicas == 8 && held.limit?.reason == "ScaleDownStabilized")
        let later = ScalingAlgorithm.stabilize(2, current: 8, history: history, up: rules.up, down: rules.down, now: t0.addingTimeInterval(250))
        #expect(later.replicas == 2 && later.limit == nil)
        let up = ScalingAlgorithm.stabilize(9, current: 8, history: history, up: rules.up, down: rules.down, now: t0)
        #expect(up.replicas == 9 && up.limit == nil)
    }

    @Test("step 3, rate-limit: the policies bound each direction; step 4, clamp: min and max")
    func rateLimitAndClamp() {
        let up = ScalingRules(selectPolicy: .max, policies: [ScalingPolicy(type: .pods, value: 2, periodSeconds: 60)])
        let down = ScalingRules(selectPolicy: .max, policies: [ScalingPolicy(type: .percent, value: 50, periodSeconds: 60)])
        #expect(ScalingAlgorithm.rateLimit(9, current: 3, up: up, down: down, events: [], now: t0).replicas == 5)
        let recent = [ScalingStatus.ScaleEvent(time: Time(t0.addingTimeInterval(-10)), change: 2)]
        #expect(ScalingAlgorithm.rateLimit(9, current: 5, up: up, down: down, events: recent, now: t0).replicas == 5)
        #expect(ScalingAlgorithm.rateLimit(1, current: 8, up: up, down: down, events: [], now: t0).replicas == 4)
        #expect(ScalingAlgorithm.rateLimit(4, current: 4, up: up, down: down, events: [], now: t0).limit == nil)
        #expect(ScalingAlgorithm.clamp(12, minimum: 1, maximum: 10) == ScalingStep(replicas: 10, limit: .init(
            reason: "TooManyReplicas", message: "the computed 12 replicas are above maxReplicas 10")))
        #expect(ScalingAlgorithm.clamp(0, minimum: 2, maximum: 10).replicas == 2)
        #expect(ScalingAlgorithm.clamp(5, minimum: 2, maximum: 10).limit == nil)
    }

    @Test(
        "several metrics: the largest recommendation wins, and the decision names it",
        arguments: [
            // (rps value, orders value, expected replicas, driver)
            (30.0, 10.0, Int32(6), "rps"),
            (5.0, 80.0, 8, "orders"),
            (20.0, 40.0, 4, "rps"),  // equal: the first in spec order
        ])
    func largestWins(rps: Double, orders: Double, expected: Int32, driver: String) {
        let spec = several([metric("rps"), metric("orders", target: "10")])
        let decision = ScalingAlgorithm.decide(ScalingInput(
            currentReplicas: 4, scaling: spec, readings: ["rps": .value(rps), "orders": .value(orders)], now: t0))
        #expect(decision.desiredReplicas == expected)
        #expect(decision.history.drivingMetric == driver)
        #expect(decision.active.message.hasPrefix("\(driver) drove the decision"))
        #expect(decision.message.contains("the largest of 2 metrics"))
        #expect(decision.history.summary == "rps=\(ScalingAlgorithm.format(rps)) orders=\(ScalingAlgorithm.format(orders)) (by \(driver))")
        #expect(decision.history.metrics?.map(\.name) == ["rps", "orders"])
        #expect(decision.history.metrics?.allSatisfy { $0.time == Time(t0) && $0.unavailableReason == nil } == true)
    }

    @Test("one metric unavailable: scale up on the others, never down; the failing one is named; its last value is kept")
    func oneUnavailable() {
        let spec = several([metric("rps"), metric("orders", target: "10")])
        var history = ScalingStatus()
        history.metrics = [.init(name: "orders", value: "70", time: Time(t0.addingTimeInterval(-60)))]
        let hold = ScalingAlgorithm.decide(ScalingInput(currentReplicas: 6, scaling: spec, readings: ["rps": .value(5), "orders": down], history: history, now: t0))
        #expect(hold.desiredReplicas == 6, "rps alone asks for 1; orders unknown: no scale-down")
        #expect(hold.limited.reason == "MetricUnavailable")
        #expect(hold.limited.message.contains("orders"))
        #expect(hold.active.status && hold.active.message.contains("unavailable: orders (EndpointUnreachable)"))
        #expect(hold.event == .metricUnavailable)
        #expect(hold.history.consecutiveFailures == 1)
        #expect(hold.history.summary == "rps=5 orders=unavailable (by rps)")
        #expect(hold.history.metrics?.last == .init(name: "orders", value: "70", time: Time(t0.addingTimeInterval(-60)), unavailableReason: "EndpointUnreachable"))
        let up = ScalingAlgorithm.decide(ScalingInput(currentReplicas: 2, scaling: spec, readings: ["rps": .value(40), "orders": down], now: t0))
        #expect(up.desiredReplicas == 6, "rps asks for 8, limited to +4 pods")
        #expect(up.event == .scaledUp)
        #expect(up.message.contains("unavailable: orders"))
        let none = ScalingAlgorithm.decide(ScalingInput(currentReplicas: 3, scaling: spec, readings: ["rps": down, "orders": down], now: t0))
        #expect(none.desiredReplicas == 3 && none.active.reason == "FailedGetMetric")
        #expect(none.message.hasPrefix("no metric could be read: rps (EndpointUnreachable)"))
        let fallback = several([metric("rps"), metric("orders")], unavailable: .fallback, fallback: Fallback(failureThreshold: 1, replicas: 5))
        #expect(ScalingAlgorithm.decide(ScalingInput(currentReplicas: 3, scaling: fallback, readings: ["rps": .value(1), "orders": down], now: t0))
            .desiredReplicas == 3, "with one metric readable the decision holds; the fallback is for no metric at all")
        #expect(ScalingAlgorithm.decide(ScalingInput(currentReplicas: 3, scaling: fallback, readings: [:], now: t0)).desiredReplicas == 5)
    }

    /// Runs readings one per `step` seconds from `start` replicas, carrying the history.
    func replay(_ spec: Scaling, from start: Int32, _ readings: [[String: MetricReading]], step: TimeInterval = 15) -> [ScalingDecision] {
        var current = start
        var history = ScalingStatus()
        var decisions: [ScalingDecision] = []
        for (index, reading) in readings.enumerated() {
            let decision = ScalingAlgorithm.decide(ScalingInput(
                currentReplicas: current, scaling: spec, readings: reading, history: history, now: t0.addingTimeInterval(Double(index) * step)))
            current = decision.desiredReplicas
            history = decision.history
            decisions.append(decision)
        }
        return decisions
    }

    @Test("scale to zero: only after every metric stayed at or below activation for the cooldown; back when one rises")
    func scaleToZero() {
        let spec = several([metric("rps", activation: "1"), metric("queue", target: "10", activation: "0")], min: 0, cooldown: "60s")
        let quiet: [String: MetricReading] = ["rps": .value(0.5), "queue": .value(0)]
        let busy: [String: MetricReading] = ["rps": .value(12), "queue": .value(0)]
        let decisions = replay(spec, from: 2, [quiet, quiet, quiet, quiet, quiet, quiet, busy, quiet])
        #expect(decisions.map(\.desiredReplicas) == [1, 1, 1, 1, 0, 0, 3, 1], "\(decisions.map(\.message))")
        #expect(decisions[0].history.inactiveSince == Time(t0))
        #expect(decisions[4].event == .scaledToZero)
        #expect(decisions[4].message.contains("at or below its activation value for 60 s"))
        #expect(decisions[5].event == nil && decisions[5].active.reason == "ScaledToZero")
        #expect(decisions[6].event == .scaledFromZero && decisions[6].history.inactiveSince == nil)
        #expect(decisions[7].history.inactiveSince != nil, "the cooldown starts again")

        // A flap above activation restarts the cooldown.
        let flapping = replay(spec, from: 1, [quiet, quiet, quiet, ["rps": .value(2), "queue": .value(0)], quiet, quiet, quiet, quiet])
        #expect(flapping.map(\.desiredReplicas).allSatisfy { $0 >= 1 }, "\(flapping.map(\.desiredReplicas))")
        // Never to zero on an unavailable metric, and an unavailable metric restarts the cooldown.
        let failing: [String: MetricReading] = ["rps": .value(0), "queue": down]
        let outage = replay(spec, from: 1, Array(repeating: failing, count: 10))
        #expect(outage.allSatisfy { $0.desiredReplicas == 1 && $0.history.inactiveSince == nil })
        // At zero, an unavailable metric keeps zero (nothing is known to be waiting) unless another activates.
        let atZero = ScalingAlgorithm.decide(ScalingInput(currentReplicas: 0, scaling: spec, readings: ["rps": down, "queue": .value(0)], now: t0))
        #expect(atZero.desiredReplicas == 0)
        let activated = ScalingAlgorithm.decide(ScalingInput(currentReplicas: 0, scaling: spec, readings: ["rps": down, "queue": .value(25)], now: t0))
        #expect(activated.desiredReplicas == 3 && activated.event == .scaledFromZero)
    }

    @Test("to zero through one: from several replicas the scale-down behavior takes the count to one, and only the cooldown takes 1 → 0")
    func toZeroThroughOne() {
        // A scale-down window of 60 s and at most one pod removed per 15 s.
        var spec = several([metric("rps", activation: "1")], min: 0, cooldown: "30s", scaleDownWindow: 60)
        spec.behavior?.scaleDown?.policies = [ScalingPolicy(type: .pods, value: 1, periodSeconds: 15)]
        let busy: [String: MetricReading] = ["rps": .value(20)]
        let quiet: [String: MetricReading] = ["rps": .value(0)]
        // Busy for 30 s (4 replicas), then quiet from +30 s: the cooldown ends at +60 s, the
        // busy recommendations leave the window at +75 s.
        let decisions = replay(spec, from: 4, [busy, busy] + Array(repeating: quiet, count: 12))
        let counts = decisions.map(\.desiredReplicas)
        #expect(counts == [4, 4, 4, 4, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0], "\(decisions.map(\.message))")
        // Never more than one pod a step, whatever the cooldown says.
        #expect(zip([4] + counts, counts).allSatisfy { $0 - $1 <= 1 })
        #expect(decisions[3].message.contains("to zero from 1 replica once the cooldown (30 s) has passed (15 s so far)"), "\(decisions[3].message)")
        #expect(decisions[5].event == .scaledDown, "\(decisions[5].message)")
        #expect(decisions[5].message.contains("down to 1 replica as the scale-down behavior allows, then to zero"), "\(decisions[5].message)")
        #expect(decisions[8].event == .scaledToZero && decisions[8].message.contains("scaling the last replica to zero"), "\(decisions[8].message)")
    }

    @Test("without minReplicas 0 nothing goes to zero, however quiet")
    func noZeroWithoutOptIn() {
        let spec = several([metric("rps", activation: "1")], min: 1, cooldown: "15s")
        let decisions = replay(spec, from: 3, Array(repeating: ["rps": .value(0)], count: 8))
        #expect(decisions.last?.desiredReplicas == 1)
        #expect(decisions.allSatisfy { $0.event != .scaledToZero })
    }
}
