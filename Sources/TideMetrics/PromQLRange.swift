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
        // Every character the syntax names is ASCII, so the bytes are read, not the
        // characters: a decision reads this for each metric, and a replay for each of
        // a day's decisions.
        var longest: TimeInterval?
        var quote: UInt8?
        var escaped = false
        var range: [UInt8]?
        for byte in query.utf8 {
            if let open = quote {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == open {
                    quote = nil
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "`"):
                // A quote opens a string only outside a range selector.
                if range == nil { quote = byte } else { range?.append(byte) }
            case UInt8(ascii: "["): range = []
            case UInt8(ascii: "]"):
                let window = (range ?? []).split(separator: UInt8(ascii: ":"), maxSplits: 1, omittingEmptySubsequences: false).first
                if let window, let seconds = DurationText.parse(String(decoding: window, as: UTF8.self))?.inSeconds {
                    longest = max(longest ?? 0, seconds)
                }
                range = nil
            default: range?.append(byte)
            }
        }
        return longest
    }
}
