import Foundation
import KubeAPI
import TideAPI
import Testing
@testable import TideScaler
import TideSimulation

/// Noise drawn uniformly within ± `amplitude`, the same on every run.
struct SeededNoise {
    var state: UInt64

    mutating func next(_ amplitude: Double) -> Double {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return (Double(state >> 11) / Double(UInt64(1) << 53) * 2 - 1) * amplitude
    }
}

@Suite("The last half hour as a line with noise")
struct RecentTrendTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// A history on the minute grid ending a minute before `now`, `minutes` long, of
    /// `value(minutesAgo)`; the reading now is `value(0)`.
    func trend(minutes: Int = 35, _ value: (Int) -> Double) -> RecentTrend? {
        let values = (1...minutes).reversed().map { value($0) }
        let history = MetricHistory(start: now.addingTimeInterval(-Double(minutes) * 60), step: 60, values: values)
        return RecentTrend(history: history, value: value(0), now: now)
    }

    @Test("noise around a level or a slope is a line with noise, with the level, the slope's direction and the noise it shows")
    func lineWithNoise() throws {
        var noise = SeededNoise(state: 1)
        let draws = (0...40).map { _ in noise.next(2) }
        let level = try #require(trend { 22 + draws[$0] })
        #expect(level.isLineWithNoise, "Ljung–Box \(level.ljungBox), largest residual \(level.largestResidual)")
        #expect(level.direction == 0 && abs(level.level - 22) < 1, "\(level.level), slope \(level.slope)")
        // Uniform within ±2: a standard deviation of 2 / √3.
        #expect(abs(level.spread - 2 / 3.squareRoot()) < 0.4, "\(level.spread)")

        // A business morning: +10 per hour, with the same noise.
        let rising = try #require(trend { 30 - Double($0) / 6 + draws[$0] })
        #expect(rising.isLineWithNoise && rising.direction == 1, "slope \(rising.slope) ± \(rising.slopeError)")
        #expect(abs(rising.expected(after: 600) - 31.67) < 1.5, "the line 10 minutes on: \(rising.expected(after: 600))")
        let falling = try #require(trend { 30 + Double($0) / 6 + draws[$0] })
        #expect(falling.direction == -1)
        // A level line expects its level, whatever the lead.
        #expect(level.expected(after: 600) == level.level)
    }

    @Test("a step, a smooth curve, a five-minute cycle, a lone burst and a perfectly straight line are not a line with noise")
    func notALineWithNoise() throws {
        var noise = SeededNoise(state: 2)
        let draws = (0...40).map { _ in noise.next(2) }
        let cases: [(String, (Int) -> Double)] = [
            ("a step ten minutes ago", { ($0 <= 10 ? 45 : 20) + draws[$0] }),
            ("a smooth curve", { 30 + 20 * sin(Double($0) / 12) }),
            ("a five-minute cycle", { 5 + Double((35 - $0) % 5) * 11 }),
            ("a lone burst among noise", { ($0 == 12 ? 90 : 20) + draws[$0] }),
            ("a straight line", { 10 + Double($0) }),
        ]
        for (name, value) in cases {
            let fitted = try #require(trend(value), "\(name)")
            #expect(!fitted.isLineWithNoise, "\(name): Ljung–Box \(fitted.ljungBox), largest residual \(fitted.largestResidual), spread \(fitted.spread)")
        }
    }

    @Test("too little history is no line: fewer than 20 readings, or gaps that leave fewer; nothing at or after now counts")
    func tooLittle() {
        #expect(trend(minutes: 15) { _ in 20 } == nil)
        var values: [Double?] = (0..<35).map { _ in 20 }
        for gap in stride(from: 0, to: 35, by: 2) { values[gap] = nil }
        let gappy = MetricHistory(start: now.addingTimeInterval(-35 * 60), step: 60, values: values)
        #expect(RecentTrend(history: gappy, value: 20, now: now) == nil)
        // A history reaching past now (a replay's whole day) is read only up to now.
        var noise = SeededNoise(state: 3)
        let past = (0..<35).map { _ in 20 + noise.next(2) }
        let future: [Double?] = past + Array(repeating: 500, count: 30)
        let whole = MetricHistory(start: now.addingTimeInterval(-35 * 60), step: 60, values: future)
        #expect(RecentTrend(history: whole, value: 20, now: now)?.level == RecentTrend(history: whole.visible(until: now), value: 20, now: now)?.level)
        #expect(RecentTrend(history: whole, value: 20, now: now).map { $0.level < 25 } == true)
    }
}

@Suite("Strategy Predictive on a noisy metric")
struct PredictiveOnNoiseTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// Predictive's test spec, with a query whose lag (15 s) the simulation's 30 s mean matches.
    func scaling(_ strategy: ScalingStrategy = .predictive) -> Scaling {
        PredictiveStrategyTests().scaling(strategy, query: "sum(rate(requests_total[30s]))")
    }

    /// One decision at `now` on 35 minutes of `value(minutesAgo)` at the minute grid,
    /// reading `value(0)`, a minute after the previous decision.
    func decide(_ strategy: ScalingStrategy = .predictive, current: Int32, _ value: (Int) -> Double, history: Bool = true) -> ScalingDecision {
        let values = (1...35).reversed().map { value($0) }
        let recorded = MetricHistory(start: now.addingTimeInterval(-35 * 60), step: 60, values: values)
        var memory = ScalingStatus()
        memory.lastQueryTime = Time(now.addingTimeInterval(-60))
        return ScalingAlgorithm.decide(ScalingInput(
            currentReplicas: current, scaling: scaling(strategy), reading: .value(value(0)), history: memory, now: now,
            readyReplicas: current, metricHistory: history ? recorded : nil))
    }

    @Test("a dip inside the noise of a level half hour keeps the replicas the level needs, and says why; without the history the dip scales down")
    func dipInTheNoise() {
        var noise = SeededNoise(state: 4)
        let draws = (0...40).map { _ in noise.next(2) }
        // A level of 21.5 (5 replicas at 5 each) and a reading of 19.8 now (4 replicas).
        let value: (Int) -> Double = { $0 == 0 ? 19.8 : 21.5 + draws[$0] }
        let onTheLine = decide(current: 5, value)
        #expect(onTheLine.desiredReplicas == 5, "\(onTheLine.message)")
        #expect(onTheLine.message.contains("the last half hour is a level line with noise of ±"), "\(onTheLine.message)")
        #expect(decide(current: 5, value, history: false).desiredReplicas == 4)
        #expect(decide(.hpa, current: 5, value).desiredReplicas == 4)
    }

    @Test("on a rising noisy half hour: up to what the line reaches when new pods are ready; a dip inside the noise does not take replicas away")
    func risingLine() {
        var noise = SeededNoise(state: 5)
        let draws = (0...40).map { _ in noise.next(2) }
        // +0.5 a minute to 25 now: 5 replicas now, more than 25 a few minutes on.
        let rising: (Int) -> Double = { 25 - Double($0) / 2 + draws[$0] }
        let up = decide(current: 5, rising)
        #expect(up.desiredReplicas == 6, "\(up.message)")
        #expect(up.message.contains("a rising line"), "\(up.message)")
        // A dip to 23.5 now, within the noise (5 replicas would serve it).
        let dip = decide(current: 6, { $0 == 0 ? 23.5 : rising($0) })
        #expect(dip.desiredReplicas == 6, "\(dip.message)")
        #expect(decide(current: 6, { $0 == 0 ? 23.5 : rising($0) }, history: false).desiredReplicas == 5)
    }

    @Test("a reading that stands out of the half hour's noise is decided on the reading: a surge scales up at once")
    func surge() {
        var noise = SeededNoise(state: 6)
        let draws = (0...40).map { _ in noise.next(2) }
        let surge = decide(current: 5, { $0 == 0 ? 60 : 22 + draws[$0] })
        #expect(surge.desiredReplicas == 10, "\(surge.message)")
        #expect(!surge.message.contains("half hour"), "\(surge.message)")
    }

    @Test("simulated over a noisy week, Predictive reading the half hour has less shortfall than the HPA, and less idle than Predictive on its readings alone, at 15 s and at a CronJob's minute; on the plain week less of both than the HPA, within 1.5 times its changes")
    func simulatedNoisyWeek() throws {
        let traces = ScalingSimulation.multiDayTraces().filter { $0.name != "week, hourly batch" }.map { ScalingSimulation.noisy($0) }
        let from = ScalingSimulation.multiDayScoreFrom()
        /// Predictive as it decided before it read the history: on its readings alone.
        func readingsAlone(interval: Int) -> ScalingSimulation.Policy {
            let scaling = scaling()
            return ScalingSimulation.Policy(name: "readings alone", interval: interval) { current, metric, second, observed, state in
                let decision = ScalingAlgorithm.decide(ScalingInput(
                    currentReplicas: current, scaling: scaling, reading: metric.map { .value($0) } ?? .unavailable(.unreachable("outage")),
                    history: state, now: ScalingSimulation.date(second), readyReplicas: observed.ready, scaleUpReady: observed.scaleUpReady))
                state = decision.history
                return decision.desiredReplicas
            }
        }
        for trace in traces {
            for interval in [15, 60] {
                let hpa = ScalingSimulation.run(trace, policy: .tide("HPA", scaling: scaling(.hpa), interval: interval), target: 5, scoreFrom: from)
                let alone = ScalingSimulation.run(trace, policy: readingsAlone(interval: interval), target: 5, scoreFrom: from)
                let line = ScalingSimulation.run(trace, policy: .tide("Predictive", scaling: scaling(), interval: interval), target: 5, scoreFrom: from)
                let figures = "\(trace.name) at \(interval) s: shortfall \(line.underProvisioned) (HPA \(hpa.underProvisioned), readings alone \(alone.underProvisioned)), idle \(line.overProvisioned) (\(hpa.overProvisioned), \(alone.overProvisioned)), changes \(line.scaleChanges) (\(hpa.scaleChanges), \(alone.scaleChanges))"
                #expect(line.underProvisioned < hpa.underProvisioned, "\(figures)")
                #expect(line.overProvisioned < alone.overProvisioned, "\(figures)")
                #expect(Double(line.scaleChanges) <= 1.5 * Double(hpa.scaleChanges), "\(figures)")
                #expect(line.downDuringOutage == 0)
                if trace.name.hasPrefix("week ±") {
                    #expect(line.overProvisioned < hpa.overProvisioned, "\(figures)")
                }
            }
        }
    }
}

@Suite("Strategy Predictive against a Prometheus holding a noisy half hour", .enabled(if: prometheusBinary != nil || prometheusRequired))
struct PredictiveRealPrometheusTests {
    @Test("the scaler reads the half hour with query_range, keeps the replicas its level needs through a dip inside the noise, and says so; the HPA strategy scales down on the dip")
    func dipInsideTheNoise() async throws {
        let binary = try #require(prometheusBinary, "Prometheus is required here: apt-get install -y --no-install-recommends prometheus")
        let seconds = Date().timeIntervalSince1970.rounded(.down)
        let now = Date(timeIntervalSince1970: seconds - seconds.truncatingRemainder(dividingBy: 60))
        // 40 minutes of a level of 21.5 (5 replicas at 5 each) with ±2 of noise, a sample
        // every 15 s; the last one, 20 s before now, a dip to 19.8 (4 replicas would serve it).
        // A draw whose residuals pass the independence check, as about 93 % of draws of
        // pure noise do (the check rejects the rest, and Predictive reads them as before).
        var noise = SeededNoise(state: 8)
        var lines = ["# TYPE tide_load gauge"]
        var time = now.addingTimeInterval(-40 * 60)
        while time < now.addingTimeInterval(-20) {
            let last = time.addingTimeInterval(15) >= now.addingTimeInterval(-20)
            let value = last ? 19.8 : 21.5 + noise.next(2)
            for app in ["predictive", "hpa"] {
                lines.append("tide_load{app=\"\(app)\"} \(ScalingAlgorithm.format((value * 1000).rounded() / 1000)) \(Int(time.timeIntervalSince1970))")
            }
            time = time.addingTimeInterval(15)
        }
        try await PrometheusProcess.withBackfilled(binary: binary, lines) { prometheus, cluster in
            for (app, strategy) in [("predictive", ScalingStrategy.predictive), ("hpa", .hpa)] {
                try await cluster.create(app, prometheus: prometheus.url, replicas: 5) { scaling in
                    scaling.prometheus?.query = "tide_load{app=\"\(app)\"}"
                    scaling.strategy = strategy
                }
            }
            let predictive = await Scaler(client: cluster.client, namespace: "default", name: "predictive", now: { now }).runOnce()
            #expect(predictive.kind == .decided, "\(predictive.line)")
            #expect(predictive.line.contains("the last half hour is a level line with noise of ±"), "\(predictive.line)")
            #expect(try await cluster.applications.get("predictive").spec.replicas == 5, "\(predictive.line)")
            let hpa = await Scaler(client: cluster.client, namespace: "default", name: "hpa", now: { now }).runOnce()
            #expect(try await cluster.applications.get("hpa").spec.replicas == 4, "\(hpa.line)")
        }
    }
}

@Suite("What history a decision reads")
struct HistorySpanTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func scaling(_ strategy: ScalingStrategy?) -> Scaling {
        var scaling = Scaling(maxReplicas: 5, prometheus: PrometheusSource(address: "http://p:9090", query: "q"), target: .init(type: .perReplica, value: "5"))
        scaling.strategy = strategy
        return scaling
    }

    @Test("the HPA strategy reads none, Predictive the last half hour, Forecast its days when it needs its pattern and the half hour under a standing unconfident verdict")
    func spans() {
        #expect(MetricReader.historySpan(for: scaling(nil), status: nil, now: now) == nil)
        #expect(MetricReader.historySpan(for: scaling(.hpa), status: nil, now: now) == nil)
        #expect(MetricReader.historySpan(for: scaling(.predictive), status: nil, now: now) == RecentTrend.span)
        #expect(MetricReader.historySpan(for: scaling(.forecast), status: nil, now: now) == ForecastGate.historyNeeded)
        var standing = ScalingStatus()
        standing.forecast = .init(checkedTime: Time(now.addingTimeInterval(-60)), confident: false, reason: "ForecastNotConfident", message: "", periodSeconds: nil)
        #expect(MetricReader.historySpan(for: scaling(.forecast), status: standing, now: now) == RecentTrend.span)
        standing.forecast?.confident = true
        #expect(MetricReader.historySpan(for: scaling(.forecast), status: standing, now: now) == ForecastGate.historyNeeded)
    }

    @Test("NaN or an infinity in the history (a rate over nothing) is a gap in the line, not a poisoned one; a reading that is not finite leaves the decision to the readings alone")
    func nonFiniteHistory() throws {
        let spec = PredictiveStrategyTests().scaling()
        var noise = SeededNoise(state: 9)
        let clean: [Double?] = (0..<35).map { _ in 21.5 + noise.next(2) }
        let line = try #require(RecentTrend(history: MetricHistory(start: now.addingTimeInterval(-35 * 60), step: 60, values: clean), value: 21, now: now))
        for bad in [Double.nan, .infinity] {
            var values = clean
            values[20] = bad
            let history = MetricHistory(start: now.addingTimeInterval(-35 * 60), step: 60, values: values)
            let gapped = try #require(RecentTrend(history: history, value: 21, now: now))
            #expect(gapped.readings == line.readings - 1 && gapped.isLineWithNoise == line.isLineWithNoise && abs(gapped.level - line.level) < 0.5, "\(bad)")
            #expect(RecentTrend(history: history, value: bad, now: now) == nil)
            let decision = ScalingAlgorithm.decide(ScalingInput(
                currentReplicas: 5, scaling: spec, reading: .value(21), now: now, readyReplicas: 5, metricHistory: history))
            #expect(decision.desiredReplicas == 5, "\(decision.message)")
        }
    }
}
