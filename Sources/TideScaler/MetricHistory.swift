#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What Prometheus recorded of one metric: its value on a regular grid (`start`,
/// `start + step`, …), `nil` where it had no sample. Strategy Forecast reads its
/// pattern from it; the scaler fills it from `query_range`, the simulation from its
/// trace.
///
/// Guarantee: nothing at or after ``end`` is visible, so a decision given the history
/// ``visible(until:)`` its own time cannot see its future, and a view shares the
/// values with the history it came from (no copy).
public struct MetricHistory: Sendable, Hashable {
    /// The time of the first value.
    public let start: Date
    /// Seconds between values.
    public let step: TimeInterval
    let values: [Double?]
    /// How many of `values` are visible.
    public let count: Int
    /// Running sums and counts of the present values (`sums[i]`: of the first `i`), so a
    /// mean over any stretch costs two look-ups.
    let sums: [Double]
    let presents: [Int32]

    /// A history of `values`, one every `step` seconds from `start`.
    public init(start: Date, step: TimeInterval, values: [Double?]) {
        var sums = [Double](repeating: 0, count: values.count + 1)
        var presents = [Int32](repeating: 0, count: values.count + 1)
        for (index, value) in values.enumerated() {
            sums[index + 1] = sums[index] + (value ?? 0)
            presents[index + 1] = presents[index] + (value == nil ? 0 : 1)
        }
        self.init(start: start, step: max(step, 1), values: values, count: values.count, sums: sums, presents: presents)
    }

    init(start: Date, step: TimeInterval, values: [Double?], count: Int, sums: [Double], presents: [Int32]) {
        self.start = start
        self.step = step
        self.values = values
        self.count = count
        self.sums = sums
        self.presents = presents
    }

    public static func == (left: MetricHistory, right: MetricHistory) -> Bool {
        left.start == right.start && left.step == right.step && left.count == right.count && left.values[0..<left.count] == right.values[0..<right.count]
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(start)
        hasher.combine(step)
        hasher.combine(count)
    }

    /// `points` (as `query_range` returns them) on the grid from `start` to `end`: each
    /// grid time takes the latest point at or before it, no older than `step`.
    public init(points: [Backtest.Point], start: Date, end: Date, step: TimeInterval) {
        let step = max(step, 1)
        let slots = max(0, Int((end.timeIntervalSince(start) / step).rounded(.down)) + 1)
        var values = [Double?](repeating: nil, count: slots)
        var index = 0
        for slot in 0..<slots {
            let time = start.addingTimeInterval(Double(slot) * step)
            while index + 1 < points.count, points[index + 1].time <= time { index += 1 }
            if index < points.count, points[index].time <= time, time.timeIntervalSince(points[index].time) <= step {
                values[slot] = points[index].value
            }
        }
        self.init(start: start, step: step, values: values)
    }

    /// The time just after the last visible value.
    public var end: Date { start.addingTimeInterval(Double(count) * step) }

    /// The visible values that are present.
    public var presentCount: Int { Int(presents[count]) }

    /// The same history with nothing at or after `date` visible.
    public func visible(until date: Date) -> MetricHistory {
        let visible = Int((date.timeIntervalSince(start) / step).rounded(.up))
        return MetricHistory(start: start, step: step, values: values, count: min(max(visible, 0), count), sums: sums, presents: presents)
    }

    /// The value at `date`: the grid value at or just before it, if visible and present.
    public func value(at date: Date) -> Double? {
        let offset = date.timeIntervalSince(start) / step
        guard offset >= 0 else { return nil }
        let index = Int(offset.rounded(.down))
        return index < count ? values[index] : nil
    }

    /// The value at `date` read between the grid values either side of it, linearly:
    /// the one at or just before it when the next is not visible or not present;
    /// `nil` when that one is not.
    public func interpolated(at date: Date) -> Double? {
        let offset = date.timeIntervalSince(start) / step
        guard offset >= 0 else { return nil }
        let index = Int(offset.rounded(.down))
        guard index < count, let here = values[index] else { return nil }
        guard index + 1 < count, let next = values[index + 1] else { return here }
        let within = offset - Double(index)
        return here + (next - here) * within
    }

    /// The median of the values at `date` and one step either side (those present and
    /// visible): a step that lasts two values or more stays where it is, a lone
    /// value's excursion is dropped.
    public func median(around date: Date) -> Double? {
        let before = value(at: date.addingTimeInterval(-step)), at = value(at: date), after = value(at: date.addingTimeInterval(step))
        switch (before, at, after) {
        case let (before?, at?, after?): return max(min(before, at), min(max(before, at), after))
        case let (one?, other?, nil), let (one?, nil, other?), let (nil, one?, other?): return (one + other) / 2
        default: return before ?? at ?? after
        }
    }

    /// The highest present value from `from` to `to` (both included), or `nil`.
    public func maximum(from: Date, to: Date) -> Double? {
        let first = max(0, Int((from.timeIntervalSince(start) / step).rounded(.up)))
        let last = min(count - 1, Int((to.timeIntervalSince(start) / step).rounded(.down)))
        guard first <= last else { return nil }
        return values[first...last].compactMap { $0 }.max()
    }

    /// The mean of the present values from `from` to `to` (both included), with how many
    /// there were; `nil` when none is.
    public func mean(from: Date, to: Date) -> (mean: Double, count: Int)? {
        let first = max(0, Int((from.timeIntervalSince(start) / step).rounded(.up)))
        let last = min(count - 1, Int((to.timeIntervalSince(start) / step).rounded(.down)))
        guard first <= last else { return nil }
        let present = Int(presents[last + 1] - presents[first])
        return present > 0 ? ((sums[last + 1] - sums[first]) / Double(present), present) : nil
    }
}
