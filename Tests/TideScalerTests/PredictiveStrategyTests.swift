import Foundation
import KubeAPI
import TideAPI
import Testing
@testable import TideScaler
import TideSimulation

@Suite("Strategy Predictive")
struct PredictiveStrategyTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func samples(_ values: [(age: Double, value: Double)]) -> [ScalingStatus.MetricSample] {
        values.map { .init(name: ScalingMetric.singleMetricName, time: Time(start.addingTimeInterval(-$0.age)), value: ScalingAlgorithm.format($0.value)) }
    }

    func scaling(_ strategy: ScalingStrategy = .predictive, query: String = "q") -> Scaling {
        var scaling = Scaling(maxReplicas: 20, prometheus: PrometheusSource(address: "http://p:9090", query: query), target: .init(type: .perReplica, value: "5"))
        scaling.strategy = strategy
        return ApplicationSpec(image: "x", scaling: scaling).withDefaults.scaling!
    }

    @Test("a sustained rise is projected ahead by the lead time; a step, a dip, noise or too short a history is not")
    func projection() {
        let cases: [(String, [(age: Double, value: Double)], Double, Double, Double)] = [
            ("rising 1/s for a minute", [(45, 5), (30, 20), (15, 35)], 50, 35, 50 + 1 * 35),
            ("the rise stopped (a step seen through a 30 s rate)", [(45, 10), (30, 10), (15, 30)], 50, 35, 50),
            ("the rise stopped, and noise on the level after it inches up", [(45, 10), (30, 16.6), (15, 27.9)], 28.1, 35, 28.1),
            ("still rising, if more slowly than at first", [(45, 10), (30, 20), (15, 27)], 33, 35, 33 + 0.506_667 * 35),
            ("a dip in the middle", [(45, 10), (30, 30), (15, 20)], 40, 35, 40),
            ("only one earlier reading", [(15, 30)], 50, 35, 50),
            ("readings within 30 s only", [(20, 30), (10, 40)], 50, 35, 50),
            ("falling", [(45, 50), (30, 40), (15, 30)], 20, 35, 20),
            ("readings older than the last minute are not the trend", [(300, 1), (240, 2), (180, 3)], 50, 35, 50),
            ("at most twice the value", [(45, 2), (30, 4), (15, 6)], 8, 200, 16),
        ]
        for (name, history, value, lead, expected) in cases {
            let projected = PredictiveStrategy.projection(of: value, samples: samples(history), now: start, interval: 15, lead: lead)
            #expect(abs(projected - expected) < 0.01, "\(name): \(projected)")
        }
    }

    /// Readings every 15 s for five minutes, oldest first, ending at `start`.
    func readings(_ value: (Int) -> Double) -> [(age: Double, value: Double)] {
        (0..<20).map { index in (Double(20 - index) * 15, value(index)) }
    }

    @Test("the spread of a metric's rises: none for a steady trend or a lone step, noise's own for noise, none from too few readings")
    func riseNoise() {
        func noise(_ history: [(age: Double, value: Double)]) -> Double {
            PredictiveStrategy.riseNoise(history.map { (-$0.age, $0.value) }, over: 60)
        }
        // A steady trend rises as much over every minute: nothing varies by chance.
        #expect(noise(readings { 10 + 0.5 * Double($0) }) < 1e-9)
        // A batch that started: one step among flat readings is not noise.
        #expect(noise(readings { $0 < 16 ? 20 : 45 }) < 1e-9)
        // Swinging within ±2 around 20, no trend: the rises spread about as far.
        let swings: [Double] = [2, -1, -2, 1, 0, 2, -2]
        let swinging = noise(readings { 20 + swings[$0 % swings.count] })
        #expect(swinging > 1 && swinging < 6, "\(swinging)")
        // Fewer than five rises over the span: too few to tell.
        #expect(noise([(60, 10), (45, 30), (30, 10), (15, 30), (0, 10)]) == 0)
    }

    @Test("a rise inside the metric's noise is not projected; the same rise on a quiet metric is")
    func noisyRiseIsNotProjected() {
        // The last minute rises 10 → 16 in both; before it, one metric was flat, the other
        // swung ±4 from reading to reading.
        let lastMinute: [(age: Double, value: Double)] = [(45, 10), (30, 12), (15, 14)]
        let swings: [Double] = [4, -2, -4, 2, 0, 4, -4]
        let quiet = readings { _ in 10 }.filter { $0.age > 60 } + lastMinute
        let swinging = readings { 10 + swings[$0 % swings.count] }.filter { $0.age > 60 } + lastMinute
        let steady = PredictiveStrategy.projection(of: 16, samples: samples(quiet), now: start, interval: 15, lead: 30)
        let noisy = PredictiveStrategy.projection(of: 16, samples: samples(swinging), now: start, interval: 15, lead: 30)
        #expect(abs(steady - 20) < 0.01, "\(steady)")
        #expect(noisy == 16)
    }

    @Test("the largest chance rise: none for a steady trend, the jump for a level that jumps now and then, nothing known from fewer than five rises")
    func chanceRise() {
        func largest(_ history: [(age: Double, value: Double)], over span: Double = 45) -> Double? {
            PredictiveStrategy.chanceRise(history.map { (-$0.age, $0.value) }, over: span)
        }
        #expect(largest(readings { 10 + 0.5 * Double($0) }).map { $0 < 1e-9 } == true, "a steady trend rises alike over every stretch")
        // A level that jumps by 3 for a minute now and then and is flat otherwise: the
        // robust spread sees nothing, the largest chance rise sees the jump.
        let jumping = readings { index in (8..<12).contains(index) ? 23 : 20 }
        #expect(PredictiveStrategy.riseNoise(jumping.map { (-$0.age, $0.value) }, over: 45) < 1e-9)
        #expect(largest(jumping).map { abs($0 - 3) < 1e-9 } == true, "\(String(describing: largest(jumping)))")
        #expect(largest([(60, 10), (45, 12), (30, 14), (15, 16), (0, 18)]) == nil)
    }

    @Test("a trend scales up as soon as it needs another replica, inside the tolerance the HPA keeps; not when the metric's chance rises could make it")
    func trendNeedsNoDeadBand() {
        func decide(_ strategy: ScalingStrategy, _ history: [(age: Double, value: Double)], value: Double) -> ScalingDecision {
            var remembered = ScalingStatus()
            remembered.samples = samples(history)
            remembered.lastQueryTime = Time(start.addingTimeInterval(-15))
            remembered.readyDelaySeconds = 20
            return ScalingAlgorithm.decide(ScalingInput(currentReplicas: 10, scaling: scaling(strategy), reading: .value(value), history: remembered, now: start))
        }
        // A slow steady rise, 49 → 50.9 req/s over five minutes: 10 replicas at 5 each is a
        // ratio of 1.02, inside the 10 % tolerance, so the HPA keeps 10.
        let slow = readings { 49 + 0.1 * Double($0) }
        #expect(decide(.hpa, slow, value: 51).desiredReplicas == 10)
        let predictive = decide(.predictive, slow, value: 51)
        #expect(predictive.desiredReplicas == 11, "\(predictive.message)")
        #expect(predictive.message.contains("rising toward"), "\(predictive.message)")
        // The same last minute on a metric whose level jumps by 3 now and then: a rise of
        // 1 past the boundary is within what chance makes, and the tolerance holds.
        let jumpy = readings { index in (4..<8).contains(index) ? 50 : 47 }.filter { $0.age > 60 } + [(45, 50.6), (30, 50.7), (15, 50.8)]
        #expect(decide(.predictive, jumpy, value: 51).desiredReplicas == 10)
    }

    @Test("a scale-down on a swinging metric keeps room for its usual rise before a new pod is ready, and says so")
    func scaleDownKeepsRoomForTheSwing() {
        func decide(_ history: [(age: Double, value: Double)], value: Double) -> ScalingDecision {
            var remembered = ScalingStatus()
            remembered.samples = samples(history)
            remembered.lastQueryTime = Time(start.addingTimeInterval(-15))
            remembered.readyDelaySeconds = 20
            // Lower demand has held past the hold, so the window allows a scale-down.
            remembered.recommendations = [.init(time: Time(start.addingTimeInterval(-200)), replicas: 4)]
            return ScalingAlgorithm.decide(ScalingInput(currentReplicas: 10, scaling: scaling(), reading: .value(value), history: remembered, now: start))
        }
        // Flat at 20 (4 replicas' worth): down to 4.
        let quiet = decide(readings { _ in 20 }, value: 20)
        #expect(quiet.desiredReplicas == 4, "\(quiet.message)")
        // Swinging within ±10 around 20: its rises over a pod start spread by about 10, so
        // it keeps what 20 + that needs, never more than it has.
        let swings: [Double] = [10, -5, -10, 5, 0, 10, -10]
        let swinging = decide(readings { 20 + swings[$0 % swings.count] }, value: 20)
        #expect(swinging.desiredReplicas > 4 && swinging.desiredReplicas <= 10, "\(swinging.message)")
        #expect(swinging.message.contains("the metric swings by"), "\(swinging.message)")
    }

    @Test("a query's longest range sets the metric's lag: half of it, bounded; none for HTTP or a query without a range")
    func metricLag() {
        let cases: [(String, TimeInterval?)] = [
            ("sum(rate(http_requests_total[30s]))", 30),
            ("sum(rate(a[1m])) / sum(rate(b[5m]))", 300),
            ("max_over_time(rate(a[1m])[10m:30s])", 600),
            ("sum(inflight)", nil),
            (#"sum(rate(a{path="/x[5m]"}[1m]))"#, 60),
            (#"sum(rate(a{path=~"\"[5m]\""}[2m]))"#, 120),
            ("sum(rate(a[1m30s]))", 90),
            ("rate(a[$window])", nil),
            // A stray quote inside a range selector does not open a string that would
            // hide the rest of the query.
            ("rate(a[2m']) + rate(b[10m])", 600),
            (#"rate(a[2m"]) + rate(b[10m])"#, 600),
            // Text beyond ASCII inside quotes or names changes nothing.
            (#"sum(rate(a{path="/café[9m]"}[45s])) + rate(ü[3m])"#, 180),
            ("rate(a[ 5m ])", 300),
        ]
        for (query, range) in cases {
            #expect(PredictiveStrategy.longestRange(in: query) == range, "\(query)")
        }
        func metric(_ query: String) -> ScalingMetric {
            ScalingMetric(name: "rps", prometheus: PrometheusSource(address: "http://p:9090", query: query), target: .init(type: .perReplica, value: "5"))
        }
        #expect(PredictiveStrategy.lag(of: metric("sum(rate(a[30s]))")) == 15)
        #expect(PredictiveStrategy.lag(of: metric("avg_over_time(a[1h])")) == PredictiveStrategy.maximumLag)
        #expect(PredictiveStrategy.lag(of: metric("sum(a)")) == 0)
        let http = ScalingMetric(name: "rps", http: HTTPSource(url: "http://hello/stats", valueLocation: "requestsPerSecond"), target: .init(type: .total, value: "5"))
        #expect(PredictiveStrategy.lag(of: http) == 0)

        // A 30 s rate rising 1/s is 15 s behind the load: the projection looks that much further.
        var remembered = ScalingStatus()
        remembered.samples = samples([(45, 5), (30, 20), (15, 35)])
        remembered.lastQueryTime = Time(start.addingTimeInterval(-15))
        remembered.readyDelaySeconds = 20
        let decision = ScalingAlgorithm.decide(ScalingInput(
            currentReplicas: 10, scaling: scaling(query: "sum(rate(a[30s]))"), reading: .value(50), history: remembered, now: start))
        #expect(decision.message.contains("rising toward 100 by the time new pods are ready (20 s) and the query's range has caught up (15 s behind) → 20 replicas"), "\(decision.message)")
    }

    @Test("the slope is a least-squares fit, and needs 10 s of history")
    func slope() {
        #expect(PredictiveStrategy.slope([(-30, 0), (-15, 15), (0, 30)]) == 1)
        #expect(abs((PredictiveStrategy.slope([(-30, 0), (-15, 20), (0, 30)]) ?? 0) - 1) < 0.01)
        #expect(PredictiveStrategy.slope([(-5, 0), (0, 30)]) == nil)
        #expect(PredictiveStrategy.slope([(0, 30)]) == nil)
    }

    @Test("the pod start time is measured from the ready count after a scale-up, then averaged")
    func readyDelay() {
        var history = ScalingStatus()
        func step(_ seconds: Double, current: Int32, desired: Int32, ready: Int32) {
            var timing = PredictiveStrategy.Timing(history: ScalingStatus(), scaling: scaling(), now: start)
            (timing.hold, timing.baseHold, timing.configuredWindow) = (60, 60, 300)
            history = PredictiveStrategy.remember(
                history, readings: ["rps": .value(10)], current: current, desired: desired, readyReplicas: ready,
                now: start.addingTimeInterval(seconds), timing: timing)
        }
        step(0, current: 2, desired: 4, ready: 2)
        #expect(history.pendingScaleUp?.replicas == 4)
        step(15, current: 4, desired: 4, ready: 3)
        #expect(history.readyDelaySeconds == nil, "not all ready yet")
        step(30, current: 4, desired: 4, ready: 4)
        #expect(history.readyDelaySeconds == 30)
        #expect(history.pendingScaleUp == nil)
        step(45, current: 4, desired: 6, ready: 4)
        step(55, current: 6, desired: 6, ready: 6)
        #expect(history.readyDelaySeconds == 20, "the average of 30 s and 10 s")
        #expect(history.samples?.count == 5)
    }

    @Test("the pod start is measured to the moment the operator saw the pods ready, not at the scaler's next run")
    func readyDelayFromOperator() {
        var timing = PredictiveStrategy.Timing(history: ScalingStatus(), scaling: scaling(), now: start)
        (timing.hold, timing.baseHold, timing.configuredWindow) = (60, 60, 300)
        var history = PredictiveStrategy.remember(
            ScalingStatus(), readings: ["rps": .value(10)], current: 2, desired: 4, readyReplicas: 2, now: start, timing: timing)
        #expect(history.pendingScaleUp == .init(time: Time(start), replicas: 4))
        // A CronJob's next run, a minute later, finds the record the operator made at +20 s.
        let seen = ScalingStatus.Recommendation(time: Time(start.addingTimeInterval(20)), replicas: 4)
        history = PredictiveStrategy.remember(
            history, readings: ["rps": .value(10)], current: 4, desired: 4, readyReplicas: 4, scaleUpReady: seen,
            now: start.addingTimeInterval(60), timing: timing)
        #expect(history.readyDelaySeconds == 20, "20 s, not the 60 s until the run")
        #expect(history.pendingScaleUp == nil)
        // A record from an older scale-up does not count for a newer one: the run's own view does.
        history = PredictiveStrategy.remember(
            history, readings: ["rps": .value(10)], current: 4, desired: 6, readyReplicas: 4, now: start.addingTimeInterval(120), timing: timing)
        history = PredictiveStrategy.remember(
            history, readings: ["rps": .value(10)], current: 6, desired: 6, readyReplicas: 6, scaleUpReady: seen,
            now: start.addingTimeInterval(150), timing: timing)
        #expect(history.readyDelaySeconds == 25, "the average of 20 s and 30 s")
    }

    @Test("a scale-down undone soon after doubles the hold, up to the scale-down window; one that holds halves it")
    func flapping() {
        var history = ScalingStatus()
        func step(_ seconds: Double, current: Int32, desired: Int32) {
            var timing = PredictiveStrategy.Timing(history: history, scaling: scaling(), now: start)
            timing.hold = PredictiveStrategy.downWindow(history: history, readyDelay: 20, interval: 15, configured: 300)
            (timing.baseHold, timing.configuredWindow) = (PredictiveStrategy.baseHold(readyDelay: 20, interval: 15, configured: 300), 300)
            history = PredictiveStrategy.remember(
                history, readings: [:], current: current, desired: desired, readyReplicas: nil, now: start.addingTimeInterval(seconds), timing: timing)
        }
        #expect(PredictiveStrategy.downWindow(history: history, readyDelay: 20, interval: 15, configured: 300) == 60)
        step(0, current: 8, desired: 7)
        step(45, current: 7, desired: 8)
        #expect(history.holdSeconds == 120)
        step(200, current: 8, desired: 7)
        step(230, current: 7, desired: 8)
        #expect(history.holdSeconds == 240)
        step(400, current: 8, desired: 7)
        step(420, current: 7, desired: 9)
        #expect(history.holdSeconds == 300, "never above the scale-down window")
        step(800, current: 9, desired: 6)
        step(1_200, current: 6, desired: 5)
        #expect(history.holdSeconds == 150, "the scale-down at 800 s held")
        #expect(PredictiveStrategy.baseHold(readyDelay: 90, interval: 60, configured: 300) == 240)
        // The metric's own lag is part of what lower demand must outlast.
        #expect(PredictiveStrategy.baseHold(readyDelay: 20, interval: 15, lag: 15, configured: 300) == 70)

        // A fall released step by step is one scale-down: climbing back part of the way
        // follows demand; only a return to where the fall began is flapping.
        history = ScalingStatus()
        step(0, current: 12, desired: 7)
        step(15, current: 7, desired: 6)
        step(60, current: 6, desired: 8)
        #expect(history.holdSeconds == nil, "8 replicas is not back to the 12 the fall began from")
        step(75, current: 8, desired: 12)
        #expect(history.holdSeconds == 120, "back to 12 within 120 s of the last step down")
        #expect(PredictiveStrategy.baseHold(readyDelay: 600, interval: 60, configured: 300) == 300)
    }

    @Test("with a scale-down window shorter than a minute, Predictive still holds lower demand its 60 s: the memory keeps what the hold needs, the HPA strategy's only the window", arguments: [ScalingStrategy.predictive, .hpa])
    func holdOutlastsAShortWindow(strategy: ScalingStrategy) {
        var spec = scaling(strategy)
        spec.behavior = ScalingBehavior(scaleDown: ScalingRules(stabilizationWindowSeconds: 30))
        var history = ScalingStatus()
        var current: Int32 = 2
        var downAt: Double?
        // Every 5 s: 40 req/s (8 replicas) for 5 s, then 10 (2 replicas).
        for second in stride(from: 0.0, through: 90, by: 5) {
            let input = ScalingInput(
                currentReplicas: current, scaling: spec, reading: .value(second < 5 ? 40 : 10), history: history, now: start.addingTimeInterval(second),
                readyReplicas: current)
            let decision = ScalingAlgorithm.decide(input)
            if decision.desiredReplicas < current, downAt == nil { downAt = second }
            history = decision.history
            current = decision.desiredReplicas
        }
        switch strategy {
        case .predictive: #expect(downAt == 60, "down at \(downAt ?? -1) s: the hold is 60 s, the spec's window 30 s")
        default: #expect(downAt == 30, "down at \(downAt ?? -1) s: the HPA keeps the spec's 30 s window")
        }
    }

    @Test("the simulation counts a scale-down taken back within 120 s as a flap, and following demand down then up as none")
    func flapCount() {
        func score(_ changes: [(Int, Int32)]) -> ScalingSimulation.Score {
            ScalingSimulation.Score(scaleChanges: changes.count, changes: changes.map { .init(second: $0.0, replicas: $0.1, metric: nil) })
        }
        let cases: [(String, [(Int, Int32)], Int)] = [
            ("up only", [(0, 6), (15, 9)], 0),
            ("down, back up 45 s later", [(0, 12), (300, 8), (345, 12)], 1),
            ("down, back up 3 min later", [(0, 12), (300, 8), (480, 12)], 0),
            ("down in steps, part of the way back", [(0, 12), (300, 7), (315, 6), (360, 8)], 0),
            ("down in steps, all the way back", [(0, 12), (300, 7), (315, 6), (360, 8), (400, 12)], 1),
            ("two separate falls, the second taken back", [(0, 12), (300, 7), (600, 5), (650, 7)], 1),
            ("below the initial count and back", [(30, 2), (60, 5)], 1),
        ]
        for (name, changes, flaps) in cases {
            #expect(score(changes).flaps(initial: 5) == flaps, "\(name)")
        }
    }

    @Test("on the trace suite: no more shortfall than the HPA's defaults, less idle capacity, no flapping, never down during an outage")
    func traceSuite() {
        // The simulation's metric is the mean of the last 30 s, as this query's would be.
        let query = "sum(rate(requests_total[30s]))"
        let hpa = ScalingSimulation.Policy.tide("HPA", scaling: scaling(.hpa, query: query), interval: 15)
        let predictive = ScalingSimulation.Policy.tide("Predictive", scaling: scaling(query: query), interval: 15)
        for trace in ScalingSimulation.standardTraces() {
            let reference = ScalingSimulation.run(trace, policy: hpa, target: 5)
            let score = ScalingSimulation.run(trace, policy: predictive, target: 5)
            #expect(score.downDuringOutage == 0, "\(trace.name)")
            #expect(score.overProvisioned <= reference.overProvisioned, "\(trace.name): idle \(score.overProvisioned) vs \(reference.overProvisioned)")
            #expect(score.flaps() == 0, "\(trace.name): a scale-down undone within 120 s: \(score.changes)")
            if trace.name == "sawtooth" {
                // The HPA's 300 s window is the sawtooth's period, so after the first climb it
                // keeps 12 replicas through every trough; following each of the 6 cycles down
                // and up again costs more changes than that (none of them taken back), but
                // never more than demand itself makes (the oracle's changes).
                let oracle = (0..<trace.load.count).map { Int32(((trace.load[$0] ?? 0) / 5).rounded(.up)) }
                let oracleChanges = zip(oracle, oracle.dropFirst()).filter { $0 != $1 }.count
                #expect(score.scaleChanges <= oracleChanges, "sawtooth: changes \(score.scaleChanges), demand's \(oracleChanges)")
            } else {
                #expect(score.scaleChanges <= 2 * reference.scaleChanges, "\(trace.name): changes \(score.scaleChanges) vs \(reference.scaleChanges)")
            }
            if trace.name != "noisy" {
                // Noise the 30 s metric cannot show costs Predictive's shorter hold some shortfall (see the README).
                #expect(score.underProvisioned <= reference.underProvisioned, "\(trace.name): shortfall \(score.underProvisioned) vs \(reference.underProvisioned)")
            }
        }
    }

    @Test("a strategy's status keys are what it alone writes in status.scaling")
    func statusKeys() throws {
        var remembered = ScalingStatus()
        remembered.samples = samples([(45, 5), (30, 20), (15, 35)])
        remembered.lastQueryTime = Time(start.addingTimeInterval(-15))
        func keys(_ strategy: ScalingStrategy) throws -> Set<String> {
            let decision = ScalingAlgorithm.decide(ScalingInput(
                currentReplicas: 7, scaling: scaling(strategy), reading: .value(50), history: remembered, now: start, readyReplicas: 7))
            return Set(try JSONValue(encoding: decision.history).objectValue?.keys.map { $0 } ?? [])
        }
        let predictiveOnly = try keys(.predictive).subtracting(try keys(.hpa))
        #expect(!predictiveOnly.isEmpty)
        #expect(predictiveOnly.isSubset(of: Set(PredictiveStrategy.statusKeys)), "\(predictiveOnly)")
        #expect(HPAStrategy.statusKeys.isEmpty)
        // Every key named is a field of status.scaling.
        var full = ScalingStatus()
        full.samples = remembered.samples
        full.readyDelaySeconds = 20
        full.pendingScaleUp = .init(time: Time(start), replicas: 3)
        full.lastScaleDown = .init(time: Time(start), replicas: 3)
        full.holdSeconds = 120
        let fields = Set(try JSONValue(encoding: full).objectValue?.keys.map { $0 } ?? [])
        #expect(Set(PredictiveStrategy.statusKeys).isSubset(of: fields))
    }

    @Test("the decision says when it scaled ahead of the metric, and the HPA strategy never does")
    func explanation() {
        let history = ScalingStatus()
        var remembered = history
        remembered.samples = samples([(45, 5), (30, 20), (15, 35)])
        remembered.lastQueryTime = Time(start.addingTimeInterval(-15))
        remembered.readyDelaySeconds = 20
        let ahead = ScalingAlgorithm.decide(ScalingInput(currentReplicas: 7, scaling: scaling(), reading: .value(50), history: remembered, now: start))
        // 50 + 1/s × (20 s + 15 s) = 85 → 17, which the default scale-up policy (100 %
        // per 15 s) bounds to 14 from 7.
        #expect(ahead.desiredReplicas == 14)
        #expect(ahead.message.contains("rising toward 85 by the time new pods are ready (20 s) → 17 replicas"), "\(ahead.message)")
        #expect(ahead.limited.reason == "ScaleUpLimit")
        let hpa = ScalingAlgorithm.decide(ScalingInput(currentReplicas: 7, scaling: scaling(.hpa), reading: .value(50), history: remembered, now: start))
        #expect(hpa.desiredReplicas == 10)
        #expect(hpa.history.samples == nil && hpa.history.readyDelaySeconds == nil, "the HPA strategy keeps no readings, and drops Predictive's memory")
        #expect(hpa.history.lastQueryTime == Time(start), "what every strategy shares stays")
    }
}
