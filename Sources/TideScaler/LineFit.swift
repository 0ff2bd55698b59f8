/// The least-squares line through points of (time, value): the means, the spread of the
/// times around theirs, and the slope. Predictive's short projection
/// (``PredictiveStrategy/slope(_:)``) and its half-hour line (``RecentTrend``) both fit
/// one.
struct LineFit {
    let meanTime: Double
    let meanValue: Double
    /// Σ (time − mean time)²: how far the times spread, which the slope's and the
    /// level's standard errors divide by.
    let timeSquares: Double
    /// The slope, per unit of time.
    let slope: Double

    /// The line through `points`; `nil` with fewer than two points or all at one time.
    init?(_ points: [(time: Double, value: Double)]) {
        guard points.count >= 2 else { return nil }
        let count = Double(points.count)
        let meanTime = points.reduce(0) { $0 + $1.time } / count
        let meanValue = points.reduce(0) { $0 + $1.value } / count
        var timeSquares = 0.0, products = 0.0
        for point in points {
            timeSquares += (point.time - meanTime) * (point.time - meanTime)
            products += (point.time - meanTime) * (point.value - meanValue)
        }
        guard timeSquares > 0 else { return nil }
        self.meanTime = meanTime
        self.meanValue = meanValue
        self.timeSquares = timeSquares
        slope = products / timeSquares
    }

    /// The line's value at `time`.
    func value(at time: Double) -> Double { meanValue + slope * (time - meanTime) }
}
