#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Where a metric is going from where it was one period ago: the forecaster of
/// strategy Forecast. Pure.
///
/// The model is the seasonal naive forecast with today's level: the value a little
/// ahead is what the same moment of the last period (an hour, a day or a week) brought,
/// times the ratio of the last half hour to the same half hour then. Why this and not
/// a fitted model: it has no constants to tune on history (it is the history), it
/// follows a level shift within half an hour, and a reader can check each forecast by
/// looking at yesterday's graph.
///
/// - The reference is the mean of the period's occurrences in the last three hours
///   (see ``occurrences(of:)``), not smoothed over time, so a batch that starts on the
///   hour is foreseen to the minute.
/// - A level ratio outside ½…2 means today does not look like the reference (a
///   holiday's peak, an outage, a launch): no forecast then, rather than one scaled
///   far from what it was measured on.
public enum SeasonalForecast {
    /// The periods a pattern is looked for at: an hour (batches on the hour), a day, a week.
    public static let periods: [TimeInterval] = [3_600, 86_400, 604_800]
    /// The stretch today's level is measured over.
    public static let levelWindow: TimeInterval = 1_800
    /// The level ratios a forecast is made at.
    public static let levels: ClosedRange<Double> = 0.5...2

    /// One forecast: the most the metric is expected to reach over the lead.
    public struct Forecast: Sendable, Hashable {
        public var value: Double
        /// The period whose last occurrence it follows.
        public var period: TimeInterval
        /// Today's level against the reference's.
        public var level: Double
    }

    /// The most `history` is expected to reach from `now` to `now + lead`, following
    /// `period`; `nil` when the history does not cover the reference or today's level
    /// (at least half of each window present), the reference is zero, or the level is
    /// outside ``levels``.
    public static func forecast(_ history: MetricHistory, period: TimeInterval, now: Date, lead: TimeInterval) -> Forecast? {
        let occurrences = Self.occurrences(of: period)
        let needed = Int(levelWindow / history.step / 2)
        // The same stretch before now and before each occurrence: up to (not at) the moment.
        func window(before time: Date) -> (mean: Double, count: Int)? {
            history.mean(from: time.addingTimeInterval(-levelWindow), to: time.addingTimeInterval(-history.step / 2))
        }
        guard let today = window(before: now), today.count >= needed else { return nil }
        var referenceSum = 0.0, referenceCount = 0
        for occurrence in 1...occurrences {
            let then = now.addingTimeInterval(-Double(occurrence) * period)
            guard let mean = window(before: then), mean.count >= needed else { continue }
            referenceSum += mean.mean
            referenceCount += 1
        }
        guard referenceCount > 0, referenceSum > 0 else { return nil }
        let level = today.mean / (referenceSum / Double(referenceCount))
        guard levels.contains(level) else { return nil }
        var highest: Double?
        // Every grid time of the lead, and its end.
        let lead = max(lead, 0)
        let offsets = Array(stride(from: 0, to: lead, by: history.step)) + [lead]
        for offset in offsets {
            var sum = 0.0, count = 0
            for occurrence in 1...occurrences {
                if let value = history.median(around: now.addingTimeInterval(offset - Double(occurrence) * period)) {
                    sum += value
                    count += 1
                }
            }
            if count > 0 { highest = max(highest ?? -.infinity, sum / Double(count)) }
        }
        return highest.map { Forecast(value: $0 * level, period: period, level: level) }
    }

    /// How many past occurrences of `period` a forecast averages: those in the last
    /// three hours (three for an hourly pattern), at least the last one. The
    /// minute-to-minute noise of one occurrence does not repeat in the next, so it
    /// averages out over three, while a pattern drifts little in three hours; a day or
    /// a week has only its last occurrence that recent.
    public static func occurrences(of period: TimeInterval) -> Int { max(1, Int(10_800 / period)) }

    /// The period whose forecast was closest to what came, from `from` to `to`, and
    /// closer than the last value was: at each grid time, ``forecast(_:period:now:lead:)``
    /// against the highest value of the next `lead` seconds, as a mean absolute error
    /// relative to the mean value (a longer period only if it errs a tenth less than a
    /// shorter one). A period is a pattern only if it beats assuming the
    /// metric stays where it is (the reactive strategies' assumption), at times both
    /// could be judged (at least half of the grid); `nil` when none does.
    public static func bestPeriod(_ history: MetricHistory, from: Date, to: Date, lead: TimeInterval) -> Choice? {
        var best: Choice?
        // Judged at the history's own times, each seeing its value and none later, a
        // minute apart at most (no decision comes more often than that in a replay).
        let first = Int((from.timeIntervalSince(history.start) / history.step).rounded(.up))
        let last = Int((to.timeIntervalSince(history.start) / history.step).rounded(.down))
        let stride = max(1, Int((60 / history.step).rounded(.down)))
        let slots = max(0, (last - first) / stride + 1)
        for period in periods {
            var error = 0.0, persistence = 0.0, total = 0.0, judged = 0
            for slot in 0..<slots {
                let time = history.start.addingTimeInterval(Double(first + slot * stride) * history.step)
                guard let value = history.value(at: time),
                    let coming = history.maximum(from: time.addingTimeInterval(history.step), to: time.addingTimeInterval(max(lead, history.step))),
                    let forecast = forecast(history.visible(until: time.addingTimeInterval(history.step / 2)), period: period, now: time, lead: lead)
                else { continue }
                error += abs(coming - max(forecast.value, value))
                persistence += abs(coming - value)
                total += abs(coming)
                judged += 1
            }
            guard 2 * judged >= slots, total > 0, error < persistence else { continue }
            let choice = Choice(period: period, error: error / total, persistenceError: persistence / total)
            // What repeats hourly repeats daily too: a longer period (older data, slower
            // to follow change) must explain clearly more, a tenth less error.
            if choice.error < (best.map { $0.error * 0.9 } ?? .infinity) { best = choice }
        }
        return best
    }

    /// A period found by ``bestPeriod(_:from:to:lead:)``, with its relative error and
    /// the last value's.
    public struct Choice: Sendable, Hashable {
        public var period: TimeInterval
        public var error: Double
        public var persistenceError: Double
    }

    /// A period in words: "hourly", "daily", "weekly", or its seconds.
    public static func name(of period: TimeInterval) -> String {
        switch period {
        case 3_600: return "hourly"
        case 86_400: return "daily"
        case 604_800: return "weekly"
        default: return "\(Int(period)) s"
        }
    }
}
