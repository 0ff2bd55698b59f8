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
///   the larger of the two), after Predictive's hold; at once when the pattern foresees
///   the fall (``scaleDownRules(_:)``).
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
    /// Each metric's forecast over the lead, under a confident verdict.
    let forecasts: [String: SeasonalForecast.Forecast]
    /// Whether the pattern foresees every metric staying below what fewer replicas
    /// serve for as long as the hold would wait (see ``scaleDownRules(_:)``).
    let foreseesFall: Bool

    public init(input: ScalingInput) {
        let predictive = PredictiveStrategy(input: input)
        let verdict: ScalingStatus.ForecastStatus
        if let kept = input.history.forecast, !ForecastGate.isDue(kept, now: input.now) {
            verdict = kept
        } else {
            verdict = ForecastGate.judge(
                scaling: input.scaling, histories: input.metricHistory, now: input.now, readyDelay: Double(predictive.timing.readyDelay),
                interval: predictive.timing.interval)
        }
        self.init(input: input, predictive: predictive, verdict: verdict, remembersVerdict: true)
    }

    /// Acting on `period` whatever the verdict: the forecast as the gate replays it.
    public init(input: ScalingInput, actingOn period: TimeInterval) {
        self.init(
            input: input, predictive: PredictiveStrategy(input: input),
            verdict: .init(checkedTime: Time(input.now), confident: true, reason: "Replay", message: "", periodSeconds: Int32(period)),
            remembersVerdict: false)
    }

    init(input: ScalingInput, predictive: PredictiveStrategy, verdict: ScalingStatus.ForecastStatus, remembersVerdict: Bool) {
        self.predictive = predictive
        self.verdict = verdict
        self.remembersVerdict = remembersVerdict
        // A foreseen fall counts only for a scaler deciding no more often than the gate
        // replays: between the decisions of a faster one the forecast moves in the
        // history's minute steps, which no replay has judged (a 5 s loop went down and
        // up again within a minute).
        let replayedCadence = predictive.timing.interval >= ForecastGate.replayStep
        var forecasts: [String: SeasonalForecast.Forecast] = [:]
        var heldForecasts: [String: SeasonalForecast.Forecast] = [:]
        if verdict.confident, let period = verdict.periodSeconds {
            for metric in input.scaling.resolvedMetrics {
                guard let history = input.metricHistory[metric.name] else { continue }
                let lead = predictive.timing.lead + PredictiveStrategy.lag(of: metric)
                forecasts[metric.name] = SeasonalForecast.forecast(history, period: TimeInterval(period), now: input.now, lead: lead)
                // The fall must be foreseen for as long as the hold it replaces would wait.
                let held = max(lead, Double(predictive.timing.hold))
                guard replayedCadence else { continue }
                heldForecasts[metric.name] =
                    held == lead ? forecasts[metric.name] : SeasonalForecast.forecast(history, period: TimeInterval(period), now: input.now, lead: held)
            }
        }
        self.forecasts = forecasts
        foreseesFall = replayedCadence && Self.foreseesFall(input: input, forecasts: heldForecasts)
    }

    /// Whether every metric has a forecast, and each forecast (the most the metric is
    /// expected to reach over the lead, or over Predictive's hold if that is longer)
    /// asks for fewer replicas than run now and no more than the reading does.
    static func foreseesFall(input: ScalingInput, forecasts: [String: SeasonalForecast.Forecast]) -> Bool {
        let metrics = input.scaling.resolvedMetrics
        let tolerance = input.scaling.tolerance ?? Defaults.tolerance
        let current = input.currentReplicas
        return !metrics.isEmpty && metrics.allSatisfy { metric in
            guard let forecast = forecasts[metric.name], let reading = input.readings[metric.name], reading.value != nil,
                let ahead = ScalingAlgorithm.recommend(metric, reading: .value(forecast.value), current: current, tolerance: tolerance).replicas,
                let reactive = ScalingAlgorithm.recommend(metric, reading: reading, current: current, tolerance: tolerance).replicas
            else { return false }
            return ahead < current && ahead <= reactive
        }
    }

    public func adjust(
        _ recommendation: MetricRecommendation, for metric: ScalingMetric, current: Int32, tolerance: Double, input: ScalingInput
    ) -> MetricRecommendation {
        let reactive = predictive.adjust(recommendation, for: metric, current: current, tolerance: tolerance, input: input)
        guard let forecast = forecasts[metric.name], let replicas = reactive.replicas,
            let ahead = ScalingAlgorithm.recommend(metric, reading: .value(forecast.value), current: current, tolerance: tolerance).replicas,
            ahead > replicas
        else { return reactive }
        var adjusted = reactive
        adjusted.replicas = ahead
        adjusted.explanation +=
            "; the \(SeasonalForecast.name(of: forecast.period)) pattern (today at ×\(ScalingAlgorithm.formatHundredths(forecast.level)) of it) reaches \(ScalingAlgorithm.format(forecast.value)) by the time new pods are ready → \(ahead) replicas"
        return adjusted
    }

    /// Predictive's hold, or none when the pattern foresees the fall: every metric's
    /// forecast (the most it is expected to reach over the hold, or over a pod start, a
    /// decision interval and its lag if that is longer) asks for fewer replicas than run
    /// now, and no more than its reading. The hold is there because readings alone
    /// cannot tell a dip that will come back from a fall; a pattern that has proved
    /// itself on the replayed day can, over as long as the hold would have waited. The
    /// gate replays this rule too, so a pattern whose falls come back does not act; and
    /// it applies only to a scaler deciding every ``ForecastGate/replayStep`` or less
    /// often, the cadences the gate replays at.
    public func scaleDownRules(_ configured: ScalingRules) -> ScalingRules {
        var rules = predictive.scaleDownRules(configured)
        if foreseesFall { rules.stabilizationWindowSeconds = 0 }
        return rules
    }

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
