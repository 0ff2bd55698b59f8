import KubeAPI
import TideAPI

/// What a scaling strategy changes in a decision, and nothing else: the four steps of
/// ``ScalingAlgorithm`` (recommend, stabilize, rate-limit, clamp) are the same for every
/// strategy; a strategy hooks into them at three points and owns part of
/// `status.scaling`.
///
/// A strategy is one type in one file conforming to this protocol, plus one case of
/// ``ScalingStrategy`` (the name users write in `spec.scaling.strategy`), joined in
/// ``ScalingStrategy/decisionStrategy(for:)``. It is built anew for each decision from
/// the decision's input (its memory is in ``ScalingInput/history``), and it is pure: no
/// I/O, no clock but ``ScalingInput/now``.
public protocol DecisionStrategy: Sendable {
    /// The `status.scaling` keys this strategy alone writes: its memory between runs.
    /// When another strategy decides, they are removed, so a strategy switched back on
    /// starts from nothing rather than from stale memory.
    static var statusKeys: [String] { get }

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
}

extension ScalingStrategy {
    /// Every strategy's type, by name.
    static let types: [ScalingStrategy: any DecisionStrategy.Type] = [.hpa: HPAStrategy.self, .predictive: PredictiveStrategy.self]

    /// The strategy that decides `input`.
    public func decisionStrategy(for input: ScalingInput) -> any DecisionStrategy {
        switch self {
        case .hpa: return HPAStrategy()
        case .predictive: return PredictiveStrategy(input: input)
        }
    }

    /// The `status.scaling` keys the other strategies own.
    var foreignStatusKeys: [String] {
        Self.types.filter { $0.key != self }.flatMap { $0.value.statusKeys }.sorted()
    }
}

extension ScalingStatus {
    /// This status without `keys` (top-level keys of `status.scaling`).
    func forgetting(_ keys: [String]) -> ScalingStatus {
        guard !keys.isEmpty, var document = try? JSONValue(encoding: self), case .object(let members) = document,
            keys.contains(where: { members[$0] != nil })
        else { return self }
        for key in keys { document[key] = nil }
        return (try? document.decode(as: ScalingStatus.self)) ?? self
    }
}
