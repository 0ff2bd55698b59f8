import Foundation
import LocalMode
import TideAPI
import TideScaler
import Testing

@Suite("A local run's backfilled history")
struct BackfilledHistoryTests {
    static let anchor = Date(timeIntervalSince1970: 1_800_000_017)

    @Test("the profile comes every whole hour before the run's start, resting at its first rate in between; the counter rises by the rate and stops before the end")
    func shape() throws {
        let profile = try LoadProfile(parsing: "warm-up:45:2-2,ramp-up:15:2-40,plateau:120:40-40")
        let history = BackfilledHistory(profile: profile, days: 1, anchor: Self.anchor)
        #expect(history.rate(at: Self.anchor.addingTimeInterval(-3_600 + 10)) == 2)
        #expect(history.rate(at: Self.anchor.addingTimeInterval(-7_200 + 100)) == 40)
        #expect(history.rate(at: Self.anchor.addingTimeInterval(-3_600 + 1_000)) == 2, "the first rate holds until the next occurrence")
        let text = history.openMetrics(namespace: "default", service: "hello", end: Self.anchor.addingTimeInterval(-600))
        let lines = text.split(separator: "\n")
        #expect(lines.first == "# TYPE hello_requests counter" && lines.last == "# EOF")
        let samples = lines.dropFirst().dropLast().map { $0.split(separator: " ") }
        #expect(samples.count == (86_400 - 600) / 5)
        #expect(samples.allSatisfy { $0[0] == #"hello_requests_total{namespace="default",service="hello",instance="history"}"# })
        let values = samples.map { Double($0[1])! }, times = samples.map { Int($0[2])! }
        #expect(zip(values, values.dropFirst()).allSatisfy { $1 >= $0 }, "a counter never falls")
        #expect(times.last! < Int(Self.anchor.timeIntervalSince1970) - 600)
    }

    @Test("a promtool that fails is a clear error with its exit status and last line, and leaves no input file behind")
    func promtoolFails() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tide-backfill-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let promtool = folder.appendingPathComponent("promtool")
        try "#!/bin/sh\necho 'starting' >&2\necho 'invalid metric type \"bogus\"' >&2\nexit 3\n".write(to: promtool, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: promtool.path)
        let history = BackfilledHistory(profile: .short, days: 1, anchor: Date())
        do {
            try await history.write(into: folder.appendingPathComponent("data"), promtool: promtool.path, namespace: "default", service: "hello")
            Issue.record("a failing promtool was not reported")
        } catch {
            #expect("\(error)" == #"promtool could not backfill the history (exit 3): invalid metric type "bogus""#)
        }
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("history.om").path))
    }

    @Test("three days of the local Forecast profile, read as the scaler reads them, make the gate confident in the hourly pattern, wherever the run starts in the minute", arguments: Array(stride(from: 0, to: 60, by: 5)))
    func gateIsConfident(second: Int) throws {
        let profile = try LoadProfile(parsing: "warm-up:45:2-2,ramp-up:15:2-40,plateau:120:40-40")
        let anchor = Date(timeIntervalSince1970: 1_800_000_000 - 1_800_000_000.truncatingRemainder(dividingBy: 60) + Double(second))
        let history = BackfilledHistory(profile: profile, days: 3, anchor: anchor)
        let step = Scaler.historyStep
        let now = anchor.addingTimeInterval(5)
        let start = now.addingTimeInterval(-3 * 86_400 - now.timeIntervalSince1970.truncatingRemainder(dividingBy: step))
        // What `sum(rate(hello_requests_total[10s]))` reads at each minute: the mean rate of the 10 s before it.
        let values = stride(from: 0.0, to: 3 * 86_400 - step, by: step).map { offset -> Double? in
            let time = start.addingTimeInterval(offset)
            return (1...10).map { history.rate(at: time.addingTimeInterval(-Double($0) + 0.5)) }.reduce(0, +) / 10
        }
        var scaling = Scaling(maxReplicas: 8, prometheus: PrometheusSource(address: "http://127.0.0.1:9090", query: "sum(rate(hello_requests_total[10s]))"),
            target: MetricTarget(type: .perReplica, value: "5"))
        scaling.strategy = .forecast
        scaling = ApplicationSpec(image: "x", scaling: scaling).withDefaults.scaling!
        let verdict = ForecastGate.judge(
            scaling: scaling, histories: ["prometheus": MetricHistory(start: start, step: step, values: values)], now: now, readyDelay: 30, interval: 5)
        #expect(verdict.confident && verdict.periodSeconds == 3_600, "\(verdict.message)")
    }
}
