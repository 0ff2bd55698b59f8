#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI

/// Rewrites resource quantities the way the API server stores them (`0.5` → `500m`,
/// `1000m` → `1`, `2000` → `2k`, `1.5Gi` → `1536Mi`), so the desired Deployment
/// compares equal to the live one and a steady-state resync makes no write.
public enum CanonicalQuantity {
    private static let decimal: [(suffix: String, exponent: Int)] = [
        ("n", -9), ("u", -6), ("m", -3), ("", 0), ("k", 3), ("M", 6), ("G", 9), ("T", 12), ("P", 15), ("E", 18),
    ]
    private static let binary: [(suffix: String, power: Int)] = [("Ki", 1), ("Mi", 2), ("Gi", 3), ("Ti", 4), ("Pi", 5), ("Ei", 6)]

    /// The canonical text, or `text` unchanged when it is not a quantity Tide can
    /// rewrite (exponent notation, garbage: the API server will judge it).
    public static func canonical(_ text: String) -> String {
        let trimmed = text.trimmingWhitespace()
        var number = trimmed
        var value: Decimal
        var isBinary = false
        if let entry = binary.first(where: { trimmed.hasSuffix($0.suffix) }) {
            number = String(trimmed.dropLast(entry.suffix.count))
            guard let mantissa = parse(number) else { return text }
            value = mantissa * pow(Decimal(1_024), entry.power)
            isBinary = true
        } else if let entry = decimal.first(where: { !$0.suffix.isEmpty && trimmed.hasSuffix($0.suffix) }) {
            number = String(trimmed.dropLast(entry.suffix.count))
            guard let mantissa = parse(number) else { return text }
            value = mantissa * pow(Decimal(10), entry.exponent >= 0 ? entry.exponent : 0) / pow(Decimal(10), entry.exponent < 0 ? -entry.exponent : 0)
        } else {
            guard let plain = parse(trimmed) else { return text }
            value = plain
        }
        if value < 0 { return text }
        if isBinary, isInteger(value) {
            for entry in binary.reversed() {
                let scaled = value / pow(Decimal(1_024), entry.power)
                if isInteger(scaled), scaled >= 1 { return "\(scaled)\(entry.suffix)" }
            }
            return "\(value)"
        }
        for entry in decimal.reversed() {
            let factor = pow(Decimal(10), abs(entry.exponent))
            let scaled = entry.exponent >= 0 ? value / factor : value * factor
            if isInteger(scaled), scaled >= 1 || (scaled == 0 && entry.exponent == 0) { return "\(scaled)\(entry.suffix)" }
        }
        return text
    }

    /// Canonical form of every value in a limits/requests map.
    public static func canonical(_ values: [String: ResourceQuantity]?) -> [String: ResourceQuantity]? {
        values?.mapValues { ResourceQuantity(canonical($0.text)) }
    }

    private static func parse(_ text: String) -> Decimal? {
        guard !text.isEmpty, text.allSatisfy({ $0.isNumber || $0 == "." }), text.filter({ $0 == "." }).count <= 1 else { return nil }
        return Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))
    }

    /// Whether `value` has no fractional digits; its description (the text written
    /// above) never has trailing zeros or exponent notation.
    private static func isInteger(_ value: Decimal) -> Bool {
        !value.description.contains(".")
    }
}
