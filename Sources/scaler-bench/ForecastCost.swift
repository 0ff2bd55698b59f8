import BenchmarkSupport
import Foundation
import KubeAPI
import TideAPI
import TideScaler

/// What one strategy Forecast decision costs with 14 days of history at 15 s (80,640
/// values per metric): CPU time and peak memory, each variant in a process of its own
/// so its peak is its own.
enum ForecastCost {
    static let days = 14
    static let step: TimeInterval = 15
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// The variants, cheapest first.
    static let variants: [(name: String, note: String)] = [
        ("predictive", "baseline: a Predictive decision, no history"),
        ("line", "a Predictive decision with the half hour of query_range it reads, fitting its line"),
        ("standing", "parse 14 days of query_range replies (9 of ≤ 10,000 points), a decision under a standing confident verdict"),
        ("verdict", "the same, and the hourly verdict: the last day replayed twice (1,440 decisions each)"),
    ]

    static func table(runs: Int) throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("forecast-cost-\(getpid())").path
        defer { unlink(output) }
        var rows: [[String]] = []
        for variant in variants {
            var cpu: [Double] = []
            var peak: [Double] = []
            for _ in 0..<max(runs, 1) {
                let result = try Spawn.run(CommandLine.arguments[0], ["--forecast-decision", variant.name, "--cost-output", output])
                guard result.exitCode == 0, let text = try? String(contentsOfFile: output, encoding: .utf8), let milliseconds = Double(text) else {
                    throw CostFailure(variant: variant.name, exitCode: result.exitCode)
                }
                cpu.append(milliseconds)
                peak.append(Double(result.maxRSSKiB) / 1_024)
            }
            rows.append([variant.name, String(format: "%.1f", median(cpu)), String(format: "%.1f", median(peak)), variant.note])
        }
        printTable(
            "One strategy Forecast decision with \(days) days of history at \(Int(step)) s (median of \(max(runs, 1)) processes; budget 50 ms CPU, 30 MiB)",
            headers: ["decision", "CPU ms", "peak MiB", "what it does"], rows: rows)
    }

    struct CostFailure: Error, CustomStringConvertible {
        var variant: String
        var exitCode: Int32
        var description: String { "the \(variant) variant exited \(exitCode) without a result" }
    }

    /// A day's business curve with a batch every hour, quieter at weekends.
    static func load(_ time: TimeInterval) -> Double {
        let hour = (time.truncatingRemainder(dividingBy: 86_400)) / 3_600
        let weekend = Int(time / 86_400) % 7 >= 5
        let bump = hour >= 7 && hour <= 20 ? pow(sin(Double.pi * (hour - 7) / 13), 2) : 0
        return 4 + (weekend ? 15 : 46) * bump + (time.truncatingRemainder(dividingBy: 3_600) < 300 ? 25 : 0)
    }

    /// A `query_range` reply as Prometheus writes it.
    static func reply(from: Date, count: Int) -> [UInt8] {
        var text = #"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":["#
        for index in 0..<count {
            let time = from.timeIntervalSince1970 + Double(index) * step
            if index > 0 { text += "," }
            text += "[\(Int(time)),\"\(ScalingAlgorithm.format(load(time)))\"]"
        }
        text += "]}]}}"
        return Array(text.utf8)
    }

    static func cpuMilliseconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let user = Double(usage.ru_utime.tv_sec) * 1_000 + Double(usage.ru_utime.tv_usec) / 1_000
        let system = Double(usage.ru_stime.tv_sec) * 1_000 + Double(usage.ru_stime.tv_usec) / 1_000
        return user + system
    }

    /// One variant, in this process; writes its CPU milliseconds to `output`.
    static func decide(_ variant: String, output: String?) throws {
        var scaling = Scaling(
            maxReplicas: 20, prometheus: PrometheusSource(address: "http://prometheus:9090", query: "sum(rate(requests_total[30s]))"),
            target: MetricTarget(type: .perReplica, value: "5"))
        scaling.strategy = ["predictive", "line"].contains(variant) ? .predictive : .forecast
        scaling = ApplicationSpec(image: "x", scaling: scaling).withDefaults.scaling!
        let span = variant == "line" ? RecentTrend.span : Double(days) * 86_400
        let start = now.addingTimeInterval(-span)
        let total = Int(span / step)
        // The replies are the server's work: made before the clock starts, one at a time.
        var replies: [(from: Date, body: [UInt8])] = []
        if variant != "predictive" {
            var index = 0
            while index < total {
                let count = min(MetricReader.maximumPointsPerRequest, total - index)
                let from = start.addingTimeInterval(Double(index) * step)
                replies.append((from, reply(from: from, count: count)))
                index += count
            }
        }
        let before = cpuMilliseconds()
        var histories: [String: MetricHistory] = [:]
        if !replies.isEmpty {
            var points: [Backtest.Point] = []
            points.reserveCapacity(total)
            for reply in replies {
                guard case .success(let chunk) = PrometheusClient.parseRange(code: 200, body: reply.body) else { throw CostFailure(variant: variant, exitCode: 1) }
                points += chunk
            }
            replies.removeAll()
            histories["prometheus"] = MetricHistory(points: points, start: start, end: now.addingTimeInterval(-step), step: step)
        }
        var status = ScalingStatus()
        if variant == "standing" {
            status.forecast = .init(checkedTime: Time(now.addingTimeInterval(-60)), confident: true, reason: "ForecastConfident", message: "", periodSeconds: 3_600)
        }
        let decision = ScalingAlgorithm.decide(ScalingInput(
            currentReplicas: 4, scaling: scaling, readings: ["prometheus": .value(load(now.timeIntervalSince1970))], history: status, now: now,
            readyReplicas: 4, metricHistory: histories))
        let spent = cpuMilliseconds() - before
        guard decision.desiredReplicas > 0 else { throw CostFailure(variant: variant, exitCode: 1) }
        if let output { try String(format: "%.3f", spent).write(toFile: output, atomically: true, encoding: .utf8) }
    }
}
