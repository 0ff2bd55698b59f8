import Foundation
import KubeAPI
import Synchronization

/// Checks LocalKube applies before storing an object, so that a client sees the same
/// 422 a real API server would send.
enum Validation {
    /// RFC 1123 subdomain: lowercase alphanumerics, `-` and `.`, at most 253 characters.
    static func isDNSSubdomain(_ name: String) -> Bool {
        guard !name.isEmpty, name.count <= 253 else { return false }
        guard let first = name.first, let last = name.last, first.isLowercaseAlnum, last.isLowercaseAlnum else {
            return false
        }
        return name.allSatisfy { $0.isLowercaseAlnum || $0 == "-" || $0 == "." }
    }

    /// A label value: empty, or at most 63 characters of alphanumerics, `-`, `_`, `.`,
    /// starting and ending with an alphanumeric.
    static func isLabelValue(_ value: String) -> Bool {
        if value.isEmpty { return true }
        guard value.count <= 63, let first = value.first, let last = value.last,
            first.isASCIIAlnum, last.isASCIIAlnum
        else { return false }
        return value.allSatisfy { $0.isASCIIAlnum || "-_.".contains($0) }
    }

    static func metadata(_ object: JSONValue) -> [StatusCause] {
        var causes: [StatusCause] = []
        let name = object.value(atPath: ["metadata", "name"])?.stringValue ?? ""
        if name.isEmpty {
            causes.append(StatusCause(reason: "FieldValueRequired", message: "Required value: name or generateName is required", field: "metadata.name"))
        } else if !isDNSSubdomain(name) {
            causes.append(StatusCause(
                reason: "FieldValueInvalid",
                message: "Invalid value: \"\(name)\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
                field: "metadata.name"))
        }
        if let labels = object.value(atPath: ["metadata", "labels"]) {
            if let members = labels.objectValue {
                for (key, value) in members.sorted(by: { $0.key < $1.key }) {
                    guard let text = value.stringValue, isLabelValue(text) else {
                        causes.append(StatusCause(
                            reason: "FieldValueInvalid", message: "Invalid value: label value must be 63 characters or less of alphanumerics, '-', '_' or '.'",
                            field: "metadata.labels[\(key)]"))
                        continue
                    }
                }
            } else {
                causes.append(StatusCause(reason: "FieldValueInvalid", message: "Invalid value: must be an object", field: "metadata.labels"))
            }
        }
        return causes
    }

    /// What kube-apiserver checks of an `autoscaling/v2` HorizontalPodAutoscaler that
    /// Tide could get wrong: the replica bounds (zero only with the HPAScaleToZero
    /// feature gate, off by default), the target reference, and each metric's target.
    static func horizontalPodAutoscaler(_ object: JSONValue) -> [StatusCause] {
        var causes: [StatusCause] = []
        func invalid(_ field: String, _ message: String) {
            causes.append(StatusCause(reason: "FieldValueInvalid", message: message, field: field))
        }
        func required(_ field: String, _ message: String = "Required value") {
            causes.append(StatusCause(reason: "FieldValueRequired", message: message, field: field))
        }
        let minReplicas = object.value(atPath: ["spec", "minReplicas"])?.intValue ?? 1
        if minReplicas < 1 {
            invalid("spec.minReplicas", "Invalid value: \(minReplicas): must be greater than or equal to 1")
        }
        if let maxReplicas = object.value(atPath: ["spec", "maxReplicas"])?.intValue {
            if maxReplicas < 1 {
                invalid("spec.maxReplicas", "Invalid value: \(maxReplicas): must be greater than 0")
            } else if maxReplicas < minReplicas {
                invalid("spec.maxReplicas", "Invalid value: \(maxReplicas): must be greater than or equal to `minReplicas`")
            }
        } else {
            required("spec.maxReplicas")
        }
        for key in ["kind", "name"] where (object.value(atPath: ["spec", "scaleTargetRef", key])?.stringValue ?? "").isEmpty {
            required("spec.scaleTargetRef.\(key)")
        }
        let sources = ["External": "external", "Object": "object", "Pods": "pods", "Resource": "resource", "ContainerResource": "containerResource"]
        for (index, metric) in (object.value(atPath: ["spec", "metrics"])?.arrayValue ?? []).enumerated() {
            let field = "spec.metrics[\(index)]"
            guard let type = metric["type"]?.stringValue, let key = sources[type] else {
                required(field + ".type", "Required value: must specify a metric source type")
                continue
            }
            guard let source = metric[key], case .object = source else {
                required(field + ".\(key)", "Required value: must populate information for the given metric source")
                continue
            }
            let target = source["target"] ?? [:]
            let targetField = "\(field).\(key).target"
            switch target["type"]?.stringValue {
            case "AverageValue" where target["averageValue"] == nil:
                required(targetField + ".averageValue", "Required value: must set either a target value for metric or a per-pod target")
            case "Value" where target["value"] == nil:
                required(targetField + ".value", "Required value: must set either a target value for metric or a per-pod target")
            case "Utilization" where target["averageUtilization"] == nil:
                required(targetField + ".averageUtilization", "Required value: must set either a target raw value or a target utilization")
            case nil:
                required(targetField + ".type", "Required value: must specify a metric target type")
            default:
                break
            }
        }
        return causes
    }

    /// Light checks of the built-in kinds Tide writes, enough to catch a malformed object.
    static func builtIn(_ type: ResourceType, _ object: JSONValue) -> [StatusCause] {
        var causes: [StatusCause] = []
        func require(_ path: [String], _ message: String = "Required value") {
            if object.value(atPath: path) == nil || object.value(atPath: path) == .null {
                causes.append(StatusCause(reason: "FieldValueRequired", message: message, field: path.joined(separator: ".")))
            }
        }
        func containers(_ path: [String]) {
            guard let list = object.value(atPath: path)?.arrayValue, !list.isEmpty else {
                causes.append(StatusCause(reason: "FieldValueRequired", message: "Required value", field: path.joined(separator: ".")))
                return
            }
            for (index, container) in list.enumerated() {
                let field = path.joined(separator: ".") + "[\(index)]"
                if (container["name"]?.stringValue ?? "").isEmpty {
                    causes.append(StatusCause(reason: "FieldValueRequired", message: "Required value", field: field + ".name"))
                }
                if (container["image"]?.stringValue ?? "").isEmpty {
                    causes.append(StatusCause(reason: "FieldValueRequired", message: "Required value", field: field + ".image"))
                }
            }
        }
        switch (type.descriptor.group, type.descriptor.plural) {
        case ("autoscaling", "horizontalpodautoscalers"):
            causes += horizontalPodAutoscaler(object)
        case ("apps", "deployments"), ("apps", "statefulsets"), ("apps", "replicasets"):
            require(["spec", "selector"])
            containers(["spec", "template", "spec", "containers"])
            if let selector = object.value(atPath: ["spec", "selector", "matchLabels"])?.objectValue {
                let labels = object.value(atPath: ["spec", "template", "metadata", "labels"])?.objectValue ?? [:]
                if selector.contains(where: { labels[$0.key] != $0.value }) {
                    causes.append(StatusCause(
                        reason: "FieldValueInvalid", message: "Invalid value: `selector` does not match template `labels`",
                        field: "spec.template.metadata.labels"))
                }
            }
            if let replicas = object.value(atPath: ["spec", "replicas"])?.intValue, replicas < 0 {
                causes.append(StatusCause(reason: "FieldValueInvalid", message: "Invalid value: \(replicas): must be greater than or equal to 0", field: "spec.replicas"))
            }
        case ("batch", "cronjobs"):
            require(["spec", "schedule"])
            containers(["spec", "jobTemplate", "spec", "template", "spec", "containers"])
        case ("", "services"):
            if let ports = object.value(atPath: ["spec", "ports"])?.arrayValue {
                for (index, port) in ports.enumerated() {
                    guard let number = port["port"]?.intValue, (1...65535).contains(number) else {
                        causes.append(StatusCause(
                            reason: "FieldValueInvalid", message: "Invalid value: must be between 1 and 65535, inclusive",
                            field: "spec.ports[\(index)].port"))
                        continue
                    }
                }
            }
        case ("rbac.authorization.k8s.io", "rolebindings"), ("rbac.authorization.k8s.io", "clusterrolebindings"):
            require(["roleRef", "name"])
            require(["roleRef", "kind"])
        case ("coordination.k8s.io", "leases"):
            if let duration = object.value(atPath: ["spec", "leaseDurationSeconds"])?.intValue, duration <= 0 {
                causes.append(StatusCause(reason: "FieldValueInvalid", message: "Invalid value: must be greater than 0", field: "spec.leaseDurationSeconds"))
            }
        case ("apiextensions.k8s.io", "customresourcedefinitions"):
            require(["spec", "group"])
            require(["spec", "names", "plural"])
            require(["spec", "names", "kind"])
            require(["spec", "scope"])
            if (object.value(atPath: ["spec", "versions"])?.arrayValue ?? []).isEmpty {
                causes.append(StatusCause(reason: "FieldValueRequired", message: "Required value: must have exactly one version marked as storage version", field: "spec.versions"))
            }
            if causes.isEmpty {
                let plural = object.value(atPath: ["spec", "names", "plural"])?.stringValue ?? ""
                let group = object.value(atPath: ["spec", "group"])?.stringValue ?? ""
                let name = object.value(atPath: ["metadata", "name"])?.stringValue ?? ""
                if name != "\(plural).\(group)" {
                    causes.append(StatusCause(
                        reason: "FieldValueInvalid", message: "Invalid value: \"\(name)\": must be spec.names.plural+\".\"+spec.group",
                        field: "metadata.name"))
                }
            }
        default:
            break
        }
        return causes
    }

    /// Schema patterns, compiled once each (NSRegularExpression is immutable and safe
    /// to share), not on every write.
    private static let patterns = Mutex<[String: NSRegularExpression]>([:])

    static func compiled(_ pattern: String) -> NSRegularExpression? {
        if let known = patterns.withLock({ $0[pattern] }) { return known }
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return nil }
        patterns.withLock { $0[pattern] = expression }
        return expression
    }

    /// Validates `value` against a structural OpenAPI v3 schema: `type`, `required`,
    /// `properties`, `items`, `enum`, `minimum`/`maximum`, `minLength`/`maxLength`,
    /// `minItems`/`maxItems`, `pattern`. CEL rules are not evaluated.
    static func schema(_ schema: JSONValue, _ value: JSONValue, path: String, into causes: inout [StatusCause]) {
        if case .null = value, schema["nullable"]?.boolValue == true { return }
        if schema["x-kubernetes-int-or-string"]?.boolValue == true {
            switch value {
            case .int, .string: return
            default:
                causes.append(StatusCause(reason: "FieldValueInvalid", message: "Invalid value: must be an integer or a string", field: path))
                return
            }
        }
        if let type = schema["type"]?.stringValue {
            let matches: Bool
            switch (type, value) {
            case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("integer", .int): matches = true
            case ("integer", .double(let number)): matches = number.rounded() == number
            case ("number", .int), ("number", .double): matches = true
            default: matches = false
            }
            if !matches {
                causes.append(StatusCause(
                    reason: "FieldValueTypeInvalid",
                    message: "Invalid value: \"\(value.typeName)\": \(path) in body must be of type \(type): \"\(value.typeName)\"",
                    field: path))
                return
            }
        }
        if let allowed = schema["enum"]?.arrayValue, !allowed.contains(value) {
            let list = allowed.compactMap { $0.stringValue.map { "\"\($0)\"" } ?? $0.intValue.map(String.init) }
            causes.append(StatusCause(
                reason: "FieldValueNotSupported", message: "Unsupported value: supported values: \(list.joined(separator: ", "))",
                field: path))
        }
        if let number = value.doubleValue {
            if let minimum = schema["minimum"]?.doubleValue, number < minimum {
                causes.append(StatusCause(
                    reason: "FieldValueInvalid", message: "Invalid value: \(format(number)): \(path) in body should be greater than or equal to \(format(minimum))",
                    field: path))
            }
            if let maximum = schema["maximum"]?.doubleValue, number > maximum {
                causes.append(StatusCause(
                    reason: "FieldValueInvalid", message: "Invalid value: \(format(number)): \(path) in body should be less than or equal to \(format(maximum))",
                    field: path))
            }
        }
        if let text = value.stringValue {
            if let minimum = schema["minLength"]?.intValue, text.count < minimum {
                causes.append(StatusCause(reason: "FieldValueInvalid", message: "Invalid value: \(path) in body should be at least \(minimum) chars long", field: path))
            }
            if let maximum = schema["maxLength"]?.intValue, text.count > maximum {
                causes.append(StatusCause(reason: "FieldValueTooLong", message: "Too long: may not be longer than \(maximum)", field: path))
            }
            if let pattern = schema["pattern"]?.stringValue, let expression = compiled(pattern),
                expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil
            {
                causes.append(StatusCause(
                    reason: "FieldValueInvalid", message: "Invalid value: \"\(text)\": \(path) in body should match '\(pattern)'", field: path))
            }
        }
        if let members = value.objectValue {
            for required in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where members[required] == nil {
                causes.append(StatusCause(reason: "FieldValueRequired", message: "Required value", field: path.isEmpty ? required : "\(path).\(required)"))
            }
            let properties = schema["properties"]?.objectValue ?? [:]
            let additional = schema["additionalProperties"]
            for (key, member) in members.sorted(by: { $0.key < $1.key }) {
                let childPath = path.isEmpty ? key : "\(path).\(key)"
                if let childSchema = properties[key] {
                    Self.schema(childSchema, member, path: childPath, into: &causes)
                } else if let additional, case .object = additional {
                    Self.schema(additional, member, path: childPath, into: &causes)
                }
            }
        }
        if let items = value.arrayValue {
            if let minimum = schema["minItems"]?.intValue, items.count < minimum {
                causes.append(StatusCause(reason: "FieldValueInvalid", message: "Invalid value: \(path) in body should have at least \(minimum) items", field: path))
            }
            if let maximum = schema["maxItems"]?.intValue, items.count > maximum {
                causes.append(StatusCause(reason: "FieldValueTooMany", message: "Too many: must have at most \(maximum) items", field: path))
            }
            if let itemSchema = schema["items"] {
                for (index, item) in items.enumerated() {
                    Self.schema(itemSchema, item, path: "\(path)[\(index)]", into: &causes)
                }
            }
        }
    }

    private static func format(_ number: Double) -> String {
        number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
    }
}

extension Character {
    fileprivate var isLowercaseAlnum: Bool { ("a"..."z").contains(self) || ("0"..."9").contains(self) }
    fileprivate var isASCIIAlnum: Bool { isLowercaseAlnum || ("A"..."Z").contains(self) }
}
