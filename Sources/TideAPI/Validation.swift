#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
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

        if image.trimmingWhitespace().isEmpty {
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

/// Starts with a lowercase ASCII letter, holds only those, digits and '-', and does
/// not end with '-' (DNS-1035, without the length limit).
func isDNSLabel(_ name: String) -> Bool {
    let scalars = Array(name.unicodeScalars)
    let isLowercaseLetter: (Unicode.Scalar) -> Bool = { ("a"..."z").contains($0) }
    return scalars.first.map(isLowercaseLetter) == true
        && scalars.allSatisfy { isLowercaseLetter($0) || isASCIIDigit($0) || $0 == "-" } && scalars.last != "-"
}

func isASCIILetter(_ scalar: Unicode.Scalar) -> Bool { ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) }
func isASCIIDigit(_ scalar: Unicode.Scalar) -> Bool { ("0"..."9").contains(scalar) }

extension Scaling {
    func validate() -> [ValidationIssue] {
        var issues: [ValidationIssue] = []
        func add(_ field: String, _ message: String) { issues.append(ValidationIssue(field: "spec.scaling." + field, message: message)) }
        let minimum = minReplicas ?? Defaults.minReplicas
        if minimum < 0 { add("minReplicas", "must be at least 0, got \(minimum)") }
        if maxReplicas < max(minimum, 1) { add("maxReplicas", "must be at least minReplicas (\(minimum)) and at least 1, got \(maxReplicas)") }
        if let schedule, !Self.isCronSchedule(schedule) {
            add("schedule", "\"\(schedule)\" is not a five-field cron schedule such as \"* * * * *\"")
        }
        if let interval, DurationText.parse(interval) == nil { add("interval", "\"\(interval)\" is not a duration such as 10s") }
        if let cooldownPeriod, DurationText.parse(cooldownPeriod) == nil {
            add("cooldownPeriod", "\"\(cooldownPeriod)\" is not a duration such as 300s or 5m")
        }
        if let metrics {
            if prometheus != nil || target != nil {
                add("metrics", "give either metrics or prometheus with target, not both")
            }
            if metrics.isEmpty { add("metrics", "must name at least one metric") }
            if metrics.count > Defaults.maximumMetrics {
                add("metrics", "may name at most \(Defaults.maximumMetrics) metrics, got \(metrics.count)")
            }
            var names = Set<String>()
            for (index, metric) in metrics.enumerated() {
                let field = "metrics[\(index)]"
                if !Self.isMetricName(metric.name) {
                    add("\(field).name", "\"\(metric.name)\" must be 1-63 lowercase letters, digits and '-', starting with a letter")
                } else if !names.insert(metric.name).inserted {
                    add("\(field).name", "\"\(metric.name)\" names more than one metric")
                }
                issues += metric.validate(field: "spec.scaling." + field)
            }
        } else {
            switch (prometheus, target) {
            case (let prometheus?, let target?):
                issues += prometheus.validate(field: "spec.scaling.prometheus")
                issues += target.validate(field: "spec.scaling.target")
            case (nil, _):
                add("prometheus", "is required (or give metrics): the Prometheus query to scale on")
            case (_, nil):
                add("target", "is required with prometheus: the value the metric should have")
            }
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
        if mode == .hpa {
            // What a HorizontalPodAutoscaler cannot do is refused, not silently dropped.
            if minimum < 1 {
                add("minReplicas", "must be at least 1 in mode HPA (a HorizontalPodAutoscaler does not scale to zero; use mode CronJob or Continuous for that)")
            }
            if onMetricUnavailable == .fallback {
                add("onMetricUnavailable", "Fallback is not available in mode HPA (a HorizontalPodAutoscaler holds its replicas when a metric fails)")
            }
            if let strategy, strategy != .hpa {
                add("strategy", "\(strategy.rawValue) is Tide's scaler's; in mode HPA the HorizontalPodAutoscaler decides (use mode CronJob or Continuous)")
            }
            if let tolerance, tolerance != Defaults.tolerance {
                add("tolerance", "is cluster-wide in mode HPA (kube-controller-manager --horizontal-pod-autoscaler-tolerance); leave it at \(Defaults.tolerance)")
            }
        }
        if hpa != nil, mode != .hpa {
            add("hpa", "applies to mode HPA only")
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

    /// A DNS label of at most 63 characters: it names the metric in status, events and
    /// a credentials folder.
    static func isMetricName(_ name: String) -> Bool { name.unicodeScalars.count <= 63 && isDNSLabel(name) }

    /// Five whitespace-separated fields of `*`, numbers, ranges, lists and steps (or a
    /// `@hourly`-style macro).
    static func isCronSchedule(_ text: String) -> Bool {
        let trimmed = text.trimmingWhitespace()
        if ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"].contains(trimmed) { return true }
        let fields = trimmed.split(whereSeparator: \.isWhitespace)
        guard fields.count == 5 else { return false }
        return fields.allSatisfy { field in
            field.unicodeScalars.allSatisfy { isASCIIDigit($0) || isASCIILetter($0) || "*/,-?".unicodeScalars.contains($0) }
        }
    }
}

extension ScalingMetric {
    func validate(field: String) -> [ValidationIssue] {
        var issues: [ValidationIssue] = []
        switch (prometheus, http) {
        case (let prometheus?, nil): issues += prometheus.validate(field: field + ".prometheus")
        case (nil, let http?): issues += http.validate(field: field + ".http")
        case (nil, nil): issues.append(ValidationIssue(field: field, message: "needs a source: prometheus or http"))
        case (_?, _?): issues.append(ValidationIssue(field: field, message: "has two sources; give exactly one of prometheus and http"))
        }
        issues += target.validate(field: field + ".target")
        if let activation {
            if let value = Quantity.parse(activation) {
                if value < 0 { issues.append(ValidationIssue(field: field + ".activation", message: "must not be negative, got \(activation)")) }
            } else {
                issues.append(ValidationIssue(field: field + ".activation", message: "\"\(activation)\" is not a number such as 0, 1 or 500m"))
            }
        }
        return issues
    }
}

extension MetricTarget {
    func validate(field: String) -> [ValidationIssue] {
        guard let number = Quantity.parse(value) else {
            return [ValidationIssue(field: field + ".value", message: "\"\(value)\" is not a number such as 5, 0.5 or 500m")]
        }
        if number <= 0 { return [ValidationIssue(field: field + ".value", message: "must be greater than zero, got \(value)")] }
        return []
    }
}

/// Whether `text` is an absolute `http` or `https` URL with a host.
func isHTTPURL(_ text: String) -> Bool {
    guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), let host = url.host, !host.isEmpty
    else { return false }
    return true
}

func validateTimeout(_ timeout: String?, field: String) -> [ValidationIssue] {
    guard let timeout else { return [] }
    guard let duration = DurationText.parse(timeout) else {
        return [ValidationIssue(field: field, message: "\"\(timeout)\" is not a duration such as 5s")]
    }
    if duration > .seconds(60) { return [ValidationIssue(field: field, message: "must be at most 60s, got \(timeout)")] }
    return []
}

extension PrometheusSource {
    func validate(field: String) -> [ValidationIssue] {
        var issues: [ValidationIssue] = []
        if query.trimmingWhitespace().isEmpty {
            issues.append(ValidationIssue(field: field + ".query", message: "must be a PromQL query; it is empty"))
        }
        if !isHTTPURL(address) {
            issues.append(ValidationIssue(field: field + ".address", message: "\"\(address)\" is not an http(s) URL such as http://prometheus:9090"))
        }
        return issues + validateTimeout(timeout, field: field + ".timeout")
    }
}

extension HTTPSource {
    /// The parts of `valueLocation`, or `nil` when a part is empty.
    public var valuePath: [String]? {
        let parts = valueLocation.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !valueLocation.isEmpty, parts.allSatisfy({ !$0.isEmpty }) else { return nil }
        return parts
    }

    func validate(field: String) -> [ValidationIssue] {
        var issues: [ValidationIssue] = []
        if !isHTTPURL(url) {
            issues.append(ValidationIssue(field: field + ".url", message: "\"\(url)\" is not an http(s) URL such as http://orders.demo:8080/stats"))
        }
        if valuePath == nil {
            issues.append(ValidationIssue(
                field: field + ".valueLocation", message: "\"\(valueLocation)\" is not a dot-separated path such as data.orders or items.0.count"))
        }
        var seen = Set<String>()
        for (index, header) in (headers ?? []).enumerated() {
            let headerField = field + ".headers[\(index)]"
            let validName = !header.name.isEmpty
                && header.name.unicodeScalars.allSatisfy { isASCIILetter($0) || isASCIIDigit($0) || $0 == "-" }
            if !validName {
                issues.append(ValidationIssue(field: headerField + ".name", message: "\"\(header.name)\" is not a header name: ASCII letters, digits and '-'"))
            } else if !seen.insert(header.name.lowercased()).inserted {
                issues.append(ValidationIssue(field: headerField + ".name", message: "\"\(header.name)\" is set more than once"))
            } else if ["host", "content-length", "authorization"].contains(header.name.lowercased()) {
                issues.append(ValidationIssue(
                    field: headerField + ".name", message: "\"\(header.name)\" is set by the scaler; use auth for credentials"))
            }
            if (header.value == nil) == (header.valueFrom == nil) {
                issues.append(ValidationIssue(field: headerField, message: "needs exactly one of value and valueFrom.secretKeyRef"))
            }
            if let value = header.value, value.contains(where: { $0 == "\r" || $0 == "\n" }) {
                issues.append(ValidationIssue(field: headerField + ".value", message: "must not contain line breaks"))
            }
        }
        return issues + validateTimeout(timeout, field: field + ".timeout")
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
        if !isDNSLabel(name) {
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
