import TideAPI

/// What a scaling strategy changes in a decision, and nothing else: the four steps of
/// ``ScalingAlgorithm`` (recommend, stabilize, rate-limit, clamp) are the same for every
/// strategy; a strategy hooks into them at three points and owns part of
/// `status.scaling`.
///
/// A strategy is one type in one file conforming to this protocol, plus one case of
/// ``ScalingStrategy`` (the name users write in `spec.scaling.strategy`), joined in
/// ``ScalingStrategy/type``. It is built anew for each decision from the decision's
/// input (its memory is in ``ScalingInput/history``), and it is pure: no I/O, no clock
/// but ``ScalingInput/now``.
public protocol DecisionStrategy: Sendable {
    /// The `status.scaling` fields this strategy alone writes: its memory between runs.
    /// When another strategy decides, they are removed, so a strategy switched back on
    /// starts from nothing rather than from stale memory.
    static var statusFields: [StatusField] { get }

    init(input: ScalingInput)

    /// Step 1: the recommendation for one metric, given the reactive one (the HPA's
    /// `ceil(value / target)` within the tolerance). Never called for an unreadable metric.
    func adjust(
        _ recommendation: MetricRecommendation, for metric: ScalingMetric, current: Int32, tolerance: Double, input: ScalingInput
    ) -> MetricRecommendation

    /// Step 2: the scale-down rules in force now, from the configured ones: whether and
    /// when lower demand may take replicas away (its stabilization window).
    func scaleDownRules(_ configured: ScalingRules) -> ScalingRules

    /// After the decision (not while paused): the history to remember.
    func remember(_ history: ScalingStatus, desired: Int32, input: ScalingInput) -> ScalingStatus

    /// A condition of the strategy's own for the Application (strategy Forecast's
    /// `ForecastConfident`), or `nil`.
    var condition: StrategyCondition? { get }
}

/// A condition a strategy reports beside `ScalingActive` and `ScalingLimited`.
public struct StrategyCondition: Sendable, Hashable {
    public var type: String
    public var status: Bool
    public var reason: String
    public var message: String

    public init(type: String, status: Bool, reason: String, message: String) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
    }

    /// Every type a strategy reports, so a writer can remove the ones no longer reported.
    public static let types = ["ForecastConfident"]
}

/// One field of `status.scaling` a strategy owns: its key as stored, and how to clear it.
public struct StatusField {
    /// The field's key in `status.scaling`.
    public let key: String
    let clear: (inout ScalingStatus) -> Void

    public init<Value>(_ key: String, _ path: WritableKeyPath<ScalingStatus, Value?>) {
        self.key = key
        self.clear = { $0[keyPath: path] = nil }
    }
}

extension DecisionStrategy {
    /// The keys of ``statusFields``.
    public static var statusKeys: [String] { statusFields.map(\.key) }

    public var condition: StrategyCondition? { nil }

    /// `history` without the fields only other strategies own.
    static func forgettingOthers(_ history: ScalingStatus) -> ScalingStatus {
        var history = history
        let own = Set(statusKeys)
        for other in ScalingStrategy.allCases {
            for field in other.type.statusFields where !own.contains(field.key) { field.clear(&history) }
        }
        return history
    }
}

extension ScalingStrategy {
    /// The type that decides for this name: the one place a strategy's name becomes its behaviour.
    public var type: any DecisionStrategy.Type {
        switch self {
        case .hpa: return HPAStrategy.self
        case .predictive: return PredictiveStrategy.self
        case .forecast: return ForecastStrategy.self
        }
    }

    /// `history` without the fields only the other strategies own.
    func forgettingOthers(_ history: ScalingStatus) -> ScalingStatus { type.forgettingOthers(history) }
}
