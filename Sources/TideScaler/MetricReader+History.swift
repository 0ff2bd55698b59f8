#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import TideAPI
import TideMetrics

/// The history strategy Forecast reads: a metric's past values on a grid, from
/// Prometheus' `query_range`.
extension MetricReader {
    /// Strategy Forecast's input: each Prometheus metric's history over the last
    /// ``ForecastGate/historyNeeded`` at ``Scaler/historyStep``, read only when the
    /// decision needs it (``ForecastStrategy/needsHistory(_:now:)``); empty for other
    /// strategies.
    public func histories(for scaling: Scaling, status: ScalingStatus?, now: Date, logger: Logger) async -> [String: MetricHistory] {
        guard scaling.strategy == .forecast, ForecastStrategy.needsHistory(status, now: now) else { return [:] }
        let step = Scaler.historyStep
        let start = now.addingTimeInterval(-ForecastGate.historyNeeded)
        // On the minute grid; it ends one step before now: the decision's own reading is the latest.
        let aligned = start.addingTimeInterval(-start.timeIntervalSince1970.truncatingRemainder(dividingBy: step))
        var histories: [String: MetricHistory] = [:]
        for metric in scaling.resolvedMetrics {
            if let history = await history(of: metric, start: aligned, end: now.addingTimeInterval(-step), step: step) {
                histories[metric.name] = history
            } else {
                logger.info("no history for strategy Forecast", metadata: ["namespace": "\(namespace)", "metric": "\(metric.name)"])
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
