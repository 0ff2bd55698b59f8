#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import TideAPI

/// Whether strategy Forecast may act: its own backtest. Pure.
///
/// The last day is replayed twice through the scaling algorithm (``Backtest/replay``),
/// once with the forecast acting and once with Predictive alone, from the metric's
/// history; the forecast acts only if it would have cut the shortfall (replica·seconds
/// below `ceil(load / target)`, the load each interval carried: see
/// ``Backtest/load(during:step:readings:metrics:histories:)``) without adding more idle
/// replica·seconds than it cut.
/// The period it follows is chosen on the day before the replayed one, so the replay
/// judges a choice made without it.
///
/// The verdict is kept in `status.scaling.forecast` and recomputed at most every
/// ``recheck``, so a CronJob run replays nothing most minutes.
public enum ForecastGate {
    /// How long a verdict stands.
    public static let recheck: TimeInterval = 3_600
    /// How much is replayed.
    public static let replayed: TimeInterval = 86_400
    /// The finest decision interval a replay uses: a day of decisions a minute apart
    /// costs about 40 ms of CPU (`scaler-bench --forecast-cost`); four times as many, for
    /// a scaler every 15 s, would be over the 50 ms a decision may take.
    public static let replayStep: TimeInterval = 60
    /// How much history a verdict needs, besides the period itself: the replayed day,
    /// the day the period is chosen on, and the level window.
    public static var historyBesidesPeriod: TimeInterval { 2 * replayed + SeasonalForecast.levelWindow }
    /// How far back the scaler reads a metric's history: enough for a weekly pattern.
    public static var historyNeeded: TimeInterval { (SeasonalForecast.periods.max() ?? 0) + historyBesidesPeriod }

    /// Whether `verdict` must be reached again at `now`.
    public static func isDue(_ verdict: ScalingStatus.ForecastStatus?, now: Date) -> Bool {
        guard let verdict else { return true }
        let age = now.timeIntervalSince(verdict.checkedTime.date)
        return age >= recheck || age < 0
    }

    /// The replay's decision interval for a scaler deciding every `interval` seconds:
    /// its own cadence on the history's grid, no finer than ``replayStep``, so a CronJob
    /// every five minutes is judged at five minutes.
    public static func replayInterval(decisionInterval interval: TimeInterval, historyStep: TimeInterval) -> TimeInterval {
        let grid = max(historyStep, 1)
        return max((max(interval, replayStep) / grid).rounded(), 1) * grid
    }

    /// The verdict at `now` for `scaling` (strategy Forecast), from `histories` (each
    /// metric's, by name), with pods ready `readyDelay` seconds after a scale-up and
    /// the scaler deciding every `interval` seconds (``replayInterval(decisionInterval:historyStep:)``).
    public static func judge(
        scaling: Scaling, histories: [String: MetricHistory], now: Date, readyDelay: TimeInterval, interval: TimeInterval = replayStep
    ) -> ScalingStatus.ForecastStatus {
        let checked = Time(now)
        func insufficient(_ why: String) -> ScalingStatus.ForecastStatus {
            .init(checkedTime: checked, confident: false, reason: "InsufficientHistory", message: "\(why); deciding as Predictive")
        }
        let metrics = scaling.resolvedMetrics
        guard let judged = metrics.first(where: { histories[$0.name] != nil }), let history = histories[judged.name] else {
            return insufficient("no metric has a history (only Prometheus metrics have one)")
        }
        // The replayed day starts on the history's grid, as its decisions read it.
        let grid = (now.addingTimeInterval(-replayed).timeIntervalSince(history.start) / history.step).rounded(.down)
        let replayStart = history.start.addingTimeInterval(grid * history.step)
        let days = Double(history.presentCount) * history.step / 86_400
        guard days >= (SeasonalForecast.periods.min() ?? 0) / 86_400 + historyBesidesPeriod / 86_400 else {
            return insufficient(
                "metric \(judged.name) has \(ScalingAlgorithm.format((days * 10).rounded() / 10)) days of history with values, not enough to find a pattern and replay a day (2.1 days for an hourly one, 3.1 for a daily one)")
        }
        let step = replayInterval(decisionInterval: interval, historyStep: history.step)
        let lead = readyDelay + step + PredictiveStrategy.lag(of: judged)
        guard let choice = SeasonalForecast.bestPeriod(history, from: replayStart.addingTimeInterval(-replayed), to: replayStart, lead: lead) else {
            return .init(
                checkedTime: checked, confident: false, reason: "ForecastNotConfident",
                message: "on the day before the last, no hourly, daily or weekly pattern of \(judged.name) foresaw the next \(Int(lead)) s better than its last value did: deciding as Predictive")
        }
        var times: [Date] = []
        var readings: [[String: Double]] = []
        var time = replayStart
        while time < now {
            times.append(time)
            var reading: [String: Double] = [:]
            for metric in metrics {
                if let value = histories[metric.name]?.value(at: time) { reading[metric.name] = value }
            }
            readings.append(reading)
            time = time.addingTimeInterval(step)
        }
        let scored = Backtest.load(during: times, step: step, readings: readings, metrics: metrics, histories: histories)
        let initial = Self.initialReplicas(scaling: scaling, readings: readings.first ?? [:])
        var predictive = scaling
        predictive.strategy = .predictive
        let alone = Backtest.replay(
            scaling: predictive, times: times, readings: readings, step: step, initial: initial, readyDelay: readyDelay, scoredAgainst: scored)
        var acting = scaling
        acting.strategy = .forecast
        let period = choice.period
        let forecast = Backtest.replay(
            scaling: acting, times: times, readings: readings, step: step, initial: initial, readyDelay: readyDelay, histories: histories,
            scoredAgainst: scored
        ) { ForecastStrategy(input: $0, actingOn: period) }
        let figures = (
            forecastShortfall: Int64(forecast.shortfall), predictiveShortfall: Int64(alone.shortfall), forecastIdle: Int64(forecast.idle),
            predictiveIdle: Int64(alone.idle)
        )
        let cut = figures.predictiveShortfall - figures.forecastShortfall
        let added = figures.forecastIdle - figures.predictiveIdle
        let confident = cut > 0 && added <= cut
        let pattern = "the \(SeasonalForecast.name(of: period)) pattern of \(judged.name)"
        let replay = "replayed over the last day (a decision every \(Int(step)) s), following \(pattern) would have"
        let shortfall = "shortfall \(figures.predictiveShortfall) → \(figures.forecastShortfall) replica·s"
        let idle = "idle \(figures.predictiveIdle) → \(figures.forecastIdle) replica·s"
        let message: String
        if confident {
            message = "\(replay) cut \(shortfall), \(idle): acting on the forecast"
        } else if cut <= 0 {
            message = "\(replay) cut no shortfall (\(shortfall), \(idle)): deciding as Predictive"
        } else {
            message = "\(replay) added more idle capacity than the shortfall it cut (\(shortfall), \(idle)): deciding as Predictive"
        }
        return .init(
            checkedTime: checked, confident: confident, reason: confident ? "ForecastConfident" : "ForecastNotConfident", message: message,
            periodSeconds: Int32(period), forecastShortfall: figures.forecastShortfall, predictiveShortfall: figures.predictiveShortfall,
            forecastIdle: figures.forecastIdle, predictiveIdle: figures.predictiveIdle)
    }

    /// What the replays start from: the replicas the first readings ask for, within the bounds.
    static func initialReplicas(scaling: Scaling, readings: [String: Double]) -> Int32 {
        let wanted = scaling.resolvedMetrics.compactMap { metric -> Int32? in
            guard let value = readings[metric.name] else { return nil }
            return ScalingAlgorithm.recommend(metric, reading: .value(value), current: 1, tolerance: 0).replicas
        }
        let minimum = max(scaling.minReplicas ?? Defaults.minReplicas, 1)
        return min(max(wanted.max() ?? minimum, minimum), scaling.maxReplicas)
    }
}
