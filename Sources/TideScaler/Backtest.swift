#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import TideAPI

/// Replays an Application's metric history through the scaling algorithm: what a
/// scaling spec would have done to the traffic the Application really had. Pure; the
/// history comes from Prometheus (`query_range`) in `tide-scaler backtest`.
public enum Backtest {
    /// One metric's history: samples in time order.
    public struct Series: Sendable, Hashable {
        public var metric: String
        public var points: [Point]

        public init(metric: String, points: [Point]) {
            self.metric = metric
            self.points = points
        }
    }

    /// One value of a metric at one time.
    public typealias Point = MetricPoint

    /// A stretch with no samples of a metric: replayed as the metric being unavailable.
    public struct Gap: Sendable, Hashable, CustomStringConvertible {
        public var metric: String
        public var from: Date
        public var to: Date
        public var description: String {
            "\(metric) has no samples from \(Time(from)) to \(Time(to)) (\(Int(to.timeIntervalSince(from))) s): replayed as unavailable there"
        }
    }

    /// Why a history cannot be replayed.
    public enum Failure: Error, Hashable, CustomStringConvertible {
        case noHistory(metric: String)
        case noReplayableMetric
        case live(metric: String)

        public var description: String {
            switch self {
            case .noHistory(let metric): return "metric \(metric) has no samples in the window: nothing to replay (is the query right, and the window inside Prometheus's retention?)"
            case .noReplayableMetric: return "the Application has no metric with a history: only Prometheus metrics can be replayed"
            case .live(let metric): return "metric \(metric) is an HTTP source, read live: it has no history to replay"
            }
        }
    }

    /// The readings at each decision time: a metric's latest sample at most `step`
    /// old (Prometheus's lookback, shortened), else unavailable; and the gaps.
    public static func align(_ series: [Series], start: Date, end: Date, step: TimeInterval) -> (times: [Date], readings: [[String: Double]], gaps: [Gap]) {
        var times: [Date] = []
        var time = start
        while time <= end {
            times.append(time)
            time = time.addingTimeInterval(step)
        }
        var readings = [[String: Double]](repeating: [:], count: times.count)
        var gaps: [Gap] = []
        for one in series {
            var index = 0
            var gapStart: Date?
            for (position, time) in times.enumerated() {
                while index + 1 < one.points.count, one.points[index + 1].time <= time { index += 1 }
                let point = one.points.indices.contains(index) && one.points[index].time <= time ? one.points[index] : nil
                if let point, time.timeIntervalSince(point.time) <= step {
                    readings[position][one.metric] = point.value
                    if let from = gapStart {
                        gaps.append(Gap(metric: one.metric, from: from, to: time))
                        gapStart = nil
                    }
                } else if gapStart == nil {
                    gapStart = time
                }
            }
            if let from = gapStart, let last = times.last { gaps.append(Gap(metric: one.metric, from: from, to: last)) }
        }
        return (times, readings, gaps)
    }

    /// One replay: the count decided and the count ready at every decision time.
    public struct Replay: Sendable, Hashable {
        public var desired: [Int32]
        public var ready: [Int32]
        /// `ceil(value / target)` of the PerReplica metrics (the largest), clamped to
        /// the bounds; `nil` where no such metric has a value.
        public var ideal: [Int32?]
        /// Replica·seconds ready below the ideal.
        public var shortfall: Double
        /// Replica·seconds ready above the ideal.
        public var idle: Double
        public var scaleChanges: Int
        /// Scale-downs decided while a metric was unavailable (the algorithm allows none).
        public var downWhileUnavailable: Int

        /// Adds one decision interval with `ready` replicas to the shortfall and idle
        /// replica·seconds against `ideal` (nothing where there is no ideal).
        mutating func tally(ready: Int32, ideal: Int32?, step: TimeInterval) {
            guard let ideal else { return }
            shortfall += Double(max(0, ideal - ready)) * step
            idle += Double(max(0, ready - ideal)) * step
        }
    }

    /// Replays `readings` (one map per decision, every `step`) under `scaling`,
    /// starting at `initial` replicas; pods are ready `readyDelay` after a scale-up.
    /// Each decision sees `histories` up to its own time (Predictive's half-hour line,
    /// Forecast's pattern), and `strategy`, when given, decides instead of the one
    /// `scaling` names. Each interval is scored against `scoredAgainst` (one map per
    /// decision, as `readings`) when given, else against the readings.
    public static func replay(
        scaling: Scaling, times: [Date], readings: [[String: Double]], step: TimeInterval, initial: Int32, readyDelay: TimeInterval,
        histories: [String: MetricHistory] = [:], scoredAgainst scored: [[String: Double]]? = nil,
        strategy: ((ScalingInput) -> any DecisionStrategy)? = nil
    ) -> Replay {
        let metrics = scaling.resolvedMetrics
        let minimum = max(scaling.minReplicas ?? Defaults.minReplicas, 1), maximum = scaling.maxReplicas
        var replay = Replay(desired: [], ready: [], ideal: [], shortfall: 0, idle: 0, scaleChanges: 0, downWhileUnavailable: 0)
        var history = ScalingStatus()
        var current = min(max(initial, minimum), maximum)
        var ready = current
        var pending: [(at: Date, replicas: Int32)] = []
        for (index, time) in times.enumerated() {
            while let first = pending.first, first.at <= time {
                ready = max(ready, min(first.replicas, current))
                pending.removeFirst()
            }
            var byName: [String: MetricReading] = [:]
            for metric in metrics {
                byName[metric.name] = readings[index][metric.name].map { .value($0) } ?? .unavailable(.emptyResult)
            }
            let input = ScalingInput(
                currentReplicas: current, scaling: scaling, readings: byName, history: history, now: time, readyReplicas: ready,
                metricHistory: histories.mapValues { $0.visible(until: time) })
            let decision = strategy.map { ScalingAlgorithm.decide(input, using: $0(input)) } ?? ScalingAlgorithm.decide(input)
            history = decision.history
            let next = decision.desiredReplicas
            if next != current {
                replay.scaleChanges += 1
                if next < current, byName.values.contains(where: { $0.value == nil }) { replay.downWhileUnavailable += 1 }
                if next > current {
                    pending.append((time.addingTimeInterval(readyDelay), next))
                } else {
                    pending.removeAll()
                    ready = min(ready, next)
                }
                current = next
            }
            let ideal = Self.ideal(scaling: scaling, values: scored?[index] ?? readings[index])
            replay.tally(ready: ready, ideal: ideal, step: step)
            replay.desired.append(current)
            replay.ready.append(ready)
            replay.ideal.append(ideal)
        }
        return replay
    }

    /// What each replayed interval is scored against: the load it carried, as the
    /// metrics read it. A metric reads the load ``PredictiveStrategy/lag(of:)`` late
    /// (a rate over 30 s at `t` is the load at `t - 15 s`), and the count decided at `t`
    /// stands until the next decision, so the interval's load is the reading half an
    /// interval and a lag after `t`, between the history's grid values. Scored against
    /// the reading at `t` instead, a scale-up in time for the load would count as idle
    /// for the lag and one that comes a lag late as none short: the replay would
    /// penalise the foresight it judges. Where the history does not reach that far (the
    /// replay's last moments), the reading at `t`.
    public static func load(
        during times: [Date], step: TimeInterval, readings: [[String: Double]], metrics: [ScalingMetric], histories: [String: MetricHistory]
    ) -> [[String: Double]] {
        times.indices.map { index in
            var load = readings[index]
            for metric in metrics {
                let at = times[index].addingTimeInterval(step / 2 + PredictiveStrategy.lag(of: metric))
                if let value = histories[metric.name]?.interpolated(at: at) { load[metric.name] = value }
            }
            return load
        }
    }

    /// The replicas the metrics ask for: `ceil(value / target)` of the PerReplica
    /// metrics (the largest), within the bounds; `nil` when no such metric has a value.
    public static func ideal(scaling: Scaling, values: [String: Double]) -> Int32? {
        let minimum = max(scaling.minReplicas ?? Defaults.minReplicas, 1), maximum = scaling.maxReplicas
        let perReplica = scaling.resolvedMetrics.compactMap { metric -> Int32? in
            guard metric.target.type == .perReplica, let value = values[metric.name], let target = Quantity.parse(metric.target.value), target > 0
            else { return nil }
            return ScalingAlgorithm.clampToInt32((value / target).rounded(.up))
        }
        return perReplica.max().map { min(max($0, minimum), maximum) }
    }

    /// How long the Deployment's new pods took to become ready, from its history: for
    /// each rise of the desired count (`desired`), the time until the ready count
    /// (`ready`) first reached it; the median of those (robust to one slow start), or
    /// `nil` when the history has no completed scale-up. As precise as the samples'
    /// spacing.
    public static func measuredReadyDelay(desired: [Point], ready: [Point]) -> (seconds: TimeInterval, scaleUps: Int)? {
        var delays: [TimeInterval] = []
        var previous: Double?
        for (index, point) in desired.enumerated() {
            defer { previous = point.value }
            guard let before = previous, point.value > before else { continue }
            // The rise counts until the desired count changes again.
            let until = desired[(index + 1)...].first { $0.value != point.value }?.time ?? .distantFuture
            if let reached = ready.first(where: { $0.time >= point.time && $0.time < until && $0.value >= point.value }) {
                delays.append(reached.time.timeIntervalSince(point.time))
            }
        }
        guard !delays.isEmpty else { return nil }
        delays.sort()
        let middle = delays.count / 2
        let median = delays.count % 2 == 1 ? delays[middle] : (delays[middle - 1] + delays[middle]) / 2
        return (median, delays.count)
    }

    /// What the Deployment really had: its ready replicas at each decision time (the
    /// latest sample at or before it, since a count holds until it changes; before the
    /// first sample, the first), scored against `ideal` as a replay is; `nil` without
    /// samples. Its scale changes are the changes of the ready count: the history has
    /// no decisions.
    public static func observed(_ series: Series, times: [Date], ideal: [Int32?], step: TimeInterval) -> Replay? {
        guard !series.points.isEmpty else { return nil }
        var replay = Replay(desired: [], ready: [], ideal: ideal, shortfall: 0, idle: 0, scaleChanges: 0, downWhileUnavailable: 0)
        var index = 0
        var last: Int32?
        for (position, time) in times.enumerated() {
            while index < series.points.count, series.points[index].time <= time {
                last = ScalingAlgorithm.clampToInt32(series.points[index].value.rounded())
                index += 1
            }
            let ready = last ?? ScalingAlgorithm.clampToInt32(series.points[0].value.rounded())
            if let previous = replay.ready.last, previous != ready { replay.scaleChanges += 1 }
            replay.tally(ready: ready, ideal: position < ideal.count ? ideal[position] : nil, step: step)
            replay.desired.append(ready)
            replay.ready.append(ready)
        }
        return replay
    }

    /// An SVG: the driving metric's value (left axis), the ideal and both replays'
    /// ready replicas (right axis), over time.
    public static func svg(
        title: String, times: [Date], values: [Double?], ideal: [Int32?], replays: [(name: String, replay: Replay)]
    ) -> String {
        let width = 960.0, height = 440.0, left = 70.0, right = 60.0, top = 40.0, bottom = 70.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        // The time axis ends with the data; both value axes end on a round tick.
        let span = max((times.last ?? Date()).timeIntervalSince(times.first ?? Date()), 1)
        let valueAxis = PlotAxis.values(upTo: values.compactMap { $0 }.max() ?? 1)
        let replicaAxis = PlotAxis.values(
            upTo: Double(max(2, (replays.flatMap { $0.replay.ready } + ideal.compactMap { $0 }).max() ?? 2)), integers: true)
        func x(_ index: Int) -> Double { left + times[index].timeIntervalSince(times[0]) / span * plotWidth }
        func yValue(_ value: Double) -> Double { top + plotHeight - value / valueAxis.maximum * plotHeight }
        func yReplicas(_ value: Double) -> Double { top + plotHeight - value / replicaAxis.maximum * plotHeight }
        func number(_ value: Double) -> String { ScalingAlgorithm.format((value * 10).rounded() / 10) }
        func line(_ points: [(Double, Double)], color: String, width: Double, step: Bool, dash: String = "") -> String {
            SVGPolyline.make(points.map { (x: $0.0, y: $0.1) }, color: color, width: width, dash: dash, step: step)
        }
        var svg = [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">",
            "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
            "<text x=\"\(left)\" y=\"24\" font-size=\"16\">\(escape(title))</text>",
            "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotWidth)\" height=\"\(plotHeight)\" fill=\"none\" stroke=\"#999\"/>",
        ]
        for value in valueAxis.ticks {
            svg.append("<text x=\"\(number(left - 6))\" y=\"\(number(yValue(value) + 4))\" text-anchor=\"end\" fill=\"#1f77b4\">\(PlotAxis.label(value))</text>")
        }
        for replicas in replicaAxis.ticks {
            svg.append("<text x=\"\(number(left + plotWidth + 6))\" y=\"\(number(yReplicas(replicas) + 4))\" fill=\"#2ca02c\">\(Int(replicas))</text>")
        }
        for offset in PlotAxis.timeTicks(span: span) {
            svg.append("<text x=\"\(number(left + offset / span * plotWidth))\" y=\"\(number(top + plotHeight + 18))\" text-anchor=\"middle\">\(PlotAxis.timeLabel(offset, span: span))</text>")
        }
        svg.append(line(values.indices.compactMap { index in values[index].map { (x(index), yValue($0)) } }, color: "#1f77b4", width: 1.5, step: false))
        svg.append(line(ideal.indices.compactMap { index in ideal[index].map { (x(index), yReplicas(Double($0))) } }, color: "#7f7f7f", width: 1.5, step: true, dash: "4,3"))
        let colors = ["#d62728", "#2ca02c", "#9467bd"]
        var legend = [(label: "metric", color: "#1f77b4"), (label: "ideal replicas", color: "#7f7f7f")]
        for (position, entry) in replays.enumerated() {
            let color = colors[position % colors.count]
            svg.append(line(entry.replay.ready.indices.map { (x($0), yReplicas(Double(entry.replay.ready[$0]))) }, color: color, width: 2, step: true))
            legend.append((label: "\(entry.name): ready replicas", color: color))
        }
        svg += PlotAxis.legend(legend, left: left, width: plotWidth, baseline: top + plotHeight + 40).svg
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }

    static func escape(_ text: String) -> String { PlotAxis.escape(text) }
}
