import TideAPI

/// Strategy `HPA`: the HorizontalPodAutoscaler's algorithm exactly, with `behavior` as
/// the HPA reads it. It changes nothing in the four steps and remembers nothing of its
/// own (the stabilization and rate-policy history belong to every strategy).
public struct HPAStrategy: DecisionStrategy {
    public static var statusFields: [StatusField] { [] }

    public init() {}

    public init(input: ScalingInput) {}

    public func adjust(
        _ recommendation: MetricRecommendation, for metric: ScalingMetric, current: Int32, tolerance: Double, input: ScalingInput
    ) -> MetricRecommendation {
        recommendation
    }

    public func scaleDownRules(_ configured: ScalingRules) -> ScalingRules { configured }

    public func remember(_ history: ScalingStatus, desired: Int32, input: ScalingInput) -> ScalingStatus { history }
}
