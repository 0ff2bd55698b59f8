#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import TideAPI

/// Strategy `Predictive`: the parts of a decision that differ from the HPA's. Pure;
/// everything it remembers lives in `status.scaling`, so a CronJob run decides like a
/// long-running loop.
///
/// - Up: each metric also asks for the replicas its value will need when pods started
///   now are ready and the next decision has come: `value + slope × (pod start +
///   decision interval + the metric's lag)`, the slope fitted to the last minute (or
///   three decisions) of readings, used only when rising and never above twice the
///   value; the lag is half the range a PromQL query averages over (see
///   ``lag(of:)``). A rise counts only when it exceeds twice the spread of the
///   metric's rises over as long a stretch (``riseNoise(_:over:)``): noise does not
///   make a trend. For a trend, the metric's measured noise replaces the tolerance: up
///   as soon as the projected value exceeds a replica boundary by more than the largest
///   chance rise the metric has shown (``chanceRise(_:over:)``). The tolerance is a dead
///   band against noise; Predictive measures the noise, and on a smooth slow ramp (a
///   business day's morning) a fixed 10 % band alone keeps every step up a replica
///   short for minutes. The HPA's recommendation is the floor.
/// - Down no lower than the value plus the metric's usual rise over a pod start, a
///   decision interval and its lag needs (its swing, ``riseNoise(_:over:)``), and never
///   above the current count: a dip noise made is followed by a peak as large.
/// - Down: lower demand must hold for two pod starts, one decision interval and the
///   metric's lag (a dip reaches the reading that late, and so does a return; at
///   least 60 s, at most the scale-down stabilization window), instead of the
///   window's fixed 300 s. A scale-down undone within twice that time (a scale-up back
///   to where it started: flapping, as noisy traffic does) doubles the hold, up to the
///   window; each scale-down that holds halves it again. Steps down less than twice
///   that time apart are one scale-down (a stabilization window releases a fall step
///   by step), so climbing back part of the way follows demand and is no flap. The
///   rate policies still bound every step.
/// - The pod start time is measured: after a scale-up, to the moment the operator saw
///   that many replicas ready (`status.scaleUpReady`), or, without its record, to the
///   first decision that sees them (a moving average, 30 s until measured).
/// - On noise: while a metric's last half hour is a line plus independent noise
///   (``RecentTrend``, from the history the scaler reads) and the reading is within
///   twice that noise of the line, Predictive decides on the line instead of the
///   reading: the replicas for the line's value a pod start, a decision interval and
///   the metric's lag ahead (its slope only when it is a trend), changed only when the
///   line is past a replica boundary by more than twice its own standard error (instead
///   of the tolerance). A noisy reading is mostly noise: scaling up on its peaks and
///   down on its dips (or holding a margin for them) costs replicas on both sides, and
///   over a few readings noise hides the trend. A reading that stands out of the line's
///   noise, and readings that are not a line with noise (a step, a batch, a smooth
///   curve), are decided as the points above say.
/// - Nothing changes on an unavailable metric: never down, as with the HPA.
public struct PredictiveStrategy: DecisionStrategy {
    public static var statusFields: [StatusField] {
        [
            StatusField("samples", \.samples), StatusField("readyDelaySeconds", \.readyDelaySeconds),
            StatusField("pendingScaleUp", \.pendingScaleUp), StatusField("lastScaleDown", \.lastScaleDown),
            StatusField("holdSeconds", \.holdSeconds),
        ]
    }

    /// This decision's figures, from the remembered history.
    public let timing: Timing

    public init(input: ScalingInput) {
        timing = Timing(history: input.history, scaling: input.scaling, now: input.now)
    }

    /// Up ahead of a rising metric: the larger of the reactive recommendation and the
    /// one for the value projected a pod start, a decision interval and the metric's lag
    /// ahead; the explanation says when the projection drove.
    public func adjust(
        _ recommendation: MetricRecommendation, for metric: ScalingMetric, current: Int32, tolerance: Double, input: ScalingInput
    ) -> MetricRecommendation {
        guard let value = recommendation.reading.value, let replicas = recommendation.replicas else { return recommendation }
        if let history = input.metricHistory[metric.name], let trend = RecentTrend(history: history, value: value, now: input.now),
            trend.isLineWithNoise, !trend.standsOut(value)
        {
            return following(trend, recommendation, for: metric, current: current)
        }
        let samples = (input.history.samples ?? []).filter { $0.name == metric.name }
        let lag = Self.lag(of: metric)
        let projected = Self.projection(of: value, samples: samples, now: input.now, interval: timing.interval, lead: timing.lead + lag)
        let timeline = Self.timeline(of: value, samples: samples, now: input.now)
        // The tolerance is a dead band against noise. For a trend (``projection``), the
        // metric's own measured noise is the band instead: up as soon as the projected
        // value exceeds a replica boundary by more than any chance rise it has shown.
        func ahead() -> Int32? {
            guard projected > value else { return nil }
            let banded = ScalingAlgorithm.recommend(metric, reading: .value(projected), current: current, tolerance: tolerance).replicas
            let measured = Self.chanceRise(timeline, over: timing.lead + lag).flatMap {
                ScalingAlgorithm.recommend(metric, reading: .value(projected - $0), current: current, tolerance: 0).replicas
            }
            return [banded, measured].compactMap { $0 }.max()
        }
        guard let ahead = ahead(), ahead > replicas else {
            // Down only as far as the metric's usual swing leaves room for.
            let swing = Self.riseNoise(timeline, over: timing.lead + lag)
            guard replicas < current, swing > 0,
                let room = ScalingAlgorithm.recommend(metric, reading: .value(value + swing), current: current, tolerance: tolerance).replicas,
                room > replicas
            else { return recommendation }
            var adjusted = recommendation
            adjusted.replicas = min(room, current)
            adjusted.explanation += "; the metric swings by \(ScalingAlgorithm.format(swing)) → no fewer than \(min(room, current)) replicas"
            return adjusted
        }
        var adjusted = recommendation
        adjusted.replicas = ahead
        let behind = lag > 0 ? " and the query's range has caught up (\(ScalingAlgorithm.format(lag)) s behind)" : ""
        adjusted.explanation +=
            "; rising toward \(ScalingAlgorithm.format(projected)) by the time new pods are ready (\(timing.readyDelay) s)\(behind) → \(ahead) replicas"
        return adjusted
    }

    /// The recommendation for the value `trend`'s line expects when pods started now are
    /// ready and the next decision has come (``RecentTrend/expected(after:)``), without
    /// the tolerance: the line has averaged out the noise the tolerance is a dead band
    /// against. Instead, a change only when the line is past the replica boundary by
    /// more than twice its own standard error, so the line's wobble from one reading to
    /// the next does not move replicas back and forth.
    func following(_ trend: RecentTrend, _ recommendation: MetricRecommendation, for metric: ScalingMetric, current: Int32) -> MetricRecommendation {
        let expected = trend.expected(after: timing.lead + Self.lag(of: metric))
        func replicas(for value: Double) -> Int32? {
            ScalingAlgorithm.recommend(metric, reading: .value(max(0, value)), current: current, tolerance: 0).replicas
        }
        let wobble = 2 * trend.levelError
        guard let above = replicas(for: expected - wobble), let below = replicas(for: expected + wobble) else { return recommendation }
        let chosen = above > current ? above : below < current ? below : current
        var adjusted = recommendation
        adjusted.replicas = chosen
        let course = trend.direction > 0 ? "rising" : trend.direction < 0 ? "falling" : "level"
        adjusted.explanation +=
            "; the last half hour is a \(course) line with noise of ±\(ScalingAlgorithm.formatHundredths(trend.spread)): expecting \(ScalingAlgorithm.formatHundredths(expected)) by the time new pods are ready → \(chosen) replicas"
        return adjusted
    }

    /// Down once lower demand has held for the measured hold, instead of the window.
    public func scaleDownRules(_ configured: ScalingRules) -> ScalingRules {
        var rules = configured
        rules.stabilizationWindowSeconds = timing.hold
        return rules
    }

    public func remember(_ history: ScalingStatus, desired: Int32, input: ScalingInput) -> ScalingStatus {
        Self.remember(
            history, readings: input.readings, current: input.currentReplicas, desired: desired, readyReplicas: input.readyReplicas,
            scaleUpReady: input.scaleUpReady, now: input.now, timing: timing)
    }

    /// Seconds assumed for a pod to become ready until one has been measured.
    public static let defaultReadyDelay: Int32 = 30
    /// Readings older than this are forgotten.
    static let sampleHorizon: TimeInterval = 600

    /// The seconds between decisions, from the previous decision's time (60 s, a
    /// CronJob's minute, before there is one), bounded to 5–600 s.
    public static func interval(previous: Time?, now: Date) -> TimeInterval {
        guard let previous else { return 60 }
        return min(max(now.timeIntervalSince(previous.date), 5), 600)
    }

    /// The least-squares slope (per second) of `points`, or `nil` with fewer than two
    /// points or less than 10 s between the first and the last.
    public static func slope(_ points: [(time: TimeInterval, value: Double)]) -> Double? {
        guard let first = points.first?.time, let last = points.last?.time, last - first >= 10 else { return nil }
        return LineFit(points)?.slope
    }

    /// Where `value` will be `lead` seconds from `now`, from the trend of `samples`
    /// (this metric's earlier readings) and `value`: only ever higher than `value`,
    /// at most twice it.
    ///
    /// Only a sustained rise counts: at least three readings over the last minute (or
    /// three decisions), each higher than the one before, spanning at least 30 s. A
    /// step in the load shows in a moving-average metric as a short rise that stops
    /// (a rate over 30 s rises for 30 s); requiring readings that keep rising keeps
    /// such steps, and noise, from being extrapolated into an overshoot. Noise on the
    /// level after a step can still keep the readings inching up, each a little higher
    /// than the one before, so the last interval must also have risen at least half as
    /// fast as the fitted slope (``isStillRising(_:slope:)``).
    public static func projection(of value: Double, samples: [ScalingStatus.MetricSample], now: Date, interval: TimeInterval, lead: TimeInterval) -> Double {
        let span = max(60, 3 * interval)
        let remembered = timeline(of: value, samples: samples, now: now)
        let points = remembered.filter { -$0.time <= span }
        guard points.count >= 3, let first = points.first, -first.time >= 30,
            zip(points, points.dropFirst()).allSatisfy({ $0.value < $1.value }),
            value - first.value > 2 * riseNoise(remembered, over: -first.time),
            let slope = slope(points), slope > 0, isStillRising(points, slope: slope)
        else { return value }
        return min(value + slope * lead, 2 * max(value, 0))
    }

    /// Whether the last interval of `points` (oldest first) rose at least half as fast
    /// as `slope`: a steady trend's last interval rises as fast as the fit, a rise that
    /// has stopped (a step seen through a rate, with noise on the level after it) hardly
    /// at all, and half is halfway between.
    static func isStillRising(_ points: [(time: TimeInterval, value: Double)], slope: Double) -> Bool {
        guard points.count >= 2 else { return false }
        let (before, last) = (points[points.count - 2], points[points.count - 1])
        return last.value - before.value >= slope * (last.time - before.time) / 2
    }

    /// The remembered readings and `value`, oldest first, each at its time in seconds
    /// relative to `now` (so `value` is at 0).
    static func timeline(of value: Double, samples: [ScalingStatus.MetricSample], now: Date) -> [(time: TimeInterval, value: Double)] {
        var points: [(time: TimeInterval, value: Double)] = samples.compactMap { sample in
            let age = now.timeIntervalSince(sample.time.date)
            guard age > 0, let reading = Double(sample.value) else { return nil }
            return (-age, reading)
        }
        points.sort { $0.time < $1.time }
        points.append((0, value))
        return points
    }

    /// How much the metric's rises over `span` seconds have varied among `points` (its
    /// remembered readings, oldest first): 1.4826 × the median absolute deviation of
    /// every rise over that span, which estimates their standard deviation when they
    /// vary by chance. 0 with fewer than five such rises: too few to tell noise from trend.
    ///
    /// A steady trend rises by the same amount over every stretch of the same length,
    /// so it varies little; noise rises and falls by its own spread. A rise counts as a
    /// trend only when it exceeds twice this: a rise noise makes by chance once in
    /// twenty times or less.
    public static func riseNoise(_ points: [(time: TimeInterval, value: Double)], over span: TimeInterval) -> Double {
        let rises = rises(points, over: span)
        guard rises.count >= 5 else { return 0 }
        let middle = median(rises)
        return 1.4826 * median(rises.map { abs($0 - middle) })
    }

    /// The most the metric has risen by chance over `span` seconds: the largest
    /// difference between one of its rises over that span among `points` (oldest first)
    /// and their median (the trend's own rise). `nil` with fewer than five such rises (as for ``riseNoise(_:over:)``): too
    /// few to know. The largest and not a spread: noise that jumps now and then (a level
    /// that changes each minute) shows only in the tail, which a robust spread ignores.
    public static func chanceRise(_ points: [(time: TimeInterval, value: Double)], over span: TimeInterval) -> Double? {
        let rises = rises(points, over: span)
        guard rises.count >= 5 else { return nil }
        let middle = median(rises)
        return rises.map { abs($0 - middle) }.max()
    }

    /// Every rise of `points` (oldest first) over `span` seconds: from each point to the
    /// first one at least `span` later.
    static func rises(_ points: [(time: TimeInterval, value: Double)], over span: TimeInterval) -> [Double] {
        var rises: [Double] = []
        var later = 0
        for point in points {
            while later < points.count, points[later].time < point.time + span { later += 1 }
            guard later < points.count else { break }
            rises.append(points[later].value - point.value)
        }
        return rises
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let half = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[half] : (sorted[half - 1] + sorted[half]) / 2
    }

    /// The most a metric's lag adds to the lead: a long range smooths the load more
    /// than its trend is worth projecting.
    public static let maximumLag: TimeInterval = 150

    /// How far behind the load `metric` reads, in seconds: half the longest range in
    /// its PromQL query (`[30s]`, a subquery's `[5m:1m]`), since a rate or mean over a
    /// window of a steadily changing load equals the load half a window ago; at most
    /// ``maximumLag``. 0 for an HTTP source and a query without a range: Tide cannot
    /// see how those average.
    public static func lag(of metric: ScalingMetric) -> TimeInterval {
        guard let query = metric.prometheus?.query, let range = longestRange(in: query) else { return 0 }
        return min(range / 2, maximumLag)
    }

    /// The longest range selector of a PromQL query, in seconds (see
    /// ``PromQLRange/longest(in:)``), or `nil` when it has none.
    public static func longestRange(in query: String) -> TimeInterval? { PromQLRange.longest(in: query) }

    /// The figures one decision works with, computed once from the remembered history.
    public struct Timing: Sendable, Hashable {
        /// Seconds since the previous decision (see ``interval(previous:now:)``).
        public var interval: TimeInterval
        /// The measured pod start time, or the default until one is measured.
        public var readyDelay: Int32
        /// The scale-down stabilization window the spec sets.
        public var configuredWindow: Int32
        /// How far behind the load the slowest metric reads (half its query's range).
        public var lag: TimeInterval
        /// The hold before any flapping.
        public var baseHold: Int32
        /// The hold now (lengthened by flapping).
        public var hold: Int32

        public init(history: ScalingStatus, scaling: Scaling, now: Date) {
            interval = PredictiveStrategy.interval(previous: history.lastQueryTime, now: now)
            readyDelay = history.readyDelaySeconds ?? PredictiveStrategy.defaultReadyDelay
            configuredWindow = (scaling.behavior?.scaleDown ?? Defaults.scaleDown).stabilizationWindowSeconds ?? 300
            lag = scaling.resolvedMetrics.map(PredictiveStrategy.lag(of:)).max() ?? 0
            baseHold = PredictiveStrategy.baseHold(readyDelay: readyDelay, interval: interval, lag: lag, configured: configuredWindow)
            hold = PredictiveStrategy.downWindow(history: history, readyDelay: readyDelay, interval: interval, lag: lag, configured: configuredWindow)
        }

        /// How far ahead a scale-up must look: a pod start and the next decision.
        public var lead: TimeInterval { Double(readyDelay) + interval }
    }

    /// How long lower demand must hold before a scale-down, before any flapping: two pod
    /// starts, one decision interval and the metric's lag, within 60 s and the window.
    public static func baseHold(readyDelay: Int32, interval: TimeInterval, lag: TimeInterval = 0, configured: Int32) -> Int32 {
        let held = Int32((2 * Double(readyDelay) + interval + lag).rounded(.up))
        return min(max(held, 60), max(configured, 60))
    }

    /// How long lower demand must hold now: the remembered hold (lengthened by
    /// flapping), never below the base nor above the scale-down window.
    public static func downWindow(history: ScalingStatus, readyDelay: Int32, interval: TimeInterval, lag: TimeInterval = 0, configured: Int32) -> Int32 {
        let base = baseHold(readyDelay: readyDelay, interval: interval, lag: lag, configured: configured)
        return min(max(history.holdSeconds ?? base, base), max(configured, base))
    }

    /// The history after this decision: this reading of each metric remembered, the
    /// pod start time measured when the last scale-up's pods are all ready, and a new
    /// scale-up remembered.
    public static func remember(
        _ history: ScalingStatus, readings: [String: MetricReading], current: Int32, desired: Int32, readyReplicas: Int32?,
        scaleUpReady: ScalingStatus.Recommendation? = nil, now: Date, timing: Timing
    ) -> ScalingStatus {
        var history = history
        let time = Time(now)
        let hold = timing.hold, baseHold = timing.baseHold, configured = timing.configuredWindow
        // Flapping is judged against the base hold, so a lengthened hold does not make
        // ever more scale-ups count as undoing a scale-down.
        let flapWindow = 2 * Double(baseHold)
        var next = hold
        if desired > current, let down = history.lastScaleDown, desired >= down.replicas, now.timeIntervalSince(down.time.date) < flapWindow {
            // The last scale-down did not hold: wait longer before the next one.
            next = min(2 * hold, max(configured, baseHold))
            history.lastScaleDown = nil
        } else if desired < current {
            var from = current
            if let down = history.lastScaleDown {
                if now.timeIntervalSince(down.time.date) >= flapWindow {
                    // The previous scale-down held: relax toward the base.
                    next = max(hold / 2, baseHold)
                } else {
                    // Still the same way down (a stabilization window releases a fall
                    // step by step): undoing it means going back to where it began,
                    // not to the last step's count.
                    from = max(from, down.replicas)
                }
            }
            history.lastScaleDown = .init(time: time, replicas: from)
        }
        history.holdSeconds = next > baseHold ? next : nil
        var samples = (history.samples ?? []).filter { now.timeIntervalSince($0.time.date) < sampleHorizon }
        for (name, reading) in readings.sorted(by: { $0.key < $1.key }) {
            guard let value = reading.value else { continue }
            samples.append(.init(name: name, time: time, value: ScalingAlgorithm.format(value)))
        }
        // At most 20 readings per metric (the CRD allows 200 in all, for 10 metrics).
        var kept: [ScalingStatus.MetricSample] = []
        for name in Set(samples.map(\.name)).sorted() { kept += samples.filter { $0.name == name }.suffix(20) }
        history.samples = kept.isEmpty ? nil : kept.sorted { ($0.time, $0.name) < ($1.time, $1.name) }

        // The pod start: from the scale-up to when its pods were ready. The operator
        // records that moment as it happens; without its record, the first run that
        // finds them ready stands for it (late by up to one interval).
        let readyAt: Date?
        if let pending = history.pendingScaleUp, let seen = scaleUpReady, seen.time >= pending.time, seen.replicas >= pending.replicas {
            readyAt = seen.time.date
        } else if let pending = history.pendingScaleUp, let ready = readyReplicas, ready >= pending.replicas {
            readyAt = now
        } else {
            readyAt = nil
        }
        if let pending = history.pendingScaleUp, let readyAt {
            let measured = Int32(max(1, readyAt.timeIntervalSince(pending.time.date).rounded()))
            history.readyDelaySeconds = history.readyDelaySeconds.map { ($0 + measured + 1) / 2 } ?? measured
            history.pendingScaleUp = nil
        }
        if desired > current {
            history.pendingScaleUp = .init(time: time, replicas: desired)
        } else if desired < current {
            history.pendingScaleUp = nil
        }
        return history
    }
}
