import KubeAPI

/// Parses Prometheus/Go-style durations: `500ms`, `15s`, `1m30s`, `2h`, `1d`.
public enum DurationText {
    /// The duration, or `nil` if the text is not a positive duration of that form.
    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingWhitespace()
        guard !trimmed.isEmpty else { return nil }
        var total = Duration.zero
        var number = ""
        var unit = ""
        var sawAny = false
        func flush() -> Bool {
            guard let value = Double(number), value >= 0 else { return false }
            let seconds: Double
            switch unit {
            case "ms": seconds = value / 1_000
            case "s": seconds = value
            case "m": seconds = value * 60
            case "h": seconds = value * 3_600
            case "d": seconds = value * 86_400
            default: return false
            }
            total += .milliseconds(Int64((seconds * 1_000).rounded()))
            number = ""
            unit = ""
            sawAny = true
            return true
        }
        for character in trimmed {
            if character.isNumber || character == "." {
                if !unit.isEmpty { guard flush() else { return nil } }
                number.append(character)
            } else if character.isLetter {
                guard !number.isEmpty else { return nil }
                unit.append(character)
            } else {
                return nil
            }
        }
        guard !number.isEmpty, !unit.isEmpty, flush(), sawAny, total > .zero else { return nil }
        return total
    }
}

/// Parses decimal quantities as Kubernetes writes them: `5`, `0.25`, `500m`, `2k`,
/// `1.5M`, `1Ki`.
public enum Quantity {
    public static func parse(_ text: String) -> Double? {
        let trimmed = text.trimmingWhitespace()
        let suffixes: [(String, Double)] = [
            ("Ki", 1_024), ("Mi", 1_048_576), ("Gi", 1_073_741_824), ("m", 0.001), ("k", 1_000), ("M", 1_000_000),
            ("G", 1_000_000_000),
        ]
        for (suffix, factor) in suffixes where trimmed.hasSuffix(suffix) {
            guard let value = Double(trimmed.dropLast(suffix.count)), value.isFinite else { return nil }
            return value * factor
        }
        guard let value = Double(trimmed), value.isFinite else { return nil }
        return value
    }
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
