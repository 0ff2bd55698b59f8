import Foundation
import TideScaler

/// What the local run saw each second, and what it concludes.
public struct Timeline: Sendable {
    public struct Sample: Sendable, Hashable {
        public var second: Int
        public var phase: String
        /// Offered load, requests per second.
        public var load: Double
        /// What Prometheus reports (the scaler's query), if it answered.
        public var metric: Double?
        /// The Application's `spec.replicas`.
        public var desired: Int
        /// Ready hello-service processes.
        public var running: Int
        /// The scaler's last line.
        public var reason: String
    }

    public var samples: [Sample] = []
    /// Exit codes of every scaler run, in order.
    public var scalerExitCodes: [Int32] = []

    public init() {}

    /// One line of the live table.
    public static func header() -> String {
        "  time  phase      load/s  metric  desired  running  scaler"
    }

    public static func line(_ sample: Sample) -> String {
        let metric = sample.metric.map { String(format: "%6.1f", $0) } ?? "     -"
        return String(format: "%5ds  ", sample.second) + sample.phase.padding(toLength: 9, withPad: " ", startingAt: 0)
            + String(format: "  %6.1f  ", sample.load) + metric + String(format: "  %7d  %7d  ", sample.desired, sample.running)
            + String(sample.reason.prefix(90))
    }

    /// Numbers derived from the samples only, so they always match the timeline.
    public struct Summary: Sendable, Hashable {
        public var seconds: Int
        public var peakLoad: Double
        public var peakMetric: Double
        public var startReplicas: Int
        public var peakDesired: Int
        public var peakRunning: Int
        public var finalDesired: Int
        public var finalRunning: Int
        /// First second `desired` rose above its starting value.
        public var firstScaleUp: Int?
        /// First second after the peak at which `desired` fell.
        public var firstScaleDownAfterPeak: Int?
        public var desiredChanges: Int
        public var scalerRuns: Int
        public var scalerExitCodes: [Int32: Int]

        /// Replicas rose under load and fell afterwards.
        public var roseAndFell: Bool { peakDesired > startReplicas && finalDesired < peakDesired }
    }

    public var summary: Summary {
        let first = samples.first
        let peakDesired = samples.map(\.desired).max() ?? 0
        let peakIndex = samples.firstIndex { $0.desired == peakDesired } ?? 0
        var changes = 0
        for (previous, next) in zip(samples, samples.dropFirst()) where previous.desired != next.desired { changes += 1 }
        var codes: [Int32: Int] = [:]
        for code in scalerExitCodes { codes[code, default: 0] += 1 }
        return Summary(
            seconds: samples.last?.second ?? 0, peakLoad: samples.map(\.load).max() ?? 0,
            peakMetric: samples.compactMap(\.metric).max() ?? 0, startReplicas: first?.desired ?? 0, peakDesired: peakDesired,
            peakRunning: samples.map(\.running).max() ?? 0, finalDesired: samples.last?.desired ?? 0,
            finalRunning: samples.last?.running ?? 0,
            firstScaleUp: samples.first { $0.desired > (first?.desired ?? 0) }?.second,
            firstScaleDownAfterPeak: samples[peakIndex...].first { $0.desired < peakDesired }?.second,
            desiredChanges: changes, scalerRuns: scalerExitCodes.count, scalerExitCodes: codes)
    }

    public func summaryText() -> String {
        let s = summary
        let codes = s.scalerExitCodes.sorted { $0.key < $1.key }.map { "exit \($0.key): \($0.value)" }.joined(separator: ", ")
        return """
            Summary (\(s.seconds) s):
              load: peak \(String(format: "%.1f", s.peakLoad)) requests/s; metric peak \(String(format: "%.1f", s.peakMetric))
              replicas: started at \(s.startReplicas), peak desired \(s.peakDesired), peak running \(s.peakRunning), ended desired \(s.finalDesired), running \(s.finalRunning)
              first scale-up at \(s.firstScaleUp.map { "\($0) s" } ?? "never"); first scale-down after the peak at \(s.firstScaleDownAfterPeak.map { "\($0) s" } ?? "never")
              desired changed \(s.desiredChanges) times; the scaler ran \(s.scalerRuns) times (\(codes.isEmpty ? "none" : codes))
              verdict: \(s.roseAndFell ? "replicas rose under load and fell after it" : "replicas did NOT both rise and fall")
            """
    }

    /// An SVG plot: load, metric and capacity (ready replicas × `capacityPerReplica`,
    /// requests/s on the left axis; the gap to the load is shortfall below it and idle
    /// capacity above), desired and running replicas (right axis), over time, with
    /// round numbers on the axes.
    public func svg(title: String = "Tide local run", capacityPerReplica: Double? = nil) -> String {
        let width = 960.0, height = 440.0, left = 60.0, right = 60.0, top = 40.0, bottom = 70.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        // The time axis ends with the data; both value axes end on a round tick.
        let lastSecond = Double(max(samples.last?.second ?? 1, 1))
        let capacity = capacityPerReplica.map { perReplica in samples.map { Double($0.running) * perReplica } } ?? []
        let rateAxis = PlotAxis.values(upTo: max(5, (samples.map(\.load) + samples.compactMap(\.metric) + capacity).max() ?? 5))
        let replicaAxis = PlotAxis.values(upTo: Double(max(2, (samples.map(\.desired) + samples.map(\.running)).max() ?? 2)), integers: true)
        func x(_ second: Double) -> Double { left + second / lastSecond * plotWidth }
        func x(_ second: Int) -> Double { x(Double(second)) }
        func yRate(_ value: Double) -> Double { top + plotHeight - value / rateAxis.maximum * plotHeight }
        func yReplicas(_ value: Int) -> Double { top + plotHeight - Double(value) / replicaAxis.maximum * plotHeight }
        func polyline(_ points: [(Double, Double)], color: String, width: Double, dash: String = "", step: Bool = false) -> String {
            SVGPolyline.make(points.map { (x: $0.0, y: $0.1) }, color: color, width: width, dash: dash, step: step)
        }
        var svg = [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">",
            "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
            "<text x=\"\(left)\" y=\"24\" font-size=\"16\">\(title)</text>",
            "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotWidth)\" height=\"\(plotHeight)\" fill=\"none\" stroke=\"#999\"/>",
        ]
        for replicas in replicaAxis.ticks.map({ Int($0) }) {
            svg.append(String(format: "<text x=\"%.0f\" y=\"%.1f\" fill=\"#2ca02c\">%d</text>", left + plotWidth + 6, yReplicas(replicas) + 4, replicas))
        }
        for rate in rateAxis.ticks {
            svg.append(String(format: "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#1f77b4\">%@</text>", left - 6, yRate(rate) + 4, PlotAxis.label(rate)))
        }
        for second in PlotAxis.timeTicks(span: lastSecond) {
            svg.append(String(format: "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%@</text>", x(second), top + plotHeight + 18, PlotAxis.timeLabel(second, span: lastSecond)))
        }
        svg.append("<text x=\"14\" y=\"\(top + plotHeight / 2)\" transform=\"rotate(-90 14 \(top + plotHeight / 2))\" fill=\"#1f77b4\">requests/s</text>")
        svg.append("<text x=\"\(width - 14)\" y=\"\(top + plotHeight / 2)\" transform=\"rotate(90 \(width - 14) \(top + plotHeight / 2))\" fill=\"#2ca02c\">replicas</text>")
        if !capacity.isEmpty {
            svg.append(polyline(zip(samples, capacity).map { (x($0.second), yRate($1)) }, color: "#9467bd", width: 2, step: true))
        }
        svg.append(polyline(samples.map { (x($0.second), yRate($0.load)) }, color: "#1f77b4", width: 2))
        svg.append(polyline(samples.compactMap { sample in sample.metric.map { (x(sample.second), yRate($0)) } }, color: "#ff7f0e", width: 2, dash: "5,3"))
        svg.append(polyline(samples.map { (x($0.second), yReplicas($0.desired)) }, color: "#2ca02c", width: 2.5, step: true))
        svg.append(polyline(samples.map { (x($0.second), yReplicas($0.running)) }, color: "#d62728", width: 1.5, dash: "2,2", step: true))
        var legend = [
            (label: "load (req/s)", color: "#1f77b4"), (label: "metric (req/s)", color: "#ff7f0e"),
            (label: "desired replicas", color: "#2ca02c"), (label: "running replicas", color: "#d62728"),
        ]
        if let capacityPerReplica { legend.append((label: "capacity (running × \(PlotAxis.label(capacityPerReplica)))", color: "#9467bd")) }
        svg += PlotAxis.legend(legend, left: left, width: plotWidth, baseline: top + plotHeight + 40).svg
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }
}
