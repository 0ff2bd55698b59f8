/// The hindsight bound for long traces, scored on a window (the last two days of a
/// 7-day trace), at any decision interval with a pod start shorter than two intervals.
///
/// ``HindsightBound`` carries a budget of scale changes in its state, which is exact but
/// too large for days of decisions. Here each change has a price instead: the schedule
/// minimises `idle + weight × shortfall + price × changes` over the window. For every
/// schedule, that of any policy included, that sum is at least the optimum `cost` (the
/// optimum is the least of them all). So a goal "shortfall ≤ S, idle ≤ X, changes ≤ C"
/// is out of reach for every policy, clairvoyant or not, when `cost > X + weight × S +
/// price × C` for some weight and price: the same argument as ``HindsightBound``'s, with
/// the budget priced (Lagrangian relaxation).
///
/// The window may start in any state (any replicas, a scale-up in flight or not) at no
/// cost, so what a policy did before the window never makes the bound too high.
/// Scoring is ``ScalingSimulation/run(_:policy:target:initial:metricWindow:startup:minReplicas:maxReplicas:scoreFrom:)``'s:
/// decisions every `interval` seconds, new replicas ready `startup` seconds after a
/// scale-up, removals at once, shortfall and idle against `ceil(load / target)` each
/// second (the last known load through an outage).
public enum PricedHindsightBound {
    /// The optimal schedule for one weight and price.
    public struct Result: Sendable, Hashable {
        /// The least `idle + weight × shortfall + price × changes` of any schedule.
        public var cost: Double
        public var weight: Double
        public var price: Double
        /// The schedule's Σ replicas below the oracle per second, in the window.
        public var underProvisioned: Int
        /// The schedule's Σ replicas above the oracle per second, in the window.
        public var overProvisioned: Int
        /// The schedule's scale changes in the window.
        public var scaleChanges: Int

        /// Whether no schedule at all reaches "shortfall ≤ `shortfall`, idle ≤ `idle`,
        /// changes ≤ `changes`": the bound exceeds what such a schedule would cost.
        public func rulesOut(shortfall: Int, idle: Int, changes: Int) -> Bool {
            cost > Double(idle) + weight * Double(shortfall) + price * Double(changes) + 1e-6
        }
    }

    /// The optimal schedule on `trace` from second `from` to its end; `nil` when the
    /// model does not apply (`startup ≥ 2 × interval`, bounds out of order, an empty window).
    public static func optimal(
        _ trace: ScalingSimulation.Trace, target: Double, weight: Double, price: Double, interval: Int, startup: Int = 20, from: Int = 0,
        minReplicas: Int32 = 1, maxReplicas: Int32 = 20
    ) -> Result? {
        guard interval > 0, startup >= 0, startup < 2 * interval, minReplicas >= 1, minReplicas <= maxReplicas, weight >= 0, price >= 0,
            from >= 0, from < trace.load.count
        else { return nil }
        let oracle = HindsightBound.oracle(trace, target: target, from: from)
        let levels = Int(maxReplicas) + 1
        let sums = HindsightBound.StretchCosts(oracle: oracle, levels: levels)
        let steps = (oracle.count + interval - 1) / interval
        let low = Int(minReplicas), high = Int(maxReplicas)
        // State: ready replicas, desired replicas, a scale-up still starting (only when
        // the pod start is at least an interval: it then carries into the next one).
        let carries = startup >= interval
        func index(_ ready: Int, _ desired: Int, _ pending: Int) -> Int { (ready * levels + desired) * 2 + pending }
        let states = levels * levels * 2
        struct Cell { var cost = Double.infinity, short = 0, idle = 0, changes = 0 }
        var layer = [Cell](repeating: Cell(), count: states)
        for desired in low...high {
            for ready in (carries ? low : desired)...desired {
                for pending in 0..<(carries && ready < desired ? 2 : 1) { layer[index(ready, desired, pending)] = Cell(cost: 0) }
            }
        }
        for step in 0..<steps {
            let start = step * interval, end = min(start + interval, oracle.count)
            var next = [Cell](repeating: Cell(), count: states)
            for desired in low...high {
                for ready in low...desired {
                    for pending in 0..<2 {
                        let cell = layer[index(ready, desired, pending)]
                        guard cell.cost.isFinite else { continue }
                        for chosen in low...high {
                            let change = chosen == desired ? 0 : 1
                            let (short, idle, ready2, pending2) = sums.interval(
                                ready: ready, desired: desired, pending: pending, chosen: chosen, start: start, end: end, startup: startup,
                                interval: interval)
                            let target = index(ready2, chosen, pending2)
                            let cost = cell.cost + Double(idle) + weight * Double(short) + price * Double(change)
                            if cost < next[target].cost {
                                next[target] = Cell(cost: cost, short: cell.short + short, idle: cell.idle + idle, changes: cell.changes + change)
                            }
                        }
                    }
                }
            }
            layer = next
        }
        guard let best = layer.min(by: { $0.cost < $1.cost }), best.cost.isFinite else { return nil }
        return Result(
            cost: best.cost, weight: weight, price: price, underProvisioned: best.short, overProvisioned: best.idle, scaleChanges: best.changes)
    }

    /// Whether no policy at all reaches "shortfall ≤ `shortfall`, idle ≤ `idle`, changes
    /// ≤ `changes`" on the window: the first weight and price whose bound rules it
    /// out, or `nil` when none of them does (the goal may then be reachable).
    public static func unreachable(
        _ trace: ScalingSimulation.Trace, target: Double, shortfall: Int, idle: Int, changes: Int, interval: Int, startup: Int = 20, from: Int = 0,
        weights: [Double] = [0.5, 1, 2, 4], prices: [Double] = [0, 100, 1_000, 10_000]
    ) -> Result? {
        for weight in weights {
            for price in prices {
                guard let result = optimal(trace, target: target, weight: weight, price: price, interval: interval, startup: startup, from: from)
                else { continue }
                if result.rulesOut(shortfall: shortfall, idle: idle, changes: changes) { return result }
            }
        }
        return nil
    }
}
