#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A metric's last half hour read as a straight line plus noise: the least-squares line
/// through what Prometheus recorded of it over ``span`` (``MetricHistory``, the minute
/// grid the scaler reads) and its reading now, with how far the readings scatter
/// around it. Strategy Predictive decides on the line instead of the reading while the
/// readings are that and nothing more (``isLineWithNoise``).
///
/// Why a line over half an hour: a noisy reading says little about the load it will
/// have to serve. Over a few minutes, noise of ±8 % hides a business day's ramp; over
/// thirty readings the line's value now is off by about a third of the noise, and a
/// daily curve bends little in half an hour. Where the readings are not a line with
/// noise (a step, an hourly batch, a smooth curve the line cuts across, a cycle of a
/// few minutes), the residuals follow one another instead of scattering, and
/// Predictive reads the readings as before.
///
/// Pure, and cheap: one pass over at most ``span`` / step + 1 values.
public struct RecentTrend: Sendable, Hashable {
    /// How far back the line is fitted.
    public static let span: TimeInterval = 1_800
    /// The fewest readings the line is fitted to: two thirds of the half hour at the
    /// history's minute grid, so a gap in the history does not leave a line through a few.
    public static let minimumReadings = 20
    /// The residual autocorrelations the noise check looks at: lags of 1 to 6 readings,
    /// a fifth of the half hour's thirty (the usual choice for a series without season).
    public static let checkedLags = 6
    /// The 95th percentile of χ² with ``checkedLags`` degrees of freedom: a Ljung–Box
    /// statistic above it says the residuals follow one another. Noise alone crosses it
    /// about one half hour in fifteen at thirty readings; Predictive then reads the
    /// readings as before, which is what it did without the line.
    public static let independenceLimit = 12.592
    /// The furthest a reading may lie from the line, in spreads: independent noise
    /// goes that far about once in 500 half hours, a lone burst (which leaves no pattern
    /// in the residuals but pulls the line) every time.
    public static let outlierLimit = 4.0

    /// The line's value now.
    public let level: Double
    /// The line's slope, per second.
    public let slope: Double
    /// The slope's standard error: how much the slope of noise alone varies.
    public let slopeError: Double
    /// The residuals' standard deviation: the noise around the line.
    public let spread: Double
    /// The Ljung–Box statistic of the residuals over ``checkedLags`` (see ``independenceLimit``).
    public let ljungBox: Double
    /// The largest residual, in spreads (see ``outlierLimit``).
    public let largestResidual: Double
    /// The standard error of the line's value now: how far noise alone moves it.
    public let levelError: Double
    /// How many readings the line was fitted to.
    public let readings: Int

    /// The line through `history`'s values over the last ``span`` before `now` and
    /// `value`, the reading at `now`; `nil` with fewer than ``minimumReadings`` finite
    /// values, or a reading that is not finite.
    public init?(history: MetricHistory, value: Double, now: Date) {
        var points: [(time: TimeInterval, value: Double)] = []
        let first = max(0, Int((now.addingTimeInterval(-Self.span).timeIntervalSince(history.start) / history.step).rounded(.up)))
        if first < history.count {
            for index in first..<history.count {
                let time = history.start.addingTimeInterval(Double(index) * history.step).timeIntervalSince(now)
                // A value that is not a number (a rate over nothing) is a gap.
                guard time < 0, let recorded = history.values[index], recorded.isFinite else { continue }
                points.append((time, recorded))
            }
        }
        points.append((0, value))
        guard value.isFinite, points.count >= Self.minimumReadings, let line = LineFit(points) else { return nil }
        let count = Double(points.count)
        let residuals = points.map { $0.value - line.value(at: $0.time) }
        let squares = residuals.reduce(0) { $0 + $1 * $1 }
        let spread = (squares / (count - 2)).squareRoot()
        var ljungBox = 0.0
        if squares > 0 {
            for lag in 1...Self.checkedLags {
                let correlation = zip(residuals, residuals.dropFirst(lag)).reduce(0) { $0 + $1.0 * $1.1 } / squares
                ljungBox += correlation * correlation / (count - Double(lag))
            }
            ljungBox *= count * (count + 2)
        }
        self.level = line.value(at: 0)
        self.slope = line.slope
        self.slopeError = spread / line.timeSquares.squareRoot()
        self.levelError = spread * (1 / count + line.meanTime * line.meanTime / line.timeSquares).squareRoot()
        self.spread = spread
        self.ljungBox = ljungBox
        self.largestResidual = spread > 0 ? (residuals.map(abs).max() ?? 0) / spread : 0
        self.readings = points.count
    }

    /// Whether the readings are the line plus independent noise: they scatter around it
    /// (a perfectly straight metric has no noise to average out), the residuals do not
    /// follow one another at any of the checked lags (``independenceLimit``: a step, a
    /// batch, a curve the line cuts across, a cycle of a few minutes), and none is a
    /// lone burst (``outlierLimit``).
    public var isLineWithNoise: Bool { spread > 0 && ljungBox <= Self.independenceLimit && largestResidual <= Self.outlierLimit }

    /// Whether the line rises (`1`) or falls (`-1`) by more than twice what noise alone
    /// would tilt it (its standard error), or `0`: the rule Predictive's short projection
    /// follows too (a rise counts when it exceeds twice the noise).
    public var direction: Int {
        guard abs(slope) > 2 * slopeError else { return 0 }
        return slope > 0 ? 1 : -1
    }

    /// The line's value `lead` seconds from now, following the slope only when it is a
    /// trend (``direction``); never below 0.
    public func expected(after lead: TimeInterval) -> Double {
        max(0, level + (direction == 0 ? 0 : slope * lead))
    }

    /// Whether `value` is further from the line than twice its noise: a change the last
    /// half hour does not explain (a surge, a step), which the reading itself must answer.
    public func standsOut(_ value: Double) -> Bool { abs(value - level) > 2 * spread }
}
