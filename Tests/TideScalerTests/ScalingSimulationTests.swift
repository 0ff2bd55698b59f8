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
