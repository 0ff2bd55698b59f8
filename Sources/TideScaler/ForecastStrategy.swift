#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import TideAPI

/// Strategy `Forecast`: Predictive, plus the metric's own pattern once it has proved
/// itself. Pure: the history comes in ``ScalingInput/metricHistory`` (the scaler reads
/// it from Prometheus' `query_range`), so every mode decides alike.
///
/// - Up: each metric with a history asks for the larger of Predictive's recommendation
///   and the one for ``SeasonalForecast``'s value over a pod start, a decision interval
///   and the metric's lag ahead, following the period ``ForecastGate`` chose.
/// - Down: only when both the forecast and the readings allow (the recommendation is
///   the larger of the two), after Predictive's hold.
/// - It acts only while ``ForecastGate``'s verdict is confident (the `ForecastConfident`
///   condition says so, with the replay's figures); otherwise, and without enough
///   history, it is exactly Predictive, and the condition says why.
public struct ForecastStrategy: DecisionStrategy {
    public static var statusFields: [StatusField] { PredictiveStrategy.statusFields + [StatusField("forecast", \.forecast)] }

    let predictive: PredictiveStrategy
    /// The verdict this decision works under.
    public let verdict: ScalingStatus.ForecastStatus
    /// Whether to remember ``verdict`` (not in the gate's own replay).
    let remembersVerdict: Bool

    public init(input: ScalingInput) {
        predictive = PredictiveStrategy(input: input)
        if let kept = input.history.forecast, !ForecastGate.isDue(kept, now: input.now) {
            verdict = kept
        } else {
            verdict = ForecastGate.judge(
                scaling: input.scaling, histories: input.metricHistory, now: input.now, readyDelay: Double(predictive.timing.readyDelay),
                interval: predictive.timing.interval)
        }
        remembersVerdict = true
    }

    /// Acting on `period` whatever the verdict: the forecast as the gate replays it.
    public init(input: ScalingInput, actingOn period: TimeInterval) {
        predictive = PredictiveStrategy(input: input)
        verdict = .init(checkedTime: Time(input.now), confident: true, reason: "Replay", message: "", periodSeconds: Int32(period))
        remembersVerdict = false
    }

    public func adjust(
        _ recommendation: MetricRecommendation, for metric: ScalingMetric, current: Int32, tolerance: Double, input: ScalingInput
    ) -> MetricRecommendation {
        let reactive = predictive.adjust(recommendation, for: metric, current: current, tolerance: tolerance, input: input)
        guard verdict.confident, let period = verdict.periodSeconds, let history = input.metricHistory[metric.name],
            let replicas = reactive.replicas,
            let forecast = SeasonalForecast.forecast(
                history, period: TimeInterval(period), now: input.now, lead: predictive.timing.lead + PredictiveStrategy.lag(of: metric)),
            let ahead = ScalingAlgorithm.recommend(metric, reading: .value(forecast.value), current: current, tolerance: tolerance).replicas,
            ahead > replicas
        else { return reactive }
        var adjusted = reactive
        adjusted.replicas = ahead
        adjusted.explanation +=
            "; the \(SeasonalForecast.name(of: forecast.period)) pattern (today at ×\(ScalingAlgorithm.format((forecast.level * 100).rounded() / 100)) of it) reaches \(ScalingAlgorithm.format(forecast.value)) by the time new pods are ready → \(ahead) replicas"
        return adjusted
    }

    public func scaleDownRules(_ configured: ScalingRules) -> ScalingRules { predictive.scaleDownRules(configured) }

    public func remember(_ history: ScalingStatus, desired: Int32, input: ScalingInput) -> ScalingStatus {
        var history = predictive.remember(history, desired: desired, input: input)
        if remembersVerdict { history.forecast = verdict }
        return history
    }

    public var condition: StrategyCondition? {
        StrategyCondition(type: "ForecastConfident", status: verdict.confident, reason: verdict.reason, message: verdict.message)
    }

    /// Whether a decision at `now` needs the metrics' history: to reach a verdict, or
    /// to act on a confident one. A CronJob run under a standing unconfident verdict
    /// reads no history.
    public static func needsHistory(_ status: ScalingStatus?, now: Date) -> Bool {
        guard let verdict = status?.forecast, !ForecastGate.isDue(verdict, now: now) else { return true }
        return verdict.confident
    }
}
