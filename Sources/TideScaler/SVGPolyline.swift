/// One line of an SVG plot: points joined straight, or as steps (each value held until
/// the next point), for the local run's plot and the backtest's.
public enum SVGPolyline {
    public static func make(_ points: [(x: Double, y: Double)], color: String, width: Double, dash: String = "", step: Bool = false) -> String {
        func number(_ value: Double) -> String { ScalingAlgorithm.format((value * 10).rounded() / 10) }
        var coordinates: [String] = []
        for (index, point) in points.enumerated() {
            if step, index > 0 { coordinates.append("\(number(point.x)),\(number(points[index - 1].y))") }
            coordinates.append("\(number(point.x)),\(number(point.y))")
        }
        let dashes = dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\""
        return "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(number(width))\"\(dashes) points=\"\(coordinates.joined(separator: " "))\"/>"
    }
}
