/// The best any policy could have done on a trace: an optimal replica schedule
/// computed with the whole trace known in advance, scored exactly as
/// ``ScalingSimulation/run(_:policy:target:initial:metricWindow:startup:minReplicas:maxReplicas:)``
/// scores a policy (decisions every `interval` seconds, new replicas ready `startup`
/// seconds after a scale-up, removals at once), within a budget of scale changes.
///
/// No policy can beat it, since none knows the future; it tells how far a policy is
/// from what was possible, and whether a goal was possible at all.
///
/// Shortfall and idle capacity pull against each other, so the bound minimises
/// `idle + weight × shortfall` (dynamic programming over decision times, replica
/// counts, whether a scale-up is still starting, and changes used). For every
/// schedule, that of any policy included, `idle + weight × shortfall ≥ cost`: so a
/// goal "shortfall ≤ S and idle ≤ X" is out of reach for every policy, clairvoyant
/// or not, when `cost > X + weight × S` for some weight.
public enum HindsightBound {
    /// The optimal schedule for one weight.
    public struct Result: Sendable, Hashable {
        /// The least `idle + weight × shortfall` of any schedule within the budget.
        public var cost: Double
        public var weight: Double
        /// The schedule's Σ replicas below the oracle per second.
        public var underProvisioned: Int
        /// The schedule's Σ replicas above the oracle per second.
        public var overProvisioned: Int
        public var scaleChanges: Int
        /// The schedule: each change, in order.
        public var changes: [Change]
    }

    /// A change of the optimal schedule: at the decision at `second`, set `replicas`
    /// (no reading: the schedule is computed, not decided).
    public typealias Change = ScalingSimulation.Change

    /// The optimal schedule for `trace` with at most `maxChanges` scale changes, or
    /// `nil` when the model does not apply: it needs `interval ≤ startup < 2 ×
    /// interval` (a scale-up's replicas become ready during the next interval, as with
    /// the suite's 15 s decisions and 20 s pod start) and `1 ≤ minReplicas ≤ initial ≤
    /// maxReplicas`.
    ///
    /// With `downHold`, a scale-down is allowed only as far as every reading of the
    /// last `downHold` seconds permits (`ceil(reading / target)` for each, the metric
    /// being the mean of the last `metricWindow` seconds, as the simulation feeds its
    /// policies) and never while the metric is unavailable: the best a policy can do
    /// that waits for lower demand to hold before scaling down, however it scales up.
    public static func optimal(
        _ trace: ScalingSimulation.Trace, target: Double, weight: Double, maxChanges: Int, interval: Int = 15, startup: Int = 20,
        initial: Int32 = 1, minReplicas: Int32 = 1, maxReplicas: Int32 = 20, downHold: Int? = nil, metricWindow: Int = 30
    ) -> Result? {
        guard interval > 0, interval <= startup, startup < 2 * interval, minReplicas >= 1, minReplicas <= initial, initial <= maxReplicas,
            maxChanges >= 0, weight >= 0, !trace.load.isEmpty
        else { return nil }
        let oracle = Self.oracle(trace, target: target)
        let levels = Int(maxReplicas) + 1
        let sums = StretchCosts(oracle: oracle, levels: levels)
        let steps = (oracle.count + interval - 1) / interval
        let downFloor = downHold.map { hold in Self.downFloor(trace, target: target, interval: interval, steps: steps, hold: hold, metricWindow: metricWindow) }
        let budget = maxChanges + 1
        // State: ready replicas, desired replicas, a scale-up still starting, changes used.
        func index(_ ready: Int, _ desired: Int, _ pending: Int, _ used: Int) -> Int {
            ((ready * levels + desired) * 2 + pending) * budget + used
        }
        let states = levels * levels * 2 * budget
        struct Cell { var cost = Double.infinity, short = 0, idle = 0 }
        var layer = [Cell](repeating: Cell(), count: states)
        var from = [[Int32]]()
        from.reserveCapacity(steps)
        layer[index(Int(initial), Int(initial), 0, 0)] = Cell(cost: 0)
        let low = Int(minReplicas), high = Int(maxReplicas)
        for step in 0..<steps {
            let start = step * interval, end = min(start + interval, oracle.count)
            var next = [Cell](repeating: Cell(), count: states)
            var back = [Int32](repeating: -1, count: states)
            // Ready replicas never exceed the desired count (a scale-down removes them at once).
            for desired in low...high {
                for ready in low...desired {
                    for pending in 0..<2 {
                        for used in 0..<budget {
                            let state = index(ready, desired, pending, used)
                            let cell = layer[state]
                            guard cell.cost.isFinite else { continue }
                            for chosen in low...high {
                                let changes = used + (chosen == desired ? 0 : 1)
                                guard changes < budget else { continue }
                                if chosen < desired, let downFloor, chosen < downFloor[step] { continue }
                                let (short, idle, ready2, pending2) = sums.interval(
                                    ready: ready, desired: desired, pending: pending, chosen: chosen, start: start, end: end, startup: startup,
                                    interval: interval)
                                let cost = cell.cost + Double(idle) + weight * Double(short)
                                let target = index(ready2, chosen, pending2, changes)
                                if cost < next[target].cost {
                                    next[target] = Cell(cost: cost, short: cell.short + short, idle: cell.idle + idle)
                                    back[target] = Int32(state)
                                }
                            }
                        }
                    }
                }
            }
            layer = next
            from.append(back)
        }
        guard let best = layer.indices.min(by: { layer[$0].cost < layer[$1].cost }), layer[best].cost.isFinite else { return nil }
        // Walk back for the schedule.
        var desiredAt = [Int32](repeating: 0, count: steps + 1)
        var state = best
        for step in stride(from: steps, to: 0, by: -1) {
            desiredAt[step] = Int32((state / (2 * budget)) % levels)
            state = Int(from[step - 1][state])
        }
        desiredAt[0] = initial
        var changes: [Change] = []
        for step in 1...steps where desiredAt[step] != desiredAt[step - 1] { changes.append(Change(second: (step - 1) * interval, replicas: desiredAt[step])) }
        let cell = layer[best]
        return Result(
            cost: cell.cost, weight: weight, underProvisioned: cell.short, overProvisioned: cell.idle, scaleChanges: changes.count, changes: changes)
    }

    /// The oracle each second from `from` on, `ceil(load / target)`, with the last known
    /// load through an outage (as the simulation scores it).
    static func oracle(_ trace: ScalingSimulation.Trace, target: Double, from: Int = 0) -> [Int] {
        var lastKnown: Double = 0
        for load in trace.load[..<from] { if let load { lastKnown = load } }
        var oracle: [Int] = []
        oracle.reserveCapacity(trace.load.count - from)
        for load in trace.load[from...] {
            if let load { lastKnown = load }
            oracle.append(Int((lastKnown / target).rounded(.up)))
        }
        return oracle
    }

    /// Prefix sums of shortfall and idle against the oracle per replica level, so a
    /// stretch at one level costs O(1).
    struct StretchCosts {
        var short: [[Int]]
        var idle: [[Int]]

        init(oracle: [Int], levels: Int) {
            short = [[Int]](repeating: [0], count: levels)
            idle = [[Int]](repeating: [0], count: levels)
            for level in 0..<levels {
                short[level].reserveCapacity(oracle.count + 1)
                idle[level].reserveCapacity(oracle.count + 1)
                for need in oracle {
                    short[level].append(short[level].last! + max(0, need - level))
                    idle[level].append(idle[level].last! + max(0, level - need))
                }
            }
        }

        /// Shortfall and idle of `level` replicas over seconds `start..<end`.
        func stretch(_ level: Int, _ start: Int, _ end: Int) -> (short: Int, idle: Int) {
            (short[level][end] - short[level][start], idle[level][end] - idle[level][start])
        }

        /// One decision interval of the simulation's model (``ScalingSimulation/Pods``),
        /// from `ready` of `desired` replicas (`pending`: a scale-up still starting) to
        /// `chosen`, over seconds `start..<end`, with a pod start under two intervals:
        /// its shortfall and idle, and the ready replicas and starting scale-up after it.
        ///
        /// A scale-down removes replicas at once and cancels a starting scale-up. With a
        /// pod start of an interval or more, the previous interval's scale-up becomes
        /// ready `startup - interval` seconds in and this one's in the next interval;
        /// with a shorter one, this one's `startup` seconds in.
        func interval(
            ready: Int, desired: Int, pending: Int, chosen: Int, start: Int, end: Int, startup: Int, interval: Int
        ) -> (short: Int, idle: Int, ready: Int, pending: Int) {
            if chosen < desired {
                let level = min(ready, chosen)
                let (short, idle) = stretch(level, start, end)
                return (short, idle, level, 0)
            }
            let carries = startup >= interval
            let switchAt = min(start + (carries ? startup - interval : startup), end)
            let after = carries ? (pending == 1 ? desired : ready) : chosen
            let (s1, i1) = stretch(ready, start, switchAt), (s2, i2) = stretch(after, switchAt, end)
            return (s1 + s2, i1 + i2, carries ? after : chosen, carries && chosen > desired ? 1 : 0)
        }
    }

    /// The fewest replicas a scale-down may go to at each decision: the most any
    /// reading of the last `hold` seconds asks for (`Int.max`, no scale-down, while
    /// the metric is unavailable).
    static func downFloor(_ trace: ScalingSimulation.Trace, target: Double, interval: Int, steps: Int, hold: Int, metricWindow: Int) -> [Int] {
        let asks: [Int?] = (0..<steps).map { step in
            trace.metric(at: step * interval, window: metricWindow).map { Int(($0 / target).rounded(.up)) }
        }
        return (0..<steps).map { step in
            guard asks[step] != nil else { return Int.max }
            var most = 0
            for earlier in stride(from: step, through: 0, by: -1) where (step - earlier) * interval <= hold {
                most = max(most, asks[earlier] ?? 0)
            }
            return most
        }
    }

    /// Whether no policy at all, even one knowing the future, reaches "shortfall ≤
    /// `shortfall` and idle ≤ `idle`" within `maxChanges`: the weight that proves it,
    /// with its bound, or `nil` when none of `weights` does (the goal may then be
    /// reachable in hindsight; the results say at what cost). With `downHold`, the
    /// same for every policy that waits that long for lower readings before a scale-down.
    public static func unreachable(
        _ trace: ScalingSimulation.Trace, target: Double, shortfall: Int, idle: Int, maxChanges: Int, downHold: Int? = nil,
        weights: [Double] = [0.5, 1, 2, 4, 8]
    ) -> Result? {
        for weight in weights {
            guard let result = optimal(trace, target: target, weight: weight, maxChanges: maxChanges, downHold: downHold) else { continue }
            if result.cost > Double(idle) + weight * Double(shortfall) { return result }
        }
        return nil
    }
}
