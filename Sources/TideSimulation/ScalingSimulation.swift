#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import KubeAPI
import TideAPI
import TideScaler

/// Replays a load trace through a scaling policy in simulated time and scores the
/// result against an oracle of `ceil(load / target)` replicas. Pure and
/// deterministic, so policies can be compared fairly.
public enum ScalingSimulation {
    /// A load trace: requests per second at each simulated second; `nil` marks a
    /// second in which the metric is unavailable (a Prometheus outage).
    public struct Trace: Sendable {
        public var name: String
        public var load: [Double?]

        public init(name: String, load: [Double?]) {
            self.name = name
            self.load = load
        }

        /// What a policy reads at `second`: the mean load of the last `window` seconds
        /// (seconds of an outage inside it count as the current load), or `nil` while
        /// the metric is unavailable.
        public func metric(at second: Int, window: Int) -> Double? {
            guard let current = load[second] else { return nil }
            let seconds = load[max(0, second - window + 1)...second].map { $0 ?? current }
            return seconds.reduce(0, +) / Double(seconds.count)
        }
    }

    /// A policy: decides the replica count from the metric (and the ready count),
    /// every `interval` seconds.
    public struct Policy: Sendable {
        public var name: String
        public var interval: Int
        /// One decision: the current count, the metric (`nil` in an outage), the second,
        /// what the operator sees (ready replicas, and when they reached the pending
        /// scale-up), and the scaler's memory.
        public var decide: @Sendable (_ current: Int32, _ metric: Double?, _ second: Int, _ observed: Observed, _ state: inout ScalingStatus) -> Int32

        public init(name: String, interval: Int, decide: @escaping @Sendable (Int32, Double?, Int, Observed, inout ScalingStatus) -> Int32) {
            self.name = name
            self.interval = interval
            self.decide = decide
        }

        /// Tide's algorithm with a scaling spec, evaluated every `interval` seconds.
        public static func tide(_ name: String, scaling: Scaling, interval: Int) -> Policy {
            Policy(name: name, interval: interval) { current, metric, second, observed, state in
                let reading: MetricReading = metric.map { .value($0) } ?? .unavailable(.unreachable("outage"))
                let decision = ScalingAlgorithm.decide(ScalingInput(
                    currentReplicas: current, scaling: scaling, reading: reading, history: state,
                    now: date(second), readyReplicas: observed.ready, scaleUpReady: observed.scaleUpReady,
                    metricHistory: scaling.strategy == .hpa ? nil : observed.history))
                state = decision.history
                return decision.desiredReplicas
            }
        }
    }

    /// How well a policy followed the oracle.
    /// The simulation's kubelet: the pods of a scale-up are ready `startup` seconds after
    /// it; a scale-down removes pods at once.
    public struct Pods: Sendable {
        public private(set) var ready: Int32
        public let startup: Int
        private var pending: [(at: Int, replicas: Int32)] = []

        public init(ready: Int32, startup: Int) {
            self.ready = ready
            self.startup = startup
        }

        /// The Deployment goes from `current` to `next` replicas at `second`.
        public mutating func scale(from current: Int32, to next: Int32, at second: Int) {
            if next > current {
                pending.append((second + startup, next))
            } else if next < current {
                pending.removeAll()
                ready = min(ready, next)
            }
        }

        /// Pods whose start has run by `second` become ready (never more than `desired`).
        /// - Returns: whether the ready count changed.
        public mutating func advance(to second: Int, desired: Int32) -> Bool {
            let before = ready
            while let first = pending.first, first.at <= second {
                ready = max(ready, min(first.replicas, desired))
                pending.removeFirst()
            }
            return ready != before
        }
    }

    /// The simulation's clock: second `second` of a trace.
    public static func date(_ second: Int) -> Date { Date(timeIntervalSince1970: 1_800_000_000 + Double(second)) }

    /// What the operator sees of the Deployment: the ready count and, as the operator
    /// records it in `status.scaleUpReady`, when it reached the pending scale-up.
    /// And what Prometheus has recorded of the metric until now.
    public struct Observed: Sendable, Hashable {
        public var ready: Int32
        public var scaleUpReady: ScalingStatus.Recommendation?
        /// The metric every ``historyStep`` seconds before now (the scaler's `query_range`).
        public var history: MetricHistory?

        public init(ready: Int32, scaleUpReady: ScalingStatus.Recommendation? = nil, history: MetricHistory? = nil) {
            self.ready = ready
            self.scaleUpReady = scaleUpReady
            self.history = history
        }
    }

    /// The spacing of the history a policy sees, as the scaler reads it.
    public static let historyStep = Int(Scaler.historyStep)

    /// The metric as Prometheus records it over the whole trace (a decision sees the
    /// part before its own time).
    static func history(of trace: Trace, metricWindow: Int) -> MetricHistory {
        let values = stride(from: 0, to: trace.load.count, by: historyStep).map { trace.metric(at: $0, window: metricWindow) }
        return MetricHistory(start: date(0), step: TimeInterval(historyStep), values: values)
    }

    public struct Score: Sendable, Hashable {
        /// Σ over seconds of replicas missing below the oracle.
        public var underProvisioned: Int
        /// Σ over seconds of replicas above the oracle.
        public var overProvisioned: Int
        /// How many times the desired count changed.
        public var scaleChanges: Int
        /// Scale-downs decided while the metric was unavailable.
        public var downDuringOutage = 0
        /// Every change of the desired count, in order, with the reading it was decided on.
        public var changes: [Change] = []
        /// The count when scoring began, which the first change is judged against.
        public var startReplicas: Int32 = 1

        public init(
            underProvisioned: Int = 0, overProvisioned: Int = 0, scaleChanges: Int = 0, downDuringOutage: Int = 0, changes: [Change] = [],
            startReplicas: Int32 = 1
        ) {
            self.underProvisioned = underProvisioned
            self.overProvisioned = overProvisioned
            self.scaleChanges = scaleChanges
            self.downDuringOutage = downDuringOutage
            self.changes = changes
            self.startReplicas = startReplicas
        }

        /// Scale-downs taken back: a scale-up to at least the count a run of scale-downs
        /// started from, within `window` seconds of the last of them (flapping). Changes
        /// that follow demand down and, minutes later, up again are not flaps. `initial`
        /// is the count before the first change (default ``startReplicas``).
        public func flaps(initial: Int32? = nil, within window: Int = 120) -> Int {
            var count = 0
            var previous = initial ?? startReplicas
            var down: (from: Int32, second: Int)?
            for change in changes {
                if change.replicas < previous {
                    // A step down soon after another continues the same fall.
                    let continuing = down.map { change.second - $0.second < window } ?? false
                    down = (continuing ? max(previous, down?.from ?? 0) : previous, change.second)
                } else if let run = down, change.replicas >= run.from, change.second - run.second < window {
                    count += 1
                    down = nil
                }
                previous = change.replicas
            }
            return count
        }
    }

    /// One change of the replica count: at the decision at `second`, reading `metric`
    /// (`nil` while unavailable, or for a computed schedule), `replicas` was set.
    public struct Change: Sendable, Hashable {
        public var second: Int
        public var replicas: Int32
        public var metric: Double?

        public init(second: Int, replicas: Int32, metric: Double? = nil) {
            self.second = second
            self.replicas = replicas
            self.metric = metric
        }
    }

    /// Simulates `trace` under `policy`.
    ///
    /// - Parameters:
    ///   - target: requests per second one replica should serve.
    ///   - metricWindow: the metric is the mean load over this many seconds (like
    ///     `rate(...[1m])` with a scrape delay).
    ///   - startup: seconds a new replica takes to become ready; removals are immediate.
    ///   - scoreFrom: the second from which shortfall, idle capacity and changes count
    ///     (a multi-day trace is scored on its last days, after the policy has seen the rest).
    public static func run(
        _ trace: Trace, policy: Policy, target: Double, initial: Int32 = 1, metricWindow: Int = 30, startup: Int = 20,
        minReplicas: Int32 = 1, maxReplicas: Int32 = 20, scoreFrom: Int = 0
    ) -> Score {
        var desired = initial
        var pods = Pods(ready: initial, startup: startup)
        var state = ScalingStatus()
        var scaleUpReady: ScalingStatus.Recommendation?
        var score = Score(startReplicas: initial)
        var lastKnown: Double = 0
        let recorded = history(of: trace, metricWindow: metricWindow)
        for second in 0..<trace.load.count {
            let load = trace.load[second] ?? lastKnown
            if let known = trace.load[second] { lastKnown = known }
            if second == scoreFrom { score.startReplicas = desired }
            if second % policy.interval == 0 {
                let metric = trace.metric(at: second, window: metricWindow)
                let observed = Observed(ready: pods.ready, scaleUpReady: scaleUpReady, history: recorded.visible(until: date(second)))
                let next = min(max(policy.decide(desired, metric, second, observed, &state), minReplicas), maxReplicas)
                let scored = second >= scoreFrom
                if next < desired, metric == nil, scored { score.downDuringOutage += 1 }
                if next != desired {
                    if scored {
                        score.scaleChanges += 1
                        score.changes.append(Change(second: second, replicas: next, metric: metric))
                    }
                    pods.scale(from: desired, to: next, at: second)
                    desired = next
                }
            }
            _ = pods.advance(to: second, desired: desired)
            let ready = pods.ready
            // The operator's record, the moment it sees the ready count change.
            scaleUpReady = .scaleUpReady(recorded: scaleUpReady, pending: state.pendingScaleUp, ready: ready, at: Time(date(second)))
            guard second >= scoreFrom else { continue }
            let oracle = Int32((load / target).rounded(.up))
            score.underProvisioned += Int(max(0, oracle - ready))
            score.overProvisioned += Int(max(0, ready - oracle))
        }
        return score
    }

    /// `trace` with minute-level noise, as production traffic has: the load times a factor
    /// drawn each minute, uniformly within `1 ± amplitude`, changing linearly from one
    /// minute's factor to the next (so a rate over 30 s sees it as the short rises and
    /// falls real traffic makes). Seeded: the same variant on every run.
    public static func noisy(_ trace: Trace, amplitude: Double = 0.08, seed: UInt64 = noiseSeed) -> Trace {
        var state = seed
        func next() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(UInt64(1) << 53) * 2 - 1
        }
        let minutes = trace.load.count / 60 + 2
        let factors = (0..<minutes).map { _ in 1 + amplitude * next() }
        let load = trace.load.indices.map { second -> Double? in
            guard let value = trace.load[second] else { return nil }
            let minute = second / 60
            let within = Double(second % 60) / 60
            return value * (factors[minute] * (1 - within) + factors[minute + 1] * within)
        }
        return Trace(name: "\(trace.name) ±\(Int((amplitude * 100).rounded())) %/min", load: load)
    }

    /// The seed of the noisy variants unless another is given.
    public static let noiseSeed: UInt64 = 0x6e6f_6973

    /// Seconds in a day.
    public static let day = 86_400

    /// Traces of `days` days at one value a second, shaped like production traffic, to
    /// be scored on their last two days (``multiDayScoreFrom(days:)``). Day 0 is a
    /// Wednesday, so days 3 and 4 are a weekend and the scored days a Monday and a
    /// Tuesday:
    /// - `week`: a business day (4 req/s at night, rising from 07:00 to a peak of 50 at
    ///   13:30 and back by 20:00, a sine² bump), weekends at a third of the bump;
    /// - `week, holiday`: the last day (a Tuesday) is a holiday, shaped like a weekend;
    /// - `week, level shift`: from the Monday at noon, half again as much (a new customer);
    /// - `new service`: nothing until the Monday, then the week's shape;
    /// - `week, hourly batch`: the week plus 25 req/s for the first 5 minutes of every hour.
    public static func multiDayTraces(days: Int = 7) -> [Trace] {
        func business(_ second: Int, weekend: Bool) -> Double {
            let hour = Double(second % day) / 3_600
            guard hour >= 7, hour <= 20 else { return 4 }
            let bump = sin(Double.pi * (hour - 7) / 13)
            return 4 + (weekend ? 46.0 / 3 : 46) * bump * bump
        }
        func isWeekend(_ second: Int) -> Bool { [3, 4].contains((second / day) % 7) }
        func make(_ name: String, _ f: (Int) -> Double?) -> Trace { Trace(name: name, load: (0..<(days * day)).map(f)) }
        let lastDay = days - 1
        return [
            make("week") { business($0, weekend: isWeekend($0)) },
            make("week, holiday") { business($0, weekend: isWeekend($0) || $0 / day == lastDay) },
            make("week, level shift") { business($0, weekend: isWeekend($0)) * ($0 >= (days - 2) * day + day / 2 ? 1.5 : 1) },
            make("new service") { $0 < (days - 2) * day ? 0 : business($0, weekend: isWeekend($0)) },
            make("week, hourly batch") { business($0, weekend: isWeekend($0)) + ($0 % 3_600 < 300 ? 25 : 0) },
        ]
    }

    /// The first second of a multi-day trace's last two days.
    public static func multiDayScoreFrom(days: Int = 7) -> Int { (days - 2) * day }

    /// The standard traces: step, ramp, spike, sawtooth, diurnal (one slow wave),
    /// noisy (a level with ±40 % noise and a step), and an outage during load.
    public static func standardTraces(duration: Int = 1_800) -> [Trace] {
        func make(_ name: String, _ f: (Int) -> Double?) -> Trace { Trace(name: name, load: (0..<duration).map(f)) }
        // A fixed-seed generator, so the noisy trace is the same on every run.
        var seed: UInt64 = 0x7469_6465
        let noise: [Double] = (0..<duration).map { _ in
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(seed >> 11) / Double(UInt64(1) << 53) * 2 - 1
        }
        return [
            make("step") { $0 < 300 ? 5 : ($0 < 1_200 ? 60 : 5) },
            make("ramp") { second in second < 900 ? 5 + Double(second) / 900 * 75 : 80 - Double(second - 900) / 900 * 75 },
            make("spike") { second in (600..<660).contains(second) ? 90 : 10 },
            make("sawtooth") { second in 5 + Double(second % 300) / 300 * 55 },
            make("diurnal") { second in 32.5 - 27.5 * cos(2 * Double.pi * Double(second) / Double(duration)) },
            make("noisy") { second in (second < 900 ? 30 : 45) * (1 + 0.4 * noise[second]) },
            make("outage") { second in
                if (700..<1_000).contains(second) { return nil }
                return second < 300 ? 10 : 50
            },
        ]
    }
}
