import Foundation
import KubeAPI

/// `meta.k8s.io/v1` Table answers, which `kubectl get` asks for: NAME and AGE, plus a
/// custom resource's `additionalPrinterColumns` (simple JSONPath, including
/// `.status.conditions[?(@.type=="Ready")].status`).
enum Table {
    static func make(for objects: [JSONValue], type: ResourceType, resourceVersion: String?) -> JSONValue {
        var columns: [JSONValue] = [["name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0]]
        var paths: [String] = []
        var hasAge = false
        for column in type.printerColumns {
            guard let name = column["name"]?.stringValue, let path = column["jsonPath"]?.stringValue else { continue }
            if path == ".metadata.creationTimestamp" { hasAge = true }
            columns.append([
                "name": .string(name), "type": column["type"] ?? "string", "format": "",
                "description": column["description"] ?? "", "priority": column["priority"] ?? 0,
            ])
            paths.append(path)
        }
        if !hasAge {
            columns.append(["name": "Age", "type": "date", "format": "", "description": "Age", "priority": 0])
            paths.append(".metadata.creationTimestamp")
        }
        let rows: [JSONValue] = objects.map { object in
            var cells: [JSONValue] = [object.value(atPath: ["metadata", "name"]) ?? ""]
            for path in paths {
                let value = evaluate(path, on: object)
                if path == ".metadata.creationTimestamp" || isDate(path, type) {
                    cells.append(.string(age(value?.stringValue)))
                } else {
                    cells.append(value ?? "")
                }
            }
            var partial: JSONValue = ["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1"]
            partial["metadata"] = object["metadata"]
            return ["cells": .array(cells), "object": partial]
        }
        var metadata: JSONValue = [:]
        if let resourceVersion { metadata["resourceVersion"] = .string(resourceVersion) }
        return ["kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "columnDefinitions": .array(columns), "rows": .array(rows)]
    }

    private static func isDate(_ path: String, _ type: ResourceType) -> Bool {
        type.printerColumns.contains { $0["jsonPath"]?.stringValue == path && $0["type"]?.stringValue == "date" }
    }

    /// Evaluates `.a.b`, `.a[0].b` and `.a[?(@.k=="v")].b`.
    static func evaluate(_ path: String, on object: JSONValue) -> JSONValue? {
        var current: JSONValue? = object
        var rest = Substring(path.hasPrefix(".") ? String(path.dropFirst()) : path)
        while !rest.isEmpty, let value = current {
            if rest.hasPrefix("[?(@.") {
                guard let close = rest.range(of: ")]") else { return nil }
                let condition = rest[rest.index(rest.startIndex, offsetBy: 5)..<close.lowerBound]
                let parts = condition.components(separatedBy: "==")
                guard parts.count == 2 else { return nil }
                let key = parts[0].trimmingCharacters(in: .whitespaces)
                let expected = parts[1].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
                current = value.arrayValue?.first { $0[key]?.stringValue == expected }
                rest = rest[close.upperBound...]
            } else if rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]"), let index = Int(rest[rest.index(after: rest.startIndex)..<close]),
                    let items = value.arrayValue, index < items.count
                else { return nil }
                current = items[index]
                rest = rest[rest.index(after: close)...]
            } else {
                if rest.hasPrefix(".") { rest = rest.dropFirst() }
                let end = rest.firstIndex { $0 == "." || $0 == "[" } ?? rest.endIndex
                current = value[String(rest[..<end])]
                rest = rest[end...]
            }
        }
        return current
    }

    private static func age(_ timestamp: String?) -> String {
        guard let timestamp, let date = RFC3339.parse(timestamp) else { return "<unknown>" }
        let seconds = max(0, Int(Date().timeIntervalSince(date)))
        if seconds < 120 { return "\(seconds)s" }
        if seconds < 7_200 { return "\(seconds / 60)m" }
        if seconds < 172_800 { return "\(seconds / 3_600)h" }
        return "\(seconds / 86_400)d"
    }
}
