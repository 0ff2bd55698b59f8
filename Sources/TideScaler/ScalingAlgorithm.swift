#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import TideAPI

/// Everything one scaling decision needs; all of it comes from the Application and
/// one reading per metric, so a stateless CronJob run decides like a long-running HPA.
public struct ScalingInput: Sendable, Hashable {
    /// Replicas the Application has now (`spec.replicas`).
    public var currentReplicas: Int32
    /// A defaulted, valid scaling spec.
    public var scaling: Scaling
    /// One reading per metric name; a metric without one counts as unavailable.
    public var readings: [String: MetricReading]
    /// The scaler's memory from `status.scaling`.
    public var history: ScalingStatus
    public var now: Date
    /// Replicas ready now (`status.readyReplicas`), for strategy Predictive's pod start
    /// time; `nil` when unknown.
    public var readyReplicas: Int32?
    /// When the ready count reached the pending scale-up, as the operator recorded it
    /// (`status.scaleUpReady`); Predictive measures the pod start from it, and from
    /// ``readyReplicas`` at ``now`` only when the operator has not recorded it.
    public var scaleUpReady: ScalingStatus.Recommendation?
    /// What Prometheus recorded of each metric before ``now``, by name: strategy
    /// Predictive's half-hour line (``RecentTrend``) and strategy Forecast's pattern;
    /// empty for strategy HPA and for a metric without history.
    public var metricHistory: [String: MetricHistory]

    public init(
        currentReplicas: Int32, scaling: Scaling, readings: [String: MetricReading], history: ScalingStatus = ScalingStatus(), now: Date,
        readyReplicas: Int32? = nil, scaleUpReady: ScalingStatus.Recommendation? = nil, metricHistory: [String: MetricHistory] = [:]
    ) {
        self.currentReplicas = currentReplicas
        self.scaling = scaling
        self.readings = readings
        self.history = history
        self.now = now
        self.readyReplicas = readyReplicas
        self.scaleUpReady = scaleUpReady
        self.metricHistory = metricHistory
    }

    /// Every metric reads `reading` (the single-metric form), and has `metricHistory`
    /// if given.
    public init(
        currentReplicas: Int32, scaling: Scaling, reading: MetricReading, history: ScalingStatus = ScalingStatus(), now: Date,
        readyReplicas: Int32? = nil, scaleUpReady: ScalingStatus.Recommendation? = nil, metricHistory: MetricHistory? = nil
    ) {
        let names = scaling.resolvedMetrics.map(\.name)
        self.init(
            currentReplicas: currentReplicas, scaling: scaling,
            readings: Dictionary(names.map { ($0, reading) }, uniquingKeysWith: { first, _ in first }),
            history: history, now: now, readyReplicas: readyReplicas, scaleUpReady: scaleUpReady,
            metricHistory: metricHistory.map { history in Dictionary(names.map { ($0, history) }, uniquingKeysWith: { first, _ in first }) } ?? [:])
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
    /// Each metric's step-1 result, in spec order.
    public var recommendations: [MetricRecommendation] = []
    /// The strategy's own condition (strategy Forecast's `ForecastConfident`), if it has one.
    public var strategyCondition: StrategyCondition?

    public enum EventKind: String, Sendable, Hashable {
        case scaledUp = "ScaledUp", scaledDown = "ScaledDown", metricUnavailable = "MetricUnavailable"
        case scaledToZero = "ScaledToZero", scaledFromZero = "ScaledFromZero"
    }

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

    /// The metrics that could not be read.
    public var unavailableMetrics: [MetricRecommendation] { recommendations.filter { $0.replicas == nil } }
}

/// Step 1's result for one metric.
public struct MetricRecommendation: Sendable, Hashable {
    public var metric: String
    public var reading: MetricReading
    /// The replicas this metric asks for; `nil` when it could not be read.
    public var replicas: Int32?
    /// E.g. `rps=30 for a target of 5 per replica → 6`.
    public var explanation: String
    /// Whether the value is above the metric's activation value (`nil` when unavailable).
    public var isActive: Bool?
}

/// The result of one of steps 2–4: the replicas it allows, and the rule that changed
/// them, if one did.
public struct ScalingStep: Sendable, Hashable {
    public var replicas: Int32
    public var limit: Limit?

    public init(replicas: Int32, limit: Limit? = nil) {
        self.replicas = replicas
        self.limit = limit
    }

    public struct Limit: Sendable, Hashable {
        /// `ScalingLimited`'s reason, e.g. `ScaleUpLimit`.
        public var reason: String
        public var message: String

        public init(reason: String, message: String) {
            self.reason = reason
            self.message = message
        }
    }
}

/// The scaling algorithm (docs/architecture.md, "The path of a decision"), with the HPA's (autoscaling/v2) semantics for
/// tolerance, several metrics, stabilization windows and rate policies, and KEDA's for
/// scale to zero. Pure: no I/O, no clock. Its four steps are separate functions:
/// ``recommend(_:reading:current:tolerance:)``, ``stabilize(_:current:history:up:down:now:)``,
/// ``rateLimit(_:current:up:down:events:now:)`` and ``clamp(_:minimum:maximum:)``. The
/// strategy (``DecisionStrategy``: ``HPAStrategy``, ``PredictiveStrategy``) adjusts each
/// metric's recommendation in step 1, sets the scale-down rules of step 2, and
/// remembers what it needs after the decision.
public enum ScalingAlgorithm {
    public static func decide(_ input: ScalingInput) -> ScalingDecision {
        decide(input, using: (input.scaling.strategy ?? .hpa).type.init(input: input))
    }

    /// The decision with `strategy` deciding, whatever the spec names (a replay's).
    public static func decide(_ input: ScalingInput, using strategy: any DecisionStrategy) -> ScalingDecision {
        var decision = decide(input, strategy: strategy)
        if input.scaling.paused != true {
            decision.history = strategy.remember(decision.history, desired: decision.desiredReplicas, input: input)
        }
        decision.history = type(of: strategy).forgettingOthers(decision.history)
        decision.strategyCondition = strategy.condition
        return decision
    }

    /// The decision before the strategy remembers it: the four steps, with `strategy`'s
    /// hooks in steps 1 and 2.
    static func decide(_ input: ScalingInput, strategy: any DecisionStrategy) -> ScalingDecision {
        let scaling = input.scaling
        let current = input.currentReplicas
        let minimum = scaling.minReplicas ?? Defaults.minReplicas
        let maximum = scaling.maxReplicas
        var history = input.history
        let now = Time(input.now)
        history.lastQueryTime = now
        let behavior = scaling.behavior ?? ScalingBehavior()
        // The strategy's scale-down rules: its window can be longer than the spec's
        // (Predictive holds at least 60 s), and the memory must cover it.
        let down = strategy.scaleDownRules(behavior.scaleDown ?? Defaults.scaleDown)

        if scaling.paused == true {
            return ScalingDecision(
                desiredReplicas: current, message: "scaling is paused; keeping \(current) replicas",
                active: .init(status: false, reason: "ScalingPaused", message: "spec.scaling.paused is true"),
                limited: .init(status: false, reason: "ScalingPaused", message: "spec.scaling.paused is true"),
                history: pruned(history, scaling: scaling, down: down, now: input.now), event: nil)
        }

        // 1. One recommendation per metric, as the strategy adjusts it.
        let recommendations = recommendations(input, strategy: strategy)
        history.metrics = recommendations.map { recommendation in
            let previous = input.history.metrics?.first { $0.name == recommendation.metric }
            switch recommendation.reading {
            case .value(let value): return .init(name: recommendation.metric, value: format(value), time: now)
            case .unavailable(let why):
                return .init(name: recommendation.metric, value: previous?.value, time: previous?.time, unavailableReason: why.reason)
            }
        }
        let unavailable = recommendations.filter { $0.replicas == nil }
        let failing = unavailable.map { "\($0.metric) (\($0.reading.unavailable?.reason ?? "")): \($0.explanation)" }.joined(separator: "; ")
        history.consecutiveFailures = unavailable.isEmpty ? 0 : (history.consecutiveFailures ?? 0) + 1
        // The driver: the largest recommendation (the first of equals, in spec order).
        guard let driver = recommendations.reduce(nil, { (best: MetricRecommendation?, next) in
            guard let replicas = next.replicas else { return best }
            return (best?.replicas ?? Int32.min) >= replicas ? best : next
        }), let driverReplicas = driver.replicas, let driverValue = driver.reading.value
        else {
            return unavailableDecision(
                input, history: history, minimum: minimum, maximum: maximum, failing: failing, recommendations: recommendations, down: down)
        }
        history.lastMetricValue = format(driverValue)
        history.drivingMetric = driver.metric
        history.summary = summary(recommendations, driver: driver.metric)
        let several = recommendations.count > 1
        let explanation = several ? "\(driver.explanation) (the largest of \(recommendations.count) metrics)" : driver.explanation
        var activeMessage = several ? "\(driver.metric) drove the decision: \(driver.explanation)" : driver.explanation
        if !unavailable.isEmpty { activeMessage += "; unavailable: \(failing)" }
        let active = ScalingDecision.ConditionValue(status: true, reason: "ValidMetricFound", message: activeMessage)

        var raw = driverReplicas
        var limit: ScalingStep.Limit?
        if !unavailable.isEmpty, raw < current {
            // HPA since 1.21: never scale down while a metric is unknown.
            raw = current
            limit = .init(
                reason: "MetricUnavailable",
                message: "not scaling down while \(unavailable.map(\.metric).joined(separator: ", ")) cannot be read")
        }

        let towardZero: String?
        switch scaleToZero(
            input, history: &history, recommendations: recommendations, unavailable: unavailable, activeMessage: activeMessage, down: down)
        {
        case .decided(let decision): return decision
        case .continuing(let note): towardZero = note
        }

        // 2. Stabilize (in the strategy's scale-down rules), 3. rate-limit (from zero, as
        // if from one), 4. clamp (to at least one: zero is only reached by the cooldown).
        let up = behavior.scaleUp ?? Defaults.scaleUp
        let stabilized = stabilize(raw, current: current, history: history.recommendations ?? [], up: up, down: down, now: input.now)
        history.recommendations = (history.recommendations ?? []) + [.init(time: now, replicas: raw)]
        let limited = rateLimit(stabilized.replicas, current: max(current, 1), up: up, down: down, events: history.scaleEvents ?? [], now: input.now)
        let clamped = clamp(limited.replicas, minimum: max(minimum, 1), maximum: maximum, computed: stabilized.replicas)
        limit = clamped.limit ?? limited.limit ?? stabilized.limit ?? limit
        let desired = clamped.replicas

        history.desiredReplicas = desired
        var event: ScalingDecision.EventKind?
        if desired != current {
            record(&history, change: desired - current, at: now)
            history.lastScaleTime = now
            event = current == 0 ? .scaledFromZero : desired > current ? .scaledUp : .scaledDown
        } else if !unavailable.isEmpty {
            event = .metricUnavailable
        }
        let verb = desired > current ? "scaling up to" : desired < current ? "scaling down to" : "keeping"
        var message = "\(explanation); \(verb) \(desired)"
        if let limit { message += " (\(limit.reason): \(limit.message))" }
        if !unavailable.isEmpty, limit?.reason != "MetricUnavailable" { message += "; unavailable: \(failing)" }
        if let towardZero { message += "; \(towardZero)" }
        return ScalingDecision(
            desiredReplicas: desired, message: message, active: active,
            limited: limit.map { .init(status: true, reason: $0.reason, message: $0.message) }
                ?? .init(status: false, reason: "DesiredWithinRange", message: "the desired count is within the acceptable range"),
            history: pruned(history, scaling: scaling, down: down, now: input.now), event: event, recommendations: recommendations)
    }

    /// Step 1 for every metric: the reactive recommendation, then the strategy's.
    static func recommendations(_ input: ScalingInput, strategy: any DecisionStrategy) -> [MetricRecommendation] {
        let tolerance = input.scaling.tolerance ?? Defaults.tolerance
        return input.scaling.resolvedMetrics.map { metric in
            let reading = input.readings[metric.name] ?? .unavailable(.credentialsUnavailable("the scaler did not read it"))
            let reactive = recommend(metric, reading: reading, current: input.currentReplicas, tolerance: tolerance)
            guard reactive.replicas != nil else { return reactive }
            return strategy.adjust(reactive, for: metric, current: input.currentReplicas, tolerance: tolerance, input: input)
        }
    }

    /// What scale to zero decides: a decision of its own (stay at zero, or the last
    /// replica to zero), or the ordinary steps, with a note for the message.
    enum ZeroStep {
        case decided(ScalingDecision)
        case continuing(note: String?)
    }

    /// Scale to zero and back (minReplicas 0): KEDA's activation and cooldown. Only the
    /// last replica goes by the cooldown: from more, the count first falls to one
    /// through the ordinary steps, so the scale-down behavior (stabilization window, rate
    /// policies) holds on the way to zero as on every other way down.
    static func scaleToZero(
        _ input: ScalingInput, history: inout ScalingStatus, recommendations: [MetricRecommendation], unavailable: [MetricRecommendation],
        activeMessage: String, down: ScalingRules
    ) -> ZeroStep {
        let scaling = input.scaling
        let current = input.currentReplicas
        let now = Time(input.now)
        var towardZero: String?
        if scaling.minReplicas ?? Defaults.minReplicas == 0 {
            let activeMetrics = recommendations.filter { $0.isActive == true }
            if current == 0, activeMetrics.isEmpty {
                history.inactiveSince = history.inactiveSince ?? now
                history.desiredReplicas = 0
                return .decided(ScalingDecision(
                    desiredReplicas: 0, message: "every metric is at or below its activation value (\(history.summary ?? "")); keeping 0 replicas",
                    active: .init(
                        status: false, reason: "ScaledToZero",
                        message: "every metric is at or below its activation value; 0 replicas until one rises above it"),
                    limited: .init(status: false, reason: "DesiredWithinRange", message: "the desired count is within the acceptable range"),
                    history: pruned(history, scaling: scaling, down: down, now: input.now), event: nil, recommendations: recommendations))
            }
            if current > 0, activeMetrics.isEmpty, unavailable.isEmpty {
                let since = history.inactiveSince ?? now
                history.inactiveSince = since
                let cooldown = DurationText.parse(scaling.cooldownPeriod ?? Defaults.cooldownPeriod)?.inSeconds ?? 300
                let quiet = input.now.timeIntervalSince(since.date)
                if quiet >= cooldown, current == 1 {
                    record(&history, change: -current, at: now)
                    history.lastScaleTime = now
                    history.desiredReplicas = 0
                    history.recommendations = nil
                    return .decided(ScalingDecision(
                        desiredReplicas: 0,
                        message: "every metric has been at or below its activation value for \(Int(quiet)) s (cooldown \(Int(cooldown)) s); scaling the last replica to zero",
                        active: .init(status: true, reason: "ValidMetricFound", message: activeMessage),
                        limited: .init(status: false, reason: "DesiredWithinRange", message: "the desired count is within the acceptable range"),
                        history: pruned(history, scaling: scaling, down: down, now: input.now), event: .scaledToZero,
                        recommendations: recommendations))
                }
                towardZero = quiet >= cooldown
                    ? "every metric has been at or below its activation value for \(Int(quiet)) s: down to 1 replica as the scale-down behavior allows, then to zero"
                    : "every metric is at or below its activation value: to zero from 1 replica once the cooldown (\(Int(cooldown)) s) has passed (\(Int(quiet)) s so far)"
            } else {
                history.inactiveSince = nil
            }
        }
        return .continuing(note: towardZero)
    }

    /// No metric could be read: hold, or the fallback once failures reach its
    /// threshold. Never down, and never to zero.
    static func unavailableDecision(
        _ input: ScalingInput, history: ScalingStatus, minimum: Int32, maximum: Int32, failing: String,
        recommendations: [MetricRecommendation], down: ScalingRules
    ) -> ScalingDecision {
        var history = history
        let scaling = input.scaling
        let current = input.currentReplicas
        let failures = history.consecutiveFailures ?? 1
        let now = Time(input.now)
        history.summary = summary(recommendations, driver: nil)
        history.inactiveSince = nil
        var desired = current
        let several = recommendations.count > 1
        // One metric or several, the failing one is named: in the message, the event and
        // the ScalingActive condition.
        let name = recommendations.first.map { "\($0.metric) " } ?? ""
        let detail = recommendations.first.map { "(\($0.reading.unavailable?.reason ?? "")): \($0.explanation)" } ?? ""
        var message = several ? "no metric could be read: \(failing); holding \(current) replicas" : "metric \(name)unavailable \(detail); holding \(current) replicas"
        if scaling.onMetricUnavailable == .fallback, let fallback = scaling.fallback, failures >= fallback.failureThreshold {
            let target = min(max(fallback.replicas, minimum), maximum)
            desired = max(current, target)
            message = several
                ? "no metric could be read \(failures) times in a row: \(failing); fallback to \(desired) replicas"
                : "metric \(name)unavailable \(failures) times in a row \(detail); fallback to \(desired) replicas"
        }
        desired = max(desired, minimum)
        if desired != current { record(&history, change: desired - current, at: now) }
        history.desiredReplicas = desired
        let reasons = recommendations.map { "\($0.metric): \($0.reading.unavailable?.reason ?? ""): \($0.explanation)" }.joined(separator: "; ")
        return ScalingDecision(
            desiredReplicas: desired, message: message,
            active: .init(status: false, reason: "FailedGetMetric", message: reasons),
            limited: .init(status: false, reason: "MetricUnavailable", message: "no decision without a metric"),
            history: pruned(history, scaling: scaling, down: down, now: input.now), event: .metricUnavailable, recommendations: recommendations)
    }

    /// Step 1: the replicas one metric asks for. Inside `1 ± tolerance` of the target
    /// it asks for `current`; PerReplica asks for `ceil(value / target)`, Total for
    /// `ceil(value / target × current)`.
    public static func recommend(_ metric: ScalingMetric, reading: MetricReading, current: Int32, tolerance: Double) -> MetricRecommendation {
        guard let value = reading.value else {
            return MetricRecommendation(
                metric: metric.name, reading: reading, replicas: nil, explanation: reading.unavailable?.description ?? "", isActive: nil)
        }
        let target = Quantity.parse(metric.target.value) ?? 1
        let activation = Quantity.parse(metric.activation ?? Defaults.activation) ?? 0
        let raw: Int32
        switch metric.target.type {
        case .perReplica:
            let ratio = current > 0 ? value / (target * Double(current)) : (value > 0 ? .infinity : 1)
            raw = abs(ratio - 1) <= tolerance ? current : clampToInt32((value / target).rounded(.up))
        case .total:
            let ratio = value / target
            raw = abs(ratio - 1) <= tolerance ? current : clampToInt32((ratio * Double(max(current, 1))).rounded(.up))
        }
        let name = metric.name == ScalingMetric.singleMetricName ? "metric" : metric.name
        let explanation = metric.target.type == .perReplica
            ? "\(name) \(format(value)) for a target of \(metric.target.value) per replica → \(raw) replicas"
            : "\(name) \(format(value)) for a total target of \(metric.target.value) → \(raw) replicas"
        return MetricRecommendation(metric: metric.name, reading: reading, replicas: raw, explanation: explanation, isActive: value > activation)
    }

    /// Step 2: the stabilization windows over the remembered recommendations — up to
    /// the lowest of the up-window, down to the highest of the down-window.
    public static func stabilize(
        _ recommended: Int32, current: Int32, history: [ScalingStatus.Recommendation], up: ScalingRules, down: ScalingRules, now: Date
    ) -> ScalingStep {
        var upRecommendation = recommended
        var downRecommendation = recommended
        let upWindow = TimeInterval(up.stabilizationWindowSeconds ?? 0)
        let downWindow = TimeInterval(down.stabilizationWindowSeconds ?? 300)
        for recommendation in history {
            let age = now.timeIntervalSince(recommendation.time.date)
            if age < upWindow { upRecommendation = min(upRecommendation, recommendation.replicas) }
            if age < downWindow { downRecommendation = max(downRecommendation, recommendation.replicas) }
        }
        var stabilized = current
        if current < upRecommendation { stabilized = upRecommendation } else if current > downRecommendation { stabilized = downRecommendation }
        guard stabilized != recommended else { return ScalingStep(replicas: stabilized) }
        return ScalingStep(
            replicas: stabilized,
            limit: stabilized > recommended
                ? .init(reason: "ScaleDownStabilized", message: "recent recommendations were higher; waiting out the \(Int(downWindow)) s scale-down window")
                : .init(reason: "ScaleUpStabilized", message: "recent recommendations were lower; waiting out the \(Int(upWindow)) s scale-up window"))
    }

    /// Step 3: the rate policies, using the remembered scale events.
    public static func rateLimit(
        _ proposed: Int32, current: Int32, up: ScalingRules, down: ScalingRules, events: [ScalingStatus.ScaleEvent], now: Date
    ) -> ScalingStep {
        if proposed > current {
            let allowed = scaleUpLimit(current: current, rules: up, events: events, now: now)
            if proposed > allowed {
                return ScalingStep(replicas: allowed, limit: .init(reason: "ScaleUpLimit", message: "the scale-up policies allow at most \(allowed) replicas now"))
            }
        } else if proposed < current {
            let allowed = scaleDownLimit(current: current, rules: down, events: events, now: now)
            if proposed < allowed {
                return ScalingStep(replicas: allowed, limit: .init(reason: "ScaleDownLimit", message: "the scale-down policies allow at least \(allowed) replicas now"))
            }
        }
        return ScalingStep(replicas: proposed)
    }

    /// Step 4: the min/max bounds. `computed` is the count the message names (what
    /// the metrics asked for, before the rate policies); `proposed` by default.
    public static func clamp(_ proposed: Int32, minimum: Int32, maximum: Int32, computed: Int32? = nil) -> ScalingStep {
        let named = computed ?? proposed
        if proposed > maximum {
            return ScalingStep(replicas: maximum, limit: .init(reason: "TooManyReplicas", message: "the computed \(named) replicas are above maxReplicas \(maximum)"))
        }
        if proposed < minimum {
            return ScalingStep(replicas: minimum, limit: .init(reason: "TooFewReplicas", message: "the computed \(named) replicas are below minReplicas \(minimum)"))
        }
        return ScalingStep(replicas: proposed)
    }

    /// One line for `kubectl get`: the value alone for one metric; `name=value` for
    /// several, and which drove.
    static func summary(_ recommendations: [MetricRecommendation], driver: String?) -> String {
        func value(_ recommendation: MetricRecommendation) -> String { recommendation.reading.value.map(format) ?? "unavailable" }
        guard recommendations.count > 1 else { return recommendations.first.map(value) ?? "" }
        let values = recommendations.map { "\($0.metric)=\(value($0))" }.joined(separator: " ")
        return driver.map { "\(values) (by \($0))" } ?? values
    }

    /// The most replicas the scale-up policies allow now.
    static func scaleUpLimit(current: Int32, rules: ScalingRules, events: [ScalingStatus.ScaleEvent], now: Date) -> Int32 {
        if rules.selectPolicy == .disabled { return current }
        let policies = rules.policies ?? Defaults.scaleUp.policies ?? []
        var proposals: [Int32] = []
        for policy in policies {
            let added = events.filter { $0.change > 0 && now.timeIntervalSince($0.time.date) < TimeInterval(policy.periodSeconds) }
                .reduce(Int32(0)) { $0 + $1.change }
            let periodStart = max(current - added, 0)
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
        let policies = rules.policies ?? Defaults.scaleDown.policies ?? []
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
    /// events older than the longest policy period, among the scale-up rules and `down`,
    /// the scale-down rules the strategy decides by.
    static func pruned(_ history: ScalingStatus, scaling: Scaling, down: ScalingRules, now: Date) -> ScalingStatus {
        var history = history
        let behavior = scaling.behavior ?? ScalingBehavior()
        let rules = [behavior.scaleUp ?? Defaults.scaleUp, behavior.scaleDown ?? Defaults.scaleDown, down]
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
    public static func format(_ value: Double) -> String { MetricNumber.format(value) }

    /// `value` rounded to two decimals, as ``format(_:)`` writes it: for figures a
    /// message or a plot shows, not for values a decision reads back.
    public static func formatHundredths(_ value: Double) -> String { format((value * 100).rounded() / 100) }
}
