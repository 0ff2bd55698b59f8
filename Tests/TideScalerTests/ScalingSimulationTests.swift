import Foundation
import TideSimulation
import Testing

@Suite("Scaling simulation's traces and kubelet")
struct ScalingSimulationTests {
    @Test("a noisy variant stays within the amplitude of its trace, keeps its outages, moves minute by minute, and is the same on every run")
    func noisyVariant() throws {
        let trace = try #require(ScalingSimulation.standardTraces().first { $0.name == "outage" })
        let noisy = ScalingSimulation.noisy(trace, amplitude: 0.08)
        #expect(noisy.name == "outage ±8 %/min")
        #expect(noisy.load.count == trace.load.count)
        var differs = 0
        for (original, varied) in zip(trace.load, noisy.load) {
            #expect((original == nil) == (varied == nil), "outages stay outages")
            guard let original, let varied else { continue }
            #expect(abs(varied / original - 1) <= 0.08 + 1e-9)
            if abs(varied - original) > 1e-9 { differs += 1 }
        }
        #expect(differs > trace.load.count / 2)
        // Within a minute the factor changes linearly: no jumps from one second to the next.
        for second in 1..<300 {
            let step = abs((noisy.load[second] ?? 0) - (noisy.load[second - 1] ?? 0))
            #expect(step <= 10 * 0.16 / 60 + 1e-9, "second \(second): \(step)")
        }
        #expect(ScalingSimulation.noisy(trace).load == noisy.load, "seeded")
        #expect(ScalingSimulation.noisy(trace, seed: 7).load != noisy.load)
    }

    @Test("the 7-day traces have the shapes they are named for, and are scored on their last two days")
    func multiDayTraces() throws {
        let traces = Dictionary(uniqueKeysWithValues: ScalingSimulation.multiDayTraces().map { ($0.name, $0) })
        let day = ScalingSimulation.day
        let week = try #require(traces["week"])
        #expect(week.load.count == 7 * day)
        let noon = 13 * 3_600 + 1_800  // 13:30, the peak
        // Wednesday 13:30 is the peak; Saturday's is a third of the bump; nights are quiet.
        #expect(abs((week.load[noon] ?? 0) - 50) < 0.01)
        let saturday: Double = week.load[3 * day + noon] ?? 0
        let saturdayPeak: Double = 4 + 46.0 / 3
        #expect(abs(saturday - saturdayPeak) < 0.01)
        #expect(week.load[3 * 3_600] == 4)
        #expect(try #require(traces["week, holiday"]).load[6 * day + noon] == week.load[3 * day + noon], "the last Tuesday is shaped like a weekend")
        #expect(try #require(traces["week, level shift"]).load[6 * day + noon] == (week.load[6 * day + noon] ?? 0) * 1.5)
        #expect(try #require(traces["new service"]).load[4 * day + noon] == 0)
        #expect(try #require(traces["new service"]).load[5 * day + noon] == week.load[5 * day + noon])
        let batch = try #require(traces["week, hourly batch"])
        #expect(batch.load[5 * day + 3 * 3_600 + 60] == (week.load[5 * day + 3 * 3_600 + 60] ?? 0) + 25)
        #expect(batch.load[5 * day + 3 * 3_600 + 600] == week.load[5 * day + 3 * 3_600 + 600])
        #expect(ScalingSimulation.multiDayScoreFrom() == 5 * day)
        // Nothing before the scored days counts.
        let hold = ScalingSimulation.Policy(name: "hold", interval: 60) { current, _, _, _, _ in current }
        let all = ScalingSimulation.run(week, policy: hold, target: 5)
        let scored = ScalingSimulation.run(week, policy: hold, target: 5, scoreFrom: 5 * day)
        #expect(scored.underProvisioned > 0 && scored.underProvisioned < all.underProvisioned)
    }

    @Test("the kubelet: pods of a scale-up are ready after the pod start, a scale-down removes them at once")
    func pods() {
        var pods = ScalingSimulation.Pods(ready: 2, startup: 20)
        pods.scale(from: 2, to: 5, at: 0)
        #expect(!pods.advance(to: 19, desired: 5) && pods.ready == 2)
        #expect(pods.advance(to: 20, desired: 5) && pods.ready == 5)
        pods.scale(from: 5, to: 8, at: 30)
        pods.scale(from: 8, to: 3, at: 40)
        #expect(pods.ready == 3, "down at once, and the pending scale-up is cancelled")
        #expect(!pods.advance(to: 60, desired: 3) && pods.ready == 3)
    }
}
