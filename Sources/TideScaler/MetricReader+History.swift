#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import TideAPI
import TideMetrics

/// The history strategies Predictive and Forecast read: a metric's past values on a
/// grid, from Prometheus' `query_range`.
extension MetricReader {
    /// How far back a decision at `now` reads each metric's history: strategy
    /// Predictive the last half hour (``RecentTrend/span``); strategy Forecast as much
    /// as ``ForecastGate/historyNeeded`` when the decision needs its pattern
    /// (``ForecastStrategy/needsHistory(_:now:)``), else the same half hour; strategy
    /// HPA nothing.
    public static func historySpan(for scaling: Scaling, status: ScalingStatus?, now: Date) -> TimeInterval? {
        switch scaling.strategy ?? .hpa {
        case .hpa: return nil
        case .predictive: return RecentTrend.span
        case .forecast: return ForecastStrategy.needsHistory(status, now: now) ? max(ForecastGate.historyNeeded, RecentTrend.span) : RecentTrend.span
        }
    }

    /// Each Prometheus metric's history over ``historySpan(for:status:now:)`` at
    /// ``Scaler/historyStep``; empty for strategy HPA.
    public func histories(for scaling: Scaling, status: ScalingStatus?, now: Date, logger: Logger) async -> [String: MetricHistory] {
        guard let span = Self.historySpan(for: scaling, status: status, now: now) else { return [:] }
        let step = Scaler.historyStep
        let start = now.addingTimeInterval(-span)
        // On the minute grid; it ends one step before now: the decision's own reading is the latest.
        let aligned = start.addingTimeInterval(-start.timeIntervalSince1970.truncatingRemainder(dividingBy: step))
        var histories: [String: MetricHistory] = [:]
        for metric in scaling.resolvedMetrics where metric.prometheus != nil {
            if let history = await history(of: metric, start: aligned, end: now.addingTimeInterval(-step), step: step) {
                histories[metric.name] = history
            } else {
                logger.info("no history for the metric", metadata: ["namespace": "\(namespace)", "metric": "\(metric.name)"])
            }
        }
        return histories
    }

    /// What Prometheus recorded of `metric` from `start` to `end`, one value every
    /// `step` (`query_range`, in requests of at most ``maximumPointsPerRequest`` points,
    /// under Prometheus' limit of 11,000); `nil` for a metric that is not a Prometheus
    /// query or whose history cannot be read (the decision then has none, and says so).
    public func history(of metric: ScalingMetric, start: Date, end: Date, step: TimeInterval) async -> MetricHistory? {
        guard let source = metric.prometheus, let address = URL(string: source.address),
            let secrets = try? await secrets(for: metric),
            let client = try? PrometheusClient(address: address, timeout: .seconds(30), credentials: secrets.credentials, caPEM: secrets.caPEM)
        else { return nil }
        var points: [MetricPoint] = []
        var from = start
        var failed = false
        while from <= end, !failed {
            let to = min(end, from.addingTimeInterval(step * Double(Self.maximumPointsPerRequest - 1)))
            switch await client.queryRange(source.query, start: from, end: to, step: step) {
            case .success(let chunk): points += chunk
            case .failure(.emptyResult): break
            case .failure: failed = true
            }
            from = to.addingTimeInterval(step)
        }
        try? await client.shutdown()
        return failed ? nil : MetricHistory(points: points, start: start, end: end, step: step)
    }

    /// The most points one `query_range` request asks for.
    public static let maximumPointsPerRequest = 10_000
}
