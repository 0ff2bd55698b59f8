#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import TideAPI

/// The ranges a PromQL query averages over, read from its text: what a metric's lag is
/// (Predictive's lead) and what `windowSeconds` the custom metrics API reports.
public enum PromQLRange {
    /// The longest range selector of a PromQL query, in seconds (text inside quotes is
    /// not looked at), or `nil` when it has none.
    public static func longest(in query: String) -> TimeInterval? {
        var longest: TimeInterval?
        var quote: Character?
        var escaped = false
        var range: String?
        for character in query {
            if let open = quote {
                if escaped {
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == open {
                    quote = nil
                }
                continue
            }
            switch character {
            case "\"", "'", "`":
                // A quote opens a string only outside a range selector.
                if range == nil { quote = character } else { range?.append(character) }
            case "[": range = ""
            case "]":
                let window = (range ?? "").split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
                if let seconds = DurationText.parse(window)?.inSeconds {
                    longest = max(longest ?? 0, seconds)
                }
                range = nil
            default: range?.append(character)
            }
        }
        return longest
    }
}
