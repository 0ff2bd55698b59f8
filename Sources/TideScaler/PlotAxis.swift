#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Round numbers for the axes of Tide's SVG plots (the local run's and the backtest's),
/// and a legend whose entries never overlap.
///
/// A value axis starts at 0 and ends at the first round tick at or above the highest
/// value: ticks are 1, 2, 2.5 or 5 times a power of ten. A time axis ends exactly with
/// the data; its ticks fall on round offsets (15 s, 30 s, 1 min, 2 min, 5 min, … 1 day)
/// and are labelled `+N s`, `+N min` or `+N h` without repeating a label.
public enum PlotAxis {
    /// A tick step of 1, 2, 2.5 or 5 times a power of ten, at least `span / ticks`.
    public static func niceStep(_ span: Double, ticks: Int = 4) -> Double {
        let raw = max(span, 1e-9) / Double(max(ticks, 1))
        let magnitude = pow(10, log10(raw).rounded(.down))
        return [1, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw * (1 - 1e-12) } ?? 10 * magnitude
    }

    /// A value axis from 0 to a round maximum at or above `highest`, with its ticks.
    /// With `integers`, steps are whole numbers (replica counts).
    public static func values(upTo highest: Double, ticks: Int = 4, integers: Bool = false) -> (maximum: Double, ticks: [Double]) {
        var step = niceStep(max(highest, integers ? 1 : 1e-9), ticks: ticks)
        if integers { step = max(1, step.rounded(.up)) }
        let maximum = max((highest / step - 1e-9).rounded(.up), 1) * step
        let count = Int((maximum / step).rounded())
        // Rounded to nine places, so 3 × 0.1 is the 0.3 it is labelled.
        return (maximum, (0...count).map { (Double($0) * step * 1e9).rounded() / 1e9 })
    }

    /// Tick offsets (seconds) for a time axis of `span` seconds that ends with the data.
    public static func timeTicks(span: Double, ticks: Int = 5) -> [Double] {
        let steps: [Double] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1_800, 3_600, 7_200, 10_800, 21_600, 43_200, 86_400, 172_800]
        let wanted = max(span, 1) / Double(max(ticks, 1))
        let step = steps.first { $0 >= wanted } ?? (wanted / 86_400).rounded(.up) * 86_400
        return stride(from: 0, through: span + 1e-9, by: step).map { $0 }
    }

    /// `+90 s`, `+5 min`, `+2 h`, `+1.5 h`: a time offset as a tick label, in one unit
    /// for a whole axis of `span` seconds (seconds up to 5 minutes, minutes up to 3
    /// hours, hours up to 2 days, days beyond).
    public static func timeLabel(_ seconds: Double, span: Double) -> String {
        func trimmed(_ value: Double) -> String { ScalingAlgorithm.format((value * 10).rounded() / 10) }
        if span <= 300 { return "+\(trimmed(seconds)) s" }
        if span <= 10_800 { return "+\(trimmed(seconds / 60)) min" }
        if span <= 172_800 { return "+\(trimmed(seconds / 3_600)) h" }
        return "+\(trimmed(seconds / 86_400)) d"
    }

    /// A value as a tick label: whole numbers without a fraction, others with one or two digits.
    public static func label(_ value: Double) -> String { ScalingAlgorithm.formatHundredths(value) }

    /// Legend entries laid out left to right at their own widths (about 7 px a character
    /// at 12 px), wrapping to a new row when the next would pass `width`.
    ///
    /// - Returns: the SVG elements and how many rows they took.
    public static func legend(_ entries: [(label: String, color: String)], left: Double, width: Double, baseline: Double) -> (svg: [String], rows: Int) {
        var svg: [String] = []
        var x = left
        var row = 0
        for entry in entries {
            let entryWidth = 30 + Double(entry.label.count) * 7 + 18
            if x > left, x + entryWidth > left + width {
                row += 1
                x = left
            }
            let y = baseline + Double(row) * 18
            svg.append("<line x1=\"\(format(x))\" y1=\"\(format(y - 4))\" x2=\"\(format(x + 24))\" y2=\"\(format(y - 4))\" stroke=\"\(entry.color)\" stroke-width=\"3\"/>")
            svg.append("<text x=\"\(format(x + 30))\" y=\"\(format(y))\">\(escape(entry.label))</text>")
            x += entryWidth
        }
        return (svg, row + 1)
    }

    static func format(_ value: Double) -> String { ScalingAlgorithm.format((value * 10).rounded() / 10) }

    /// Text safe inside an SVG element.
    public static func escape(_ text: String) -> String {
        text.replacing("&", with: "&amp;").replacing("<", with: "&lt;").replacing(">", with: "&gt;")
    }
}
