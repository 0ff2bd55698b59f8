import Foundation
import KubeAPI

/// One problem with a spec: the field and what is wrong, in words a user can act on.
public struct ValidationIssue: Sendable, Hashable, CustomStringConvertible {
    public var field: String
    public var message: String
    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }
    public var description: String { "\(field): \(message)" }
}

extension ApplicationSpec {
    /// Checks what the CRD schema cannot: trimmed emptiness, durations, URLs, cron
    /// schedules, quantities, and cross-field rules. Call on the defaulted spec.
    public func validate() -> [ValidationIssue] {
        var issues: [ValidationIssue] = []
        func add(_ field: String, _ message: String) { issues.append(ValidationIssue(field: field, message: message)) }

        if image.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            add("spec.image", "must name a container image")
        } else if image.contains(where: \.isWhitespace) {
            add("spec.image", "must not contain whitespace: \"\(image)\"")
        }
        if let port, !(1...65_535).contains(port) { add("spec.port", "must be between 1 and 65535, got \(port)") }
        if let replicas, replicas < 0 { add("spec.replicas", "must not be negative, got \(replicas)") }
        var names = Set<String>()
        for (index, variable) in (env ?? []).enumerated() {
            if !Self.isEnvironmentVariableName(variable.name) {
                add(
                    "spec.env[\(index)].name",
                    "\"\(variable.name)\" is not a valid environment variable name: ASCII letters, digits, '_', '-' and '.', not starting with a digit")
            }
            if !names.insert(variable.name).inserted { add("spec.env[\(index)].name", "\"\(variable.name)\" is set more than once") }
        }
        if let metrics {
            if let path = metrics.path, !path.hasPrefix("/") { add("spec.metrics.path", "must start with /, got \"\(path)\"") }
            if let interval = metrics.interval, DurationText.parse(interval) == nil {
                add("spec.metrics.interval", "\"\(interval)\" is not a duration such as 15s or 1m")
            }
        }
        if let scaling { issues += scaling.validate() }
        return issues
    }

    /// The API server's rule for `env[].name` (`[-._a-zA-Z][-._a-zA-Z0-9]*`): ASCII
    /// only, so a name with `é` or a non-Latin digit is refused here rather than by
    /// the Deployment write.
    public static func isEnvironmentVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !isASCIIDigit(first) else { return false }
        return name.unicodeScalars.allSatisfy { isASCIILetter($0) || isASCIIDigit($0) || "-._".unicodeScalars.contains($0) }
    }
}

func isASCIILetter(_ scalar: Unicode.Scalar) -> Bool { ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) }
func isASCIIDigit(_ scalar: Unicode.Scalar) -> Bool { ("0"..."9").contains(scalar) }

extension Scaling {
    func validate() -> [ValidationIssue] {
        var issues: [ValidationIssue] = []
        func add(_ field: String, _ message: String) { issues.append(ValidationIssue(field: "spec.scaling." + field, message: message)) }
        let minimum = minReplicas ?? Defaults.minReplicas
        if minimum < 1 { add("minReplicas", "must be at least 1, got \(minimum)") }
        if maxReplicas < minimum { add("maxReplicas", "must be at least minReplicas (\(minimum)), got \(maxReplicas)") }
        if let schedule, !Self.isCronSchedule(schedule) {
            add("schedule", "\"\(schedule)\" is not a five-field cron schedule such as \"* * * * *\"")
        }
        if let interval, DurationText.parse(interval) == nil { add("interval", "\"\(interval)\" is not a duration such as 10s") }
        let trimmedQuery = prometheus.query.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmedQuery.isEmpty { add("prometheus.query", "must be a PromQL query; it is empty") }
        if let url = URL(string: prometheus.address), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil {
        } else {
            add("prometheus.address", "\"\(prometheus.address)\" is not an http(s) URL such as http://prometheus:9090")
        }
        if let timeout = prometheus.timeout {
            if let duration = DurationText.parse(timeout) {
                if duration > .seconds(60) { add("prometheus.timeout", "must be at most 60s, got \(timeout)") }
            } else {
                add("prometheus.timeout", "\"\(timeout)\" is not a duration such as 5s")
            }
        }
        if let value = Quantity.parse(target.value) {
            if value <= 0 { add("target.value", "must be greater than zero, got \(target.value)") }
        } else {
            add("target.value", "\"\(target.value)\" is not a number such as 5, 0.5 or 500m")
        }
        if let tolerance, !(0..<1).contains(tolerance) { add("tolerance", "must be at least 0 and below 1, got \(tolerance)") }
        for (name, rules) in [("scaleUp", behavior?.scaleUp), ("scaleDown", behavior?.scaleDown)] {
            guard let rules else { continue }
            if let window = rules.stabilizationWindowSeconds, !(0...3_600).contains(window) {
                add("behavior.\(name).stabilizationWindowSeconds", "must be between 0 and 3600, got \(window)")
            }
            for (index, policy) in (rules.policies ?? []).enumerated() {
                if policy.value <= 0 { add("behavior.\(name).policies[\(index)].value", "must be greater than zero, got \(policy.value)") }
                if !(1...1_800).contains(policy.periodSeconds) {
                    add("behavior.\(name).policies[\(index)].periodSeconds", "must be between 1 and 1800, got \(policy.periodSeconds)")
                }
            }
        }
        if onMetricUnavailable == .fallback, fallback == nil {
            add("fallback", "is required when onMetricUnavailable is Fallback")
        }
        if let fallback {
            if fallback.failureThreshold < 1 { add("fallback.failureThreshold", "must be at least 1, got \(fallback.failureThreshold)") }
            if fallback.replicas < minimum || fallback.replicas > maxReplicas {
                add("fallback.replicas", "must be between minReplicas (\(minimum)) and maxReplicas (\(maxReplicas)), got \(fallback.replicas)")
            }
        }
        return issues
    }

    /// Five whitespace-separated fields of `*`, numbers, ranges, lists and steps (or a
    /// `@hourly`-style macro).
    static func isCronSchedule(_ text: String) -> Bool {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"].contains(trimmed) { return true }
        let fields = trimmed.split(whereSeparator: \.isWhitespace)
        guard fields.count == 5 else { return false }
        return fields.allSatisfy { field in
            field.unicodeScalars.allSatisfy { isASCIIDigit($0) || isASCIILetter($0) || "*/,-?".unicodeScalars.contains($0) }
        }
    }
}

extension Application {
    /// The longest name whose children all have valid names and label values: the
    /// scaler CronJob `<name>-scaler` may have at most 52 characters (its Jobs add
    /// 11), the label value `<name>-scaler` at most 63.
    public static func maximumNameLength(for scaling: Scaling?) -> Int {
        guard let scaling else { return 63 }
        return (scaling.mode ?? .cronJob) == .cronJob ? 45 : 56
    }

    /// Checks the name and the (defaulted) spec. The CRD's CEL rules say the same for
    /// the name at admission; this catches objects written before those rules, or to
    /// a server that does not evaluate them.
    public func validate() -> [ValidationIssue] {
        var issues: [ValidationIssue] = []
        let scalars = Array(name.unicodeScalars)
        let isLowercaseLetter: (Unicode.Scalar) -> Bool = { ("a"..."z").contains($0) }
        let validLabel = scalars.first.map(isLowercaseLetter) == true
            && scalars.allSatisfy { isLowercaseLetter($0) || isASCIIDigit($0) || $0 == "-" } && scalars.last != "-"
        if !validLabel {
            issues.append(ValidationIssue(
                field: "metadata.name",
                message: "\"\(name)\" must start with a lowercase letter and hold only lowercase letters, digits and '-' (it names the Service)"))
        }
        let limit = Self.maximumNameLength(for: spec.scaling)
        if scalars.count > limit {
            issues.append(ValidationIssue(
                field: "metadata.name",
                message: "must be at most \(limit) characters \(spec.scaling == nil ? "(a label value on every child)" : "with spec.scaling in \((spec.scaling?.mode ?? .cronJob).rawValue) mode (the scaler is named <name>-scaler)"), got \(scalars.count)"))
        }
        return issues + spec.validate()
    }
}
