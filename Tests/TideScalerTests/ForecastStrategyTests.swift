import Foundation
import KubeAPI
import KubeClient
import TideAPI
import TideSimulation
import Testing
import TideTestSupport
@testable import TideScaler
@testable import TideMetrics

/// A metric with a base level and a batch of `batch` more for the first five minutes
/// of every hour, at one value a minute.
func batchHistory(start: Date, minutes: Int, base: Double = 10, batch: Double = 30, level: (Int) -> Double = { _ in 1 }) -> MetricHistory {
    MetricHistory(start: start, step: 60, values: (0..<minutes).map { minute in
        (base + (minute % 60 < 5 ? batch : 0)) * level(minute)
    })
}

@Suite("Strategy Forecast: the metric's own pattern, gated by its backtest")
struct ForecastStrategyTests {
    /// A whole hour, so the batches start on the hour.
    let start = Date(timeIntervalSince1970: 1_800_000_000 - 1_800_000_000.truncatingRemainder(dividingBy: 3_600))

    func scaling(_ strategy: ScalingStrategy = .forecast) -> Scaling {
        var scaling = Scaling(
            maxReplicas: 20, prometheus: PrometheusSource(address: "http://prometheus:9090", query: "load"),
            target: MetricTarget(type: .perReplica, value: "5"))
        scaling.strategy = strategy
        return ApplicationSpec(image: "x", scaling: scaling).withDefaults.scaling!
    }

    @Test("a history hides its future; query_range points land on the grid, late or missing ones as gaps")
    func history() {
        let history = MetricHistory(start: start, step: 60, values: [1, 2, nil, 4, 5])
        let seen = history.visible(until: start.addingTimeInterval(180))
        #expect(seen.count == 3 && seen.value(at: start.addingTimeInterval(120)) == nil && seen.value(at: start.addingTimeInterval(240)) == nil)
        #expect(history.value(at: start.addingTimeInterval(240)) == 5)
        #expect(history.mean(from: start, to: start.addingTimeInterval(240))?.mean == 3)
        #expect(history.maximum(from: start, to: start.addingTimeInterval(150)) == 2)
        let points = [0.0, 60, 250].map { Backtest.Point(time: start.addingTimeInterval($0), value: $0) }
        let grid = MetricHistory(points: points, start: start, end: start.addingTimeInterval(300), step: 60)
        #expect(grid.values == [0, 60, 60, nil, nil, 250], "a point counts for one step; 180 and 240 have none")
    }

    @Test("days of query_range replies are read without a JSON tree, and agree with the general reader on every shape")
    func rangeReplies() {
        let replies = [
            #"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"note":"\"values\":[[1,\"9\"]]","x":"\u00e9"},"values":[[1800000000,"1.5"],[1800000015.5,"NaN"],[1800000030,"-2e-3"],[1800000045,"+Inf"]]}]}}"#,
            #"{"data":{"result":[{"values":[[1800000000,"4"]],"metric":{}}],"resultType":"matrix"},"status":"success","warnings":["x"]}"#,
            #"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[]},{"metric":{},"values":[]}]}}"#,
            #"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
            #"{"status":"error","errorType":"bad_data","error":"parse error"}"#,
            #"{"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,"x"]]}]}}"#,
            #"{"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,"2"]"#,
        ]
        for reply in replies {
            let body = Array(reply.utf8)
            let scanned = RangeReplyScanner.scan(body)
            let general: Result<[Backtest.Point], MetricUnavailable> = {
                guard let document = try? JSONDecoder().decode(JSONValue.self, from: Data(body)),
                    document["status"]?.stringValue == "success", document["data"]?["resultType"]?.stringValue == "matrix",
                    let result = document["data"]?["result"]?.arrayValue, result.count == 1, let values = result[0]["values"]?.arrayValue
                else { return .failure(.emptyResult) }
                var points: [Backtest.Point] = []
                for pair in values {
                    guard let time = pair.arrayValue?[0].doubleValue, let value = pair.arrayValue?[1].stringValue.flatMap(Double.init) else { return .failure(.emptyResult) }
                    if value.isFinite { points.append(.init(time: Date(timeIntervalSince1970: time), value: value)) }
                }
                return .success(points)
            }()
            switch general {
            case .success(let points): #expect(scanned?.points == points && scanned?.series == 1, "\(reply)")
            case .failure: #expect(scanned == nil || scanned?.series != 1, "\(reply)")
            }
        }
        #expect(PrometheusClient.parseRange(code: 200, body: Array(replies[2].utf8)) == .failure(.multipleSeries(2)))
        #expect(PrometheusClient.parseRange(code: 200, body: Array(replies[0].utf8)) == .success([
            .init(time: start.addingTimeInterval(1_800_000_000 - start.timeIntervalSince1970), value: 1.5),
            .init(time: Date(timeIntervalSince1970: 1_800_000_030), value: -0.002),
        ]))
    }

    @Test("the forecast is the last occurrences at today's level; out of that pattern (level beyond ½…2, no reference) there is none")
    func forecast() throws {
        let day = 86_400.0
        // A daily shape: 10, with 40 from 09:00 to 10:00.
        func daily(_ minute: Int, scale: Double) -> Double { ((minute % 1_440) / 60 == 9 ? 40 : 10) * scale }
        let history = MetricHistory(start: start, step: 60, values: (0..<(3 * 1_440)).map { daily($0, scale: $0 >= 2 * 1_440 ? 1.5 : 1) })
        // Day 2 at 08:59, 1.5 times busier than day 1: the 09:00 rise is foreseen at that level.
        let now = start.addingTimeInterval(2 * day + 8 * 3_600 + 59 * 60)
        let ahead = try #require(SeasonalForecast.forecast(history.visible(until: now), period: day, now: now, lead: 90))
        #expect(abs(ahead.level - 1.5) < 1e-9)
        #expect(abs(ahead.value - 60) < 1e-9, "40 at 09:00 yesterday, at 1.5 times the level")
        // The lead decides how far ahead: 30 s does not reach 09:00.
        let near = try #require(SeasonalForecast.forecast(history.visible(until: now), period: day, now: now, lead: 30))
        #expect(abs(near.value - 15) < 1e-9)
        // Three times busier than the reference is not this pattern.
        let tripled = MetricHistory(start: start, step: 60, values: (0..<(3 * 1_440)).map { daily($0, scale: $0 >= 2 * 1_440 ? 3 : 1) })
        #expect(SeasonalForecast.forecast(tripled.visible(until: now), period: day, now: now, lead: 90) == nil)
        // A week back is before the history began.
        #expect(SeasonalForecast.forecast(history.visible(until: now), period: 7 * day, now: now, lead: 90) == nil)
        #expect(SeasonalForecast.occurrences(of: 3_600) == 3 && SeasonalForecast.occurrences(of: day) == 1)
    }

    @Test("a period is a pattern only where it foresees better than the last value: an hourly batch is, a daily rush is, a curve that does not repeat is not")
    func periods() {
        let batch = batchHistory(start: start, minutes: 3 * 1_440)
        let to = start.addingTimeInterval(3 * 86_400)
        let from = to.addingTimeInterval(-86_400)
        #expect(SeasonalForecast.bestPeriod(batch, from: from, to: to, lead: 90)?.period == 3_600)
        // A smooth curve that does not repeat within days: nothing foresees it better than its last value.
        let smooth = MetricHistory(start: start, step: 60, values: (0..<(3 * 1_440)).map { (minute: Int) -> Double? in
            let angle = Double(minute) / (2.7 * 1_440) * 2 * Double.pi
            return 30 + 20 * sin(angle)
        })
        #expect(SeasonalForecast.bestPeriod(smooth, from: from, to: to, lead: 90) == nil)
        // The same curve repeating every day is a daily pattern.
        let daily = MetricHistory(start: start, step: 60, values: (0..<(3 * 1_440)).map { (minute: Int) -> Double? in
            let angle = Double(minute % 1_440) / 1_440 * 2 * Double.pi
            return 30 + 20 * sin(angle) + (minute % 1_440 >= 540 && minute % 1_440 < 600 ? 20 : 0)
        })
        #expect(SeasonalForecast.bestPeriod(daily, from: from, to: to, lead: 90)?.period == 86_400)
    }

    @Test("the gate: too little history says so; an hourly batch proves itself, with the replay's figures; a metric without a pattern does not")
    func gate() throws {
        let short = ForecastGate.judge(
            scaling: scaling(), histories: ["prometheus": batchHistory(start: start, minutes: 1_440)], now: start.addingTimeInterval(86_400),
            readyDelay: 30)
        #expect(!short.confident && short.reason == "InsufficientHistory")
        #expect(short.message.contains("1 days of history") && short.message.contains("deciding as Predictive"), "\(short.message)")
        let none = ForecastGate.judge(scaling: scaling(), histories: [:], now: start, readyDelay: 30)
        #expect(none.reason == "InsufficientHistory" && none.message.contains("only Prometheus metrics"))

        let now = start.addingTimeInterval(3 * 86_400)
        let verdict = ForecastGate.judge(
            scaling: scaling(), histories: ["prometheus": batchHistory(start: start, minutes: 3 * 1_440)], now: now, readyDelay: 30)
        #expect(verdict.confident && verdict.reason == "ForecastConfident" && verdict.periodSeconds == 3_600, "\(verdict.message)")
        let (forecastShortfall, predictiveShortfall) = (try #require(verdict.forecastShortfall), try #require(verdict.predictiveShortfall))
        let (forecastIdle, predictiveIdle) = (try #require(verdict.forecastIdle), try #require(verdict.predictiveIdle))
        #expect(forecastShortfall < predictiveShortfall)
        #expect(forecastIdle - predictiveIdle <= predictiveShortfall - forecastShortfall)
        #expect(verdict.message.contains("hourly pattern") && verdict.message.contains("shortfall \(predictiveShortfall) → \(forecastShortfall)"))

        #expect(verdict.message.contains("a decision every 60 s"), "\(verdict.message)")

        // A CronJob every five minutes is judged at its own cadence: its replay decides
        // every 300 s and lags the batch by that much more, so it has more shortfall to cut.
        let slow = ForecastGate.judge(
            scaling: scaling(), histories: ["prometheus": batchHistory(start: start, minutes: 3 * 1_440)], now: now, readyDelay: 30, interval: 300)
        #expect(slow.message.contains("a decision every 300 s"), "\(slow.message)")
        #expect((slow.predictiveShortfall ?? 0) > predictiveShortfall, "\(slow.message)")
        // A scaler every 15 s is replayed a minute apart: the cost of a verdict stays within a decision's budget.
        let fast = ForecastGate.judge(
            scaling: scaling(), histories: ["prometheus": batchHistory(start: start, minutes: 3 * 1_440)], now: now, readyDelay: 30, interval: 15)
        #expect(fast == verdict)

        let flat = MetricHistory(start: start, step: 60, values: Array(repeating: 20, count: 3 * 1_440))
        let unproven = ForecastGate.judge(scaling: scaling(), histories: ["prometheus": flat], now: now, readyDelay: 30)
        #expect(!unproven.confident && unproven.reason == "ForecastNotConfident" && unproven.message.contains("deciding as Predictive"))
    }

    @Test("a replay decides at the scaler's own cadence on the history's grid, never finer than a minute", arguments: [
        (15.0, 60.0, 60.0), (60, 60, 60), (300, 60, 300), (290, 60, 300), (100, 15, 105), (600, 60, 600), (5, 60, 60), (45, 60, 60),
    ])
    func replayInterval(decisionInterval: Double, historyStep: Double, replayed: Double) {
        #expect(ForecastGate.replayInterval(decisionInterval: decisionInterval, historyStep: historyStep) == replayed)
    }

    @Test("a decision: with a confident verdict it scales ahead of the batch; without history it is Predictive exactly and says so; the verdict stands an hour")
    func decision() throws {
        // 10 req/s a minute before the batch starts: 2 replicas for the reading, 8 for the batch.
        let now = start.addingTimeInterval(3 * 86_400 - 60)
        let history = batchHistory(start: start, minutes: 3 * 1_440).visible(until: now)
        let input = ScalingInput(currentReplicas: 2, scaling: scaling(), reading: .value(10), now: now, readyReplicas: 2, metricHistory: history)
        let ahead = ScalingAlgorithm.decide(input)
        #expect(ahead.desiredReplicas == 6 && ahead.limited.reason == "ScaleUpLimit", "the scale-up policy allows 6 of the 8 now: \(ahead.message)")
        #expect(ahead.message.contains("the hourly pattern") && ahead.message.contains("→ 8 replicas"), "\(ahead.message)")
        let condition = try #require(ahead.strategyCondition)
        #expect(condition.type == "ForecastConfident" && condition.status && condition.reason == "ForecastConfident")
        let verdict = try #require(ahead.history.forecast)
        #expect(verdict.checkedTime == Time(now) && verdict.confident)
        // The status stays small: the verdict's figures, no history.
        let encoded = try JSONEncoder().encode(ahead.history)
        #expect(encoded.count < 2_000, "status.scaling is \(encoded.count) bytes")

        // Ten minutes later the verdict stands (it is not replayed again); an hour later it is.
        var later = input
        later.history = ahead.history
        later.now = now.addingTimeInterval(600)
        later.metricHistory = ["prometheus": batchHistory(start: start, minutes: 3 * 1_440 + 10).visible(until: later.now)]
        #expect(ScalingAlgorithm.decide(later).history.forecast?.checkedTime == Time(now))
        later.now = now.addingTimeInterval(3_600)
        later.metricHistory = ["prometheus": batchHistory(start: start, minutes: 3 * 1_440 + 60).visible(until: later.now)]
        #expect(ScalingAlgorithm.decide(later).history.forecast?.checkedTime == Time(later.now))
        #expect(ForecastStrategy.needsHistory(ahead.history, now: now.addingTimeInterval(600)), "a confident verdict needs the history to act")

        // No history: Predictive's decision and memory, and a condition that says why.
        let blind = ScalingAlgorithm.decide(ScalingInput(currentReplicas: 2, scaling: scaling(), reading: .value(10), now: now, readyReplicas: 2))
        let predictive = ScalingAlgorithm.decide(
            ScalingInput(currentReplicas: 2, scaling: scaling(.predictive), reading: .value(10), now: now, readyReplicas: 2))
        var withoutVerdict = blind.history
        withoutVerdict.forecast = nil
        #expect(blind.desiredReplicas == predictive.desiredReplicas && blind.message == predictive.message && withoutVerdict == predictive.history)
        #expect(blind.strategyCondition?.status == false && blind.strategyCondition?.reason == "InsufficientHistory")
        #expect(!ForecastStrategy.needsHistory(blind.history, now: now.addingTimeInterval(600)), "an unconfident verdict reads no history until it is due")

        // Switching to Predictive forgets the verdict but keeps what Predictive shares.
        var switched = input
        switched.scaling = scaling(.predictive)
        switched.history = ahead.history
        let after = ScalingAlgorithm.decide(switched)
        #expect(after.history.forecast == nil && after.history.samples != nil && after.strategyCondition == nil)
    }

    @Test("a fall the pattern foresees is taken at once: after the batch Forecast goes down at the first reading of the fall, where Predictive waits out its hold; a dip inside the batch is not a fall")
    func foreseenFall() throws {
        // A decision a minute, through the end of a batch (minute 5) and up to the next one.
        let hour = start.addingTimeInterval(3 * 86_400)
        let full = batchHistory(start: start, minutes: 3 * 1_440 + 60)
        func run(
            _ strategy: ScalingStrategy, from first: Int, to last: Int, replicas: Int32, dip: (minute: Int, value: Double)? = nil
        ) -> [(minute: Int, replicas: Int32)] {
            var history = ScalingStatus()
            var current = replicas
            var changes: [(minute: Int, replicas: Int32)] = []
            for minute in first...last {
                let now = hour.addingTimeInterval(Double(minute) * 60)
                let reading = minute == dip?.minute ? dip?.value : full.value(at: now)
                let decision = ScalingAlgorithm.decide(ScalingInput(
                    currentReplicas: current, scaling: scaling(strategy), reading: reading.map { .value($0) } ?? .unavailable(.emptyResult), history: history,
                    now: now, readyReplicas: current,
                    metricHistory: strategy == .forecast ? full.visible(until: now) : nil))
                history = decision.history
                if decision.desiredReplicas != current { changes.append((minute, decision.desiredReplicas)) }
                current = decision.desiredReplicas
            }
            return changes
        }
        // 40 req/s during the batch: 8 replicas; 10 after it: 2.
        let forecast = run(.forecast, from: 0, to: 10, replicas: 8)
        let predictive = run(.predictive, from: 0, to: 10, replicas: 8)
        #expect(forecast.first?.minute == 5 && forecast.first?.replicas == 2, "down at the first reading after the batch: \(forecast)")
        let predictiveDown = try #require(predictive.first, "\(predictive)")
        #expect(predictiveDown.minute >= 6 && predictiveDown.replicas < 8, "Predictive holds at least a minute: \(predictive)")
        // A reading of 10 in the batch's third minute: the pattern foresees 40 over the
        // lead, so it is no fall, and the replicas stay.
        let dip = run(.forecast, from: 0, to: 3, replicas: 8, dip: (2, 10))
        #expect(dip.isEmpty, "no scale-down on a dip the pattern does not foresee: \(dip)")
    }

    @Test("simulated over four days with an hourly batch, Forecast at a CronJob's minute has less shortfall than Predictive and the HPA, and no more idle than the HPA; with ±8 % noise it still cuts more shortfall than it adds idle")
    func simulated() {
        let days = 4
        let trace = ScalingSimulation.Trace(
            name: "hourly batch", load: (0..<(days * ScalingSimulation.day)).map { second in 10 + (second % 3_600 < 300 ? 30 : 0) })
        let from = (days - 1) * ScalingSimulation.day
        func run(_ strategy: ScalingStrategy) -> ScalingSimulation.Score {
            ScalingSimulation.run(trace, policy: .tide(strategy.rawValue, scaling: scaling(strategy), interval: 60), target: 5, scoreFrom: from)
        }
        let (hpa, predictive, forecast) = (run(.hpa), run(.predictive), run(.forecast))
        #expect(forecast.underProvisioned < predictive.underProvisioned && forecast.underProvisioned < hpa.underProvisioned,
            "shortfall: Forecast \(forecast.underProvisioned), Predictive \(predictive.underProvisioned), HPA \(hpa.underProvisioned)")
        #expect(forecast.overProvisioned <= hpa.overProvisioned, "idle: Forecast \(forecast.overProvisioned), HPA \(hpa.overProvisioned)")
        #expect(forecast.downDuringOutage == 0)

        // The same batch with ±8 % minute-level noise. Scored against the lagging reading
        // instead of the load, the gate took the forecast's timely scale-ups for idle
        // and never let it act here: Forecast was Predictive to the replica·second.
        // The query says what the simulation's metric is: a mean over 30 s.
        let noisy = ScalingSimulation.noisy(trace)
        func runNoisy(_ strategy: ScalingStrategy) -> ScalingSimulation.Score {
            var rate = scaling(strategy)
            rate.prometheus?.query = "sum(rate(requests_total[30s]))"
            return ScalingSimulation.run(noisy, policy: .tide(strategy.rawValue, scaling: rate, interval: 60), target: 5, scoreFrom: from)
        }
        let (noisyPredictive, noisyForecast) = (runNoisy(.predictive), runNoisy(.forecast))
        let cut = noisyPredictive.underProvisioned - noisyForecast.underProvisioned
        let added = noisyForecast.overProvisioned - noisyPredictive.overProvisioned
        #expect(cut > 0 && added <= cut, "with noise: shortfall \(noisyPredictive.underProvisioned) → \(noisyForecast.underProvisioned), idle \(noisyPredictive.overProvisioned) → \(noisyForecast.overProvisioned)")
    }
}

@Suite("Strategy Forecast against a Prometheus holding days of history", .enabled(if: prometheusBinary != nil || prometheusRequired))
struct ForecastRealPrometheusTests {
    @Test("backfilled with three days of an hourly batch (promtool), the scaler reads the history, proves the pattern, scales ahead of the next batch and writes the verdict and condition")
    func backfilled() async throws {
        let binary = try #require(prometheusBinary, "Prometheus is required here: apt-get install -y --no-install-recommends prometheus")
        // On a whole minute, as the scaler's history grid is: the batch's first sample
        // is on the grid, not up to a minute after it.
        let seconds = Date().timeIntervalSince1970.rounded(.down)
        let now = Date(timeIntervalSince1970: seconds - seconds.truncatingRemainder(dividingBy: 60))
        let nextBatch = now.addingTimeInterval(60)
        var lines = ["# TYPE tide_load gauge"]
        var time = now.addingTimeInterval(-3 * 86_400 - 7_200)
        while time < now.addingTimeInterval(-20) {
            let phase = time.timeIntervalSince(nextBatch).truncatingRemainder(dividingBy: 3_600)
            let inBatch = (phase < 0 ? phase + 3_600 : phase) < 300
            lines.append("tide_load{app=\"batch\"} \(inBatch ? 40 : 10) \(Int(time.timeIntervalSince1970))")
            time = time.addingTimeInterval(60)
        }
        try await PrometheusProcess.withBackfilled(binary: binary, lines) { prometheus, cluster in
            try await cluster.create("batch", prometheus: prometheus.url, replicas: 2) { scaling in
                scaling.prometheus?.query = #"tide_load{app="batch"}"#
                scaling.maxReplicas = 20
                scaling.strategy = .forecast
            }
            let outcome = await Scaler(client: cluster.client, namespace: "default", name: "batch", now: { now }).runOnce()
            #expect(outcome.kind == .decided, "\(outcome.line)")
            let stored = try await cluster.applications.get("batch")
            #expect(stored.spec.replicas == 6, "a minute before the batch, 10 req/s asks for 2 and the hourly pattern for 8 (6 as the scale-up policy allows): \(outcome.line)")
            let status = try await cluster.scalerStatus("batch")
            let verdict = try #require(status?.scaling?.forecast)
            #expect(verdict.confident && verdict.periodSeconds == 3_600, "\(verdict.message) \(outcome.line)")
            let condition = try #require(status?.conditions?.first { $0.type == "ForecastConfident" })
            #expect(condition.status == "True" && condition.reason == "ForecastConfident" && condition.message.contains("hourly pattern"))
            #expect(verdict.forecastShortfall.map { $0 < verdict.predictiveShortfall ?? 0 } == true)

            // Back to Predictive: the verdict and its condition are removed from what the server stores.
            var application = stored
            application.spec.scaling?.strategy = .predictive
            try await cluster.update(application)
            _ = await Scaler(client: cluster.client, namespace: "default", name: "batch", now: { now.addingTimeInterval(15) }).runOnce()
            let switched = try await cluster.scalerStatus("batch")
            #expect(switched?.scaling?.forecast == nil)
            #expect(switched?.conditions?.contains { $0.type == "ForecastConfident" } == false)
        }
    }
}
