import KubeAPI
import TideAPI
import TideScaler
import TideSimulation
import Testing

@Suite("Hindsight bound")
struct HindsightBoundTests {
    static let traces = ScalingSimulation.standardTraces()

    static func scaling(_ strategy: ScalingStrategy) -> Scaling {
        var scaling = Scaling(
            maxReplicas: 20, prometheus: PrometheusSource(address: "http://prometheus:9090", query: "q"),
            target: MetricTarget(type: .perReplica, value: "5"))
        scaling.strategy = strategy
        return ApplicationSpec(image: "x", scaling: scaling).withDefaults.scaling!
    }

    /// Plays a fixed schedule through the simulation.
    static func replay(_ changes: [HindsightBound.Change]) -> ScalingSimulation.Policy {
        ScalingSimulation.Policy(name: "schedule", interval: 15) { current, _, second, _, _ in
            changes.last { $0.second <= second }?.replicas ?? current
        }
    }

    @Test("the optimal schedule, played through the simulation, scores exactly what the bound says")
    func modelMatchesTheSimulation() throws {
        for name in ["sawtooth", "outage"] {
            let trace = try #require(Self.traces.first { $0.name == name })
            for weight in [1.0, 4.0] {
                let best = try #require(HindsightBound.optimal(trace, target: 5, weight: weight, maxChanges: 8))
                let played = ScalingSimulation.run(trace, policy: Self.replay(best.changes), target: 5)
                #expect(played.underProvisioned == best.underProvisioned, "\(name), weight \(weight)")
                #expect(played.overProvisioned == best.overProvisioned, "\(name), weight \(weight)")
                #expect(played.scaleChanges == best.scaleChanges && best.scaleChanges <= 8, "\(name), weight \(weight)")
                #expect(best.cost == Double(best.overProvisioned) + weight * Double(best.underProvisioned))
            }
        }
    }

    @Test("no policy beats the bound with as many scale changes as it used")
    func policiesNeverBeatIt() throws {
        for trace in Self.traces {
            for strategy in [ScalingStrategy.hpa, .predictive] {
                let score = ScalingSimulation.run(trace, policy: .tide("policy", scaling: Self.scaling(strategy), interval: 15), target: 5)
                for weight in [1.0] {
                    let best = try #require(HindsightBound.optimal(trace, target: 5, weight: weight, maxChanges: score.scaleChanges))
                    #expect(best.cost <= Double(score.overProvisioned) + weight * Double(score.underProvisioned), "\(trace.name), \(strategy)")
                }
            }
        }
    }

    @Test("a goal no schedule reaches is proven out of reach; one a schedule reaches is not")
    func reachability() throws {
        let noisy = try #require(Self.traces.first { $0.name == "noisy" })
        // Half the HPA's idle capacity at no more than its shortfall, within twice its 4 changes.
        let proof = try #require(HindsightBound.unreachable(noisy, target: 5, shortfall: 1_196, idle: 877, maxChanges: 8))
        #expect(proof.cost > 877 + proof.weight * 1_196)
        // What the bound's own schedule achieves is, by construction, reachable.
        let best = try #require(HindsightBound.optimal(noisy, target: 5, weight: 1, maxChanges: 8))
        #expect(HindsightBound.unreachable(noisy, target: 5, shortfall: best.underProvisioned, idle: best.overProvisioned, maxChanges: 8) == nil)
    }

    @Test("waiting 60 s of lower readings before a scale-down costs something, and no such schedule scales down sooner")
    func heldScaleDowns() throws {
        let spike = try #require(Self.traces.first { $0.name == "spike" })
        let free = try #require(HindsightBound.optimal(spike, target: 5, weight: 4, maxChanges: 14))
        let held = try #require(HindsightBound.optimal(spike, target: 5, weight: 4, maxChanges: 14, downHold: 60))
        #expect(held.cost > free.cost)
        // The spike (90 req/s, 18 replicas' worth) ends at 660 s. The readings (30 s
        // means) at 660 and 675 s ask for 18 and 10 replicas, the later ones for 2: a
        // schedule that waits for 60 s of lower readings keeps 18 until 735 s, 10 until
        // 750 s.
        var previous: Int32 = 1
        var downs = 0
        for change in held.changes {
            if change.replicas < previous {
                downs += 1
                if change.second < 735 { #expect(change.replicas >= 18, "down to \(change.replicas) at \(change.second)") }
                if change.second < 750 { #expect(change.replicas >= 10, "down to \(change.replicas) at \(change.second)") }
            }
            previous = change.replicas
        }
        #expect(downs > 0)
        let played = ScalingSimulation.run(spike, policy: Self.replay(held.changes), target: 5)
        #expect(played.underProvisioned == held.underProvisioned && played.overProvisioned == held.overProvisioned)
    }

    @Test("a model that does not apply is refused, not approximated")
    func refusesOtherTimings() {
        let trace = ScalingSimulation.Trace(name: "flat", load: Array(repeating: 10, count: 120))
        #expect(HindsightBound.optimal(trace, target: 5, weight: 1, maxChanges: 4, interval: 15, startup: 40) == nil)
        #expect(HindsightBound.optimal(trace, target: 5, weight: 1, maxChanges: 4, interval: 15, startup: 10) == nil)
        #expect(HindsightBound.optimal(trace, target: 5, weight: 1, maxChanges: 4, initial: 30) == nil)
        #expect(HindsightBound.optimal(ScalingSimulation.Trace(name: "empty", load: []), target: 5, weight: 1, maxChanges: 4) == nil)
        // A flat load needs one change, to the oracle's 2 replicas, and then has neither shortfall nor idle.
        let flat = HindsightBound.optimal(trace, target: 5, weight: 1, maxChanges: 4)
        #expect(flat?.changes == [HindsightBound.Change(second: 0, replicas: 2)])
        #expect(flat?.underProvisioned == 20 && flat?.overProvisioned == 0)
    }
}

/// The priced bound for long traces: never above what a real policy scores, equal to
/// the exact bound where both apply, and able to rule a goal out.
@Suite("Priced hindsight bound")
struct PricedHindsightBoundTests {
    static let traces = ScalingSimulation.standardTraces() + ScalingSimulation.standardTraces().map { ScalingSimulation.noisy($0) }

    @Test("for every policy, trace, cadence (15 s, with a scale-up ready in the next interval; 60 s, within it) and window, idle + weight × shortfall + price × changes is at least the bound")
    func neverAboveAPolicy() throws {
        let policies = [("HPA", ScalingStrategy.hpa), ("Predictive", .predictive)]
        for trace in Self.traces {
            for interval in [15, 60] {
                for from in [0, 600] {
                    for (name, strategy) in policies {
                        let score = ScalingSimulation.run(
                            trace, policy: .tide(name, scaling: HindsightBoundTests.scaling(strategy), interval: interval), target: 5, scoreFrom: from)
                        for (weight, price) in [(1.0, 0.0), (2.0, 100.0), (0.5, 1_000.0)] {
                            let bound = try #require(PricedHindsightBound.optimal(trace, target: 5, weight: weight, price: price, interval: interval, from: from))
                            let paid = Double(score.overProvisioned) + weight * Double(score.underProvisioned) + price * Double(score.scaleChanges)
                            #expect(bound.cost <= paid + 1e-6, "\(trace.name), \(name) every \(interval) s from \(from): bound \(bound.cost) > \(paid)")
                            #expect(!bound.rulesOut(shortfall: score.underProvisioned, idle: score.overProvisioned, changes: score.scaleChanges))
                            #expect(bound.cost == Double(bound.overProvisioned) + weight * Double(bound.underProvisioned) + price * Double(bound.scaleChanges))
                        }
                    }
                }
            }
        }
    }

    @Test("with changes free it finds what the exact bound finds within its budget (from the first second's need), and a goal far below it is ruled out")
    func agreesWithTheExactBound() throws {
        for (name, initial) in [("step", Int32(1)), ("spike", 2)] {
            let trace = try #require(HindsightBoundTests.traces.first { $0.name == name })
            let exact = try #require(HindsightBound.optimal(trace, target: 5, weight: 2, maxChanges: 12, initial: initial))
            let priced = try #require(PricedHindsightBound.optimal(trace, target: 5, weight: 2, price: 0, interval: 15))
            // Within the budget, the priced optimum is one the exact bound may choose, and
            // the priced bound is never above it (it may start in any state; the exact one
            // starts here at the first second's need): the two are equal.
            #expect(priced.scaleChanges <= 12)
            #expect(priced.cost == exact.cost, "\(name): \(priced.cost) vs \(exact.cost); priced \(priced.underProvisioned)/\(priced.overProvisioned)/\(priced.scaleChanges), exact \(exact.underProvisioned)/\(exact.overProvisioned)/\(exact.scaleChanges) \(exact.changes)")
            let proof = PricedHindsightBound.unreachable(
                trace, target: 5, shortfall: exact.underProvisioned / 4, idle: exact.overProvisioned / 4, changes: exact.scaleChanges, interval: 15)
            #expect(proof != nil, "\(name): a quarter of the best possible shortfall and idle is out of reach")
        }
        #expect(PricedHindsightBound.optimal(HindsightBoundTests.traces[0], target: 5, weight: 1, price: 0, interval: 15, startup: 30) == nil,
            "a pod start of two intervals is outside the model")
    }
}
