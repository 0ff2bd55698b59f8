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

    /// A history of `values`, one every `step` seconds from `start`.
    public init(start: Date, step: TimeInterval, values: [Double?]) {
        self.start = start
        self.step = max(step, 1)
        self.values = values
        self.count = values.count
    }

    init(start: Date, step: TimeInterval, values: [Double?], count: Int) {
        self.start = start
        self.step = step
        self.values = values
        self.count = count
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
    public var presentCount: Int { values[0..<count].reduce(0) { $0 + ($1 == nil ? 0 : 1) } }

    /// The same history with nothing at or after `date` visible.
    public func visible(until date: Date) -> MetricHistory {
        let visible = Int((date.timeIntervalSince(start) / step).rounded(.up))
        return MetricHistory(start: start, step: step, values: values, count: min(max(visible, 0), count))
    }

    /// The value at `date`: the grid value at or just before it, if visible and present.
    public func value(at date: Date) -> Double? {
        let offset = date.timeIntervalSince(start) / step
        guard offset >= 0 else { return nil }
        let index = Int(offset.rounded(.down))
        return index < count ? values[index] : nil
    }

    /// The median of the values at `date` and one step either side (those present and
    /// visible): a step that lasts two values or more stays where it is, a lone
    /// value's excursion is dropped.
    public func median(around date: Date) -> Double? {
        let neighbours = [-step, 0, step].compactMap { value(at: date.addingTimeInterval($0)) }.sorted()
        switch neighbours.count {
        case 0: return nil
        case 2: return (neighbours[0] + neighbours[1]) / 2
        default: return neighbours[neighbours.count / 2]
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
        var sum = 0.0, present = 0
        for index in first...last {
            if let value = values[index] {
                sum += value
                present += 1
            }
        }
        return present > 0 ? (sum / Double(present), present) : nil
    }
}
