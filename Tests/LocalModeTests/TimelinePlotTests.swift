import Foundation
import Testing
import TideScaler
@testable import LocalMode

@Suite("Plots read at a glance")
struct TimelinePlotTests {
    @Test("axis steps are 1, 2, 2.5 or 5 times a power of ten", arguments: [
        (100.0, 25.0), (37.0, 10.0), (9.0, 2.5), (1_800.0, 500.0), (7.0, 2.0), (3.0, 1.0), (610.0, 200.0),
    ])
    func niceSteps(span: Double, step: Double) {
        #expect(PlotAxis.niceStep(span) == step)
    }

    @Test("a value axis ends on the first round tick at or above the data; replica axes count in whole replicas")
    func valueAxes() {
        // The backtest's old axis read 19.2, 38.4, 57.7 for a peak of 70.
        #expect(PlotAxis.values(upTo: 70).ticks == [0, 20, 40, 60, 80])
        #expect(PlotAxis.values(upTo: 25).ticks == [0, 10, 20, 30])
        #expect(PlotAxis.values(upTo: 0.3).ticks == [0, 0.1, 0.2, 0.3])
        #expect(PlotAxis.values(upTo: 3, integers: true).ticks == [0, 1, 2, 3])
        #expect(PlotAxis.values(upTo: 13, integers: true).ticks == [0, 5, 10, 15])
        #expect(PlotAxis.values(upTo: 0.3).ticks.map(PlotAxis.label) == ["0", "0.1", "0.2", "0.3"])
    }

    @Test("time ticks fall on round offsets, end with the data and never repeat a label", arguments: [45.0, 199.0, 300.0, 1_800.0, 5_000.0, 21_600.0, 86_400.0, 604_800.0])
    func timeAxes(span: Double) {
        let ticks = PlotAxis.timeTicks(span: span)
        #expect(ticks.first == 0 && (ticks.last ?? .infinity) <= span)
        #expect(ticks.count >= 3 && ticks.count <= 8, "\(ticks)")
        let labels = ticks.map { PlotAxis.timeLabel($0, span: span) }
        #expect(Set(labels).count == labels.count, "\(labels)")
        // One unit for the whole axis.
        #expect(Set(labels.map { $0.split(separator: " ").last! }).count == 1, "\(labels)")
    }

    @Test("legend entries never overlap, wrapping to a second row when the plot is too narrow")
    func legendLayout() {
        let entries = (0..<6).map { (label: "a fairly long legend entry \($0)", color: "#000") }
        let layout = PlotAxis.legend(entries, left: 60, width: 840, baseline: 400)
        #expect(layout.rows == 2)
        var spans: [(row: Double, from: Double, to: Double)] = []
        for element in layout.svg where element.hasPrefix("<text") {
            let x = Double(element.split(separator: "\"")[1])!
            let y = Double(element.split(separator: "\"")[3])!
            spans.append((y, x - 30, x + Double(entries[0].label.count) * 7))
        }
        for (i, a) in spans.enumerated() {
            for b in spans[(i + 1)...] where a.row == b.row {
                #expect(a.to <= b.from || b.to <= a.from, "\(a) overlaps \(b)")
            }
            #expect(a.to <= 900, "inside the plot's width")
        }
    }

    @Test("the local plot: capacity is ready replicas × the target, round axes, and the time axis ends with the data")
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
        // Capacity reaches 25 req/s: the rate axis ends at 30 in steps of 10.
        for label in [">0<", ">10<", ">20<", ">30<"] { #expect(svg.contains(label), "\(label)") }
        // 199 s of samples: ticks every minute, none past the data.
        for label in [">+0 s<", ">+60 s<", ">+120 s<", ">+180 s<"] { #expect(svg.contains(label), "\(label)") }
        #expect(!svg.contains(">+240 s<"))
        // The last sample sits on the right edge of the plot (60 + 840).
        #expect(svg.contains(" 900,") || svg.contains(" 900 ") || svg.contains(",900"), "the data reaches the axis' end")
        #expect(!timeline.svg().contains("#9467bd"), "no capacity line without a target")
    }
}
