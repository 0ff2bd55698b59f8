/// `metav1.LabelSelector`, plus the label-selector query language
/// (`a=b,c!=d,e in (x,y),f notin (z),g,!h`) used in `?labelSelector=`.
public struct LabelSelector: Sendable, Hashable, Codable {
    public var matchLabels: [String: String]?
    public var matchExpressions: [Requirement]?

    public init(matchLabels: [String: String]? = nil, matchExpressions: [Requirement]? = nil) {
        self.matchLabels = matchLabels
        self.matchExpressions = matchExpressions
    }

    /// One `matchExpressions` entry.
    public struct Requirement: Sendable, Hashable, Codable {
        public var key: String
        /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
        public var `operator`: String
        public var values: [String]?

        public init(key: String, operator op: String, values: [String]? = nil) {
            self.key = key
            self.operator = op
            self.values = values
        }
    }

    /// The selector in query-string form, e.g. `app=hello,tier in (web)`; keys sorted.
    public var queryString: String {
        var parts: [String] = []
        for (key, value) in (matchLabels ?? [:]).sorted(by: { $0.key < $1.key }) {
            parts.append("\(key)=\(value)")
        }
        for requirement in matchExpressions ?? [] {
            let values = (requirement.values ?? []).sorted().joined(separator: ",")
            switch requirement.operator {
            case "In": parts.append("\(requirement.key) in (\(values))")
            case "NotIn": parts.append("\(requirement.key) notin (\(values))")
            case "Exists": parts.append(requirement.key)
            case "DoesNotExist": parts.append("!\(requirement.key)")
            default: continue
            }
        }
        return parts.joined(separator: ",")
    }

    /// Whether `labels` satisfy every term. An empty selector matches everything.
    public func matches(_ labels: [String: String]) -> Bool {
        for (key, value) in matchLabels ?? [:] where labels[key] != value {
            return false
        }
        for requirement in matchExpressions ?? [] {
            let values = requirement.values ?? []
            switch requirement.operator {
            case "In": if let value = labels[requirement.key], values.contains(value) { continue } else { return false }
            case "NotIn": if let value = labels[requirement.key], values.contains(value) { return false }
            case "Exists": if labels[requirement.key] == nil { return false }
            case "DoesNotExist": if labels[requirement.key] != nil { return false }
            default: return false
            }
        }
        return true
    }

    /// Parses the query form. `a!=b` is kept as `NotIn (b)`, which has the same meaning.
    ///
    /// - Throws: ``LabelSelectorError`` naming the term that could not be read.
    public init(parsing text: String) throws {
        var labels: [String: String] = [:]
        var expressions: [Requirement] = []
        for term in Self.splitTerms(text) {
            let trimmed = term.trimmingWhitespace()
            if trimmed.isEmpty { continue }
            if let range = trimmed.firstRange(of: " notin ") ?? trimmed.firstRange(of: " in ") {
                let key = String(trimmed[..<range.lowerBound]).trimmingWhitespace()
                let isIn = trimmed[range].trimmingWhitespace() == "in"
                var rest = trimmed[range.upperBound...].trimmingWhitespace()
                guard rest.hasPrefix("("), rest.hasSuffix(")"), Self.isValidKey(key) else {
                    throw LabelSelectorError(term: trimmed)
                }
                rest = String(rest.dropFirst().dropLast())
                let values = rest.split(separator: ",").map { $0.trimmingWhitespace() }
                expressions.append(Requirement(key: key, operator: isIn ? "In" : "NotIn", values: values))
            } else if let range = trimmed.firstRange(of: "!=") {
                let key = trimmed[..<range.lowerBound].trimmingWhitespace()
                let value = trimmed[range.upperBound...].trimmingWhitespace()
                guard Self.isValidKey(key) else { throw LabelSelectorError(term: trimmed) }
                expressions.append(Requirement(key: key, operator: "NotIn", values: [value]))
            } else if let range = trimmed.firstRange(of: "==") ?? trimmed.firstRange(of: "=") {
                let key = trimmed[..<range.lowerBound].trimmingWhitespace()
                let value = trimmed[range.upperBound...].trimmingWhitespace()
                guard Self.isValidKey(key) else { throw LabelSelectorError(term: trimmed) }
                labels[key] = value
            } else if trimmed.hasPrefix("!") {
                let key = trimmed.dropFirst().trimmingWhitespace()
                guard Self.isValidKey(key) else { throw LabelSelectorError(term: trimmed) }
                expressions.append(Requirement(key: key, operator: "DoesNotExist"))
            } else {
                guard Self.isValidKey(trimmed) else { throw LabelSelectorError(term: trimmed) }
                expressions.append(Requirement(key: trimmed, operator: "Exists"))
            }
        }
        self.init(
            matchLabels: labels.isEmpty ? nil : labels, matchExpressions: expressions.isEmpty ? nil : expressions)
    }

    private static func splitTerms(_ text: String) -> [String] {
        var terms: [String] = []
        var current = ""
        var depth = 0
        for character in text {
            switch character {
            case "(": depth += 1; current.append(character)
            case ")": depth -= 1; current.append(character)
            case "," where depth == 0: terms.append(current); current = ""
            default: current.append(character)
            }
        }
        terms.append(current)
        return terms
    }

    private static func isValidKey(_ key: String) -> Bool {
        !key.isEmpty && key.allSatisfy { $0.isLetter || $0.isNumber || "-_./".contains($0) }
    }
}

/// A label selector string that could not be parsed.
public struct LabelSelectorError: Error, Sendable, Hashable, CustomStringConvertible {
    public var term: String
    public init(term: String) { self.term = term }
    public var description: String { "unable to parse label selector term '\(term)'" }
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
