#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One value of a metric at one time (a Prometheus sample, a replayed reading).
public struct MetricPoint: Sendable, Hashable {
    public var time: Date
    public var value: Double

    public init(time: Date, value: Double) {
        self.time = time
        self.value = value
    }
}

/// How Tide writes a metric's value: at most three decimals, no exponent.
public enum MetricNumber {
    /// A metric value as it is reported: up to three decimals, no trailing zeros.
    public static func format(_ value: Double) -> String {
        guard value.isFinite else { return "\(value)" }
        let thousandths = (value.magnitude * 1_000).rounded()
        guard thousandths < 9.0e18 else { return "\(value.rounded())" }
        let units = Int64(thousandths)
        var text = (value < 0 && units > 0 ? "-" : "") + String(units / 1_000)
        var fraction = String(units % 1_000)
        if fraction != "0" {
            fraction = String(repeating: "0", count: 3 - fraction.count) + fraction
            while fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        return text
    }
}
