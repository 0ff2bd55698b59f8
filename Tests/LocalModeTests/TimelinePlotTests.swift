import Foundation
import Testing
@testable import LocalMode

@Suite("The local run's plot")
struct TimelinePlotTests {
    @Test("axis steps are 1, 2, 2.5 or 5 times a power of ten", arguments: [
        (100.0, 25.0), (37.0, 10.0), (9.0, 2.5), (1_800.0, 500.0), (7.0, 2.0), (3.0, 1.0), (610.0, 200.0),
    ])
    func niceSteps(span: Double, step: Double) {
        #expect(Timeline.niceStep(span) == step)
    }

    @Test("the capacity line is ready replicas × the target, on round axes")
    func capacityLine() {
        var timeline = Timeline()
        for second in 0..<200 {
            let running = second < 100 ? 2 : 5
            timeline.samples.append(.init(
                second: second, phase: "load", load: second < 100 ? 8 : 23, metric: nil, desired: running, running: running, reason: ""))
        }
        let svg = timeline.svg(title: "t", capacityPerReplica: 5)
        #expect(svg.contains("capacity (running × 5)"))
        #expect(svg.contains("stroke=\"#9467bd\""))
        // Capacity reaches 25 req/s: the rate axis ends at 25 in steps of 10 → 0, 10, 20, 30.
        for label in [">0<", ">10<", ">20<", ">30<"] { #expect(svg.contains(label), "\(label)") }
        // 199 s of samples: time ticks every 50 s.
        for label in [">0s<", ">50s<", ">100s<", ">150s<", ">200s<"] { #expect(svg.contains(label), "\(label)") }
        #expect(!timeline.svg().contains("#9467bd"), "no capacity line without a target")
    }
}
