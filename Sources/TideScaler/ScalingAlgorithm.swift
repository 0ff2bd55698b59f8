import Foundation
import KubeAPI
import TideAPI

/// Everything one scaling decision needs; all of it comes from the Application and
/// one metric reading, so a stateless CronJob run decides like a long-running HPA.
public struct ScalingInput: Sendable, Hashable {
    /// Replicas the Application has now (`spec.replicas`).
    public var currentReplicas: Int32
    /// A defaulted, valid scaling spec.
    public var scaling: Scaling
    public var reading: MetricReading
    /// The scaler's memory from `status.scaling`.
    public var history: ScalingStatus
    public var now: Date

    public init(currentReplicas: Int32, scaling: Scaling, reading: MetricReading, history: ScalingStatus = ScalingStatus(), now: Date) {
        self.currentReplicas = currentReplicas
        self.scaling = scaling
        self.reading = reading
        self.history = history
        self.now = now
    }
}

/// The outcome: replicas, why, what limited it, and the state to remember.
public struct ScalingDecision: Sendable, Hashable {
    public var desiredReplicas: Int32
    /// Human-readable explanation, for events and logs.
    public var message: String
    /// `ScalingActive`: whether a metric drove this decision.
    public var active: ConditionValue
    /// `ScalingLimited`: whether a rule changed the computed value.
    public var limited: ConditionValue
    /// `status.scaling` to write back.
    public var history: ScalingStatus
    /// The Event to emit, if any.
    public var event: EventKind?

    public enum EventKind: String, Sendable, Hashable { case scaledUp = "ScaledUp", scaledDown = "ScaledDown", metricUnavailable = "MetricUnavailable" }

    public struct ConditionValue: Sendable, Hashable {
        public var status: Bool
        public var reason: String
        public var message: String

        public init(status: Bool, reason: String, message: String) {
            self.status = status
            self.reason = reason
            self.message = message
        }
    }

    /// Whether `/scale` must be written.
    public func changes(_ current: Int32) -> Bool { desiredReplicas != current }
}

/// The scaling algorithm of DESIGN §4, with the HPA's (autoscaling/v2) semantics for
/// tolerance, stabilization windows and rate policies. Pure: no I/O, no clock.
public enum ScalingAlgorithm {
    public static func decide(_ input: ScalingInput) -> ScalingDecision {
        let scaling = input.scaling
        let current = input.currentReplicas
        let minimum = scaling.minReplicas ?? Defaults.minReplicas
        let maximum = scaling.maxReplicas
        var history = input.history
        let now = Time(input.now)
        history.lastQueryTime = now

        if scaling.paused == true {
            return ScalingDecision(
                desiredReplicas: current, message: "scaling is paused; keeping \(current) replicas",
                active: .init(status: false, reason: "ScalingPaused", message: "spec.scaling.paused is true"),
                limited: .init(status: false, reason: "ScalingPaused", message: "spec.scaling.paused is true"),
                history: pruned(history, scaling: scaling, now: input.now), event: nil)
        }

        switch input.reading {
        case .unavailable(let why):
            let failures = (history.consecutiveFailures ?? 0) + 1
            history.consecutiveFailures = failures
            var desired = current
            var message = "metric unavailable (\(why.reason)): \(why); holding \(current) replicas"
            if scaling.onMetricUnavailable == .fallback, let fallback = scaling.fallback, failures >= fallback.failureThreshold {
                // Never scale down on an unavailable metric.
                let target = min(max(fallback.replicas, minimum), maximum)
                desired = max(current, target)
                message = "metric unavailable \(failures) times in a row (\(why.reason)): \(why); fallback to \(desired) replicas"
            }
            desired = max(desired, minimum)
            if desired != current { record(&history, change: desired - current, at: now) }
            history.desiredReplicas = desired
            return ScalingDecision(
                desiredReplicas: desired, message: message,
                active: .init(status: false, reason: "FailedGetMetric", message: "\(why.reason): \(why)"),
                limited: .init(status: false, reason: "MetricUnavailable", message: "no decision without a metric"),
                history: pruned(history, scaling: scaling, now: input.now), event: .metricUnavailable)

        case .value(let value):
            history.consecutiveFailures = 0
            history.lastMetricValue = format(value)
            let target = Quantity.parse(scaling.target.value) ?? 1
            let tolerance = scaling.tolerance ?? Defaults.tolerance
            // 1. The raw recommendation.
            let raw: Int32
            let ratio: Double
            switch scaling.target.type {
            case .perReplica:
                ratio = current > 0 ? value / (target * Double(current)) : (value > 0 ? .infinity : 1)
                raw = abs(ratio - 1) <= tolerance ? current : clampToInt32((value / target).rounded(.up))
            case .total:
                ratio = value / target
                raw = abs(ratio - 1) <= tolerance ? current : clampToInt32((ratio * Double(max(current, 1))).rounded(.up))
            }
            let explanation = scaling.target.type == .perReplica
                ? "metric \(format(value)) for a target of \(scaling.target.value) per replica"
                : "metric \(format(value)) for a total target of \(scaling.target.value)"

            // 2. Stabilization over the remembered recommendations.
            let behavior = scaling.behavior ?? ScalingBehavior()
            let up = behavior.scaleUp ?? Defaults.scaleUp
            let down = behavior.scaleDown ?? Defaults.scaleDown
            var upRecommendation = raw
            var downRecommendation = raw
            let upWindow = TimeInterval(up.stabilizationWindowSeconds ?? 0)
            let downWindow = TimeInterval(down.stabilizationWindowSeconds ?? 300)
            for recommendation in history.recommendations ?? [] {
                let age = input.now.timeIntervalSince(recommendation.time.date)
                if age < upWindow { upRecommendation = min(upRecommendation, recommendation.replicas) }
                if age < downWindow { downRecommendation = max(downRecommendation, recommendation.replicas) }
            }
            var stabilized = current
            if current < upRecommendation { stabilized = upRecommendation } else if current > downRecommendation { stabilized = downRecommendation }
            history.recommendations = (history.recommendations ?? []) + [.init(time: now, replicas: raw)]

            // 3. Rate policies, then 4. the min/max bounds.
            var desired = stabilized
            var limit: (reason: String, message: String)?
            if stabilized != raw {
                limit = stabilized > raw
                    ? ("ScaleDownStabilized", "recent recommendations were higher; waiting out the \(Int(downWindow)) s scale-down window")
                    : ("ScaleUpStabilized", "recent recommendations were lower; waiting out the \(Int(upWindow)) s scale-up window")
            }
            if desired > current {
                let allowed = scaleUpLimit(current: current, rules: up, events: history.scaleEvents ?? [], now: input.now)
                if desired > allowed {
                    desired = allowed
                    limit = ("ScaleUpLimit", "the scale-up policies allow at most \(allowed) replicas now")
                }
            } else if desired < current {
                let allowed = scaleDownLimit(current: current, rules: down, events: history.scaleEvents ?? [], now: input.now)
                if desired < allowed {
                    desired = allowed
                    limit = ("ScaleDownLimit", "the scale-down policies allow at least \(allowed) replicas now")
                }
            }
            if desired > maximum {
                desired = maximum
                limit = ("TooManyReplicas", "the computed \(stabilized) replicas are above maxReplicas \(maximum)")
            } else if desired < minimum {
                desired = minimum
                limit = ("TooFewReplicas", "the computed \(stabilized) replicas are below minReplicas \(minimum)")
            }

            history.desiredReplicas = desired
            var event: ScalingDecision.EventKind?
            if desired != current {
                record(&history, change: desired - current, at: now)
                history.lastScaleTime = now
                event = desired > current ? .scaledUp : .scaledDown
            }
            let verb = desired > current ? "scaling up to" : desired < current ? "scaling down to" : "keeping"
            var message = "\(explanation) → \(raw) replicas; \(verb) \(desired)"
            if let limit { message += " (\(limit.reason): \(limit.message))" }
            return ScalingDecision(
                desiredReplicas: desired, message: message,
                active: .init(status: true, reason: "ValidMetricFound", message: explanation),
                limited: limit.map { .init(status: true, reason: $0.reason, message: $0.message) }
                    ?? .init(status: false, reason: "DesiredWithinRange", message: "the desired count is within the acceptable range"),
                history: pruned(history, scaling: scaling, now: input.now), event: event)
        }
    }

    /// The most replicas the scale-up policies allow now.
    static func scaleUpLimit(current: Int32, rules: ScalingRules, events: [ScalingStatus.ScaleEvent], now: Date) -> Int32 {
        if rules.selectPolicy == .disabled { return current }
        let policies = rules.policies ?? Defaults.scaleUp.policies!
        var proposals: [Int32] = []
        for policy in policies {
            let added = events.filter { $0.change > 0 && now.timeIntervalSince($0.time.date) < TimeInterval(policy.periodSeconds) }
                .reduce(Int32(0)) { $0 + $1.change }
            let periodStart = current - added
            switch policy.type {
            case .pods: proposals.append(periodStart + policy.value)
            case .percent: proposals.append(clampToInt32((Double(periodStart) * (1 + Double(policy.value) / 100)).rounded(.up)))
            }
        }
        let limit = rules.selectPolicy == .min ? proposals.min() ?? current : proposals.max() ?? current
        return max(limit, current)
    }

    /// The fewest replicas the scale-down policies allow now.
    static func scaleDownLimit(current: Int32, rules: ScalingRules, events: [ScalingStatus.ScaleEvent], now: Date) -> Int32 {
        if rules.selectPolicy == .disabled { return current }
        let policies = rules.policies ?? Defaults.scaleDown.policies!
        var proposals: [Int32] = []
        for policy in policies {
            let removed = events.filter { $0.change < 0 && now.timeIntervalSince($0.time.date) < TimeInterval(policy.periodSeconds) }
                .reduce(Int32(0)) { $0 - $1.change }
            let periodStart = current + removed
            switch policy.type {
            case .pods: proposals.append(periodStart - policy.value)
            case .percent: proposals.append(clampToInt32((Double(periodStart) * (1 - Double(policy.value) / 100)).rounded(.down)))
            }
        }
        // Max selects the policy that allows the most change: the fewest replicas.
        let limit = rules.selectPolicy == .min ? proposals.max() ?? current : proposals.min() ?? current
        return min(limit, current)
    }

    static func record(_ history: inout ScalingStatus, change: Int32, at time: Time) {
        history.scaleEvents = (history.scaleEvents ?? []) + [.init(time: time, change: change)]
    }

    /// Drops recommendations older than the longest stabilization window and scale
    /// events older than the longest policy period.
    static func pruned(_ history: ScalingStatus, scaling: Scaling, now: Date) -> ScalingStatus {
        var history = history
        let behavior = scaling.behavior ?? ScalingBehavior()
        let rules = [behavior.scaleUp ?? Defaults.scaleUp, behavior.scaleDown ?? Defaults.scaleDown]
        let window = TimeInterval(rules.map { $0.stabilizationWindowSeconds ?? 0 }.max() ?? 0)
        let period = TimeInterval(rules.flatMap { $0.policies ?? [] }.map(\.periodSeconds).max() ?? 0)
        history.recommendations = history.recommendations?.filter { now.timeIntervalSince($0.time.date) < max(window, 1) }
        history.scaleEvents = history.scaleEvents?.filter { now.timeIntervalSince($0.time.date) < max(period, 1) }
        if history.recommendations?.isEmpty == true { history.recommendations = nil }
        if history.scaleEvents?.isEmpty == true { history.scaleEvents = nil }
        return history
    }

    static func clampToInt32(_ value: Double) -> Int32 {
        if !value.isFinite { return value > 0 ? Int32.max : 0 }
        return Int32(max(Double(Int32.min), min(Double(Int32.max), value)))
    }

    /// A metric value as it is reported: up to three decimals, no trailing zeros.
    public static func format(_ value: Double) -> String {
        var text = String(format: "%.3f", value)
        while text.contains("."), text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}
