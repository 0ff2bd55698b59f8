import KubeAPI

/// Structural-schema behaviour of custom resources: `default` values are filled in
/// and fields the schema does not declare are pruned, as a real API server does.
enum SchemaDefaults {
    /// Applies defaults and prunes unknown fields under `schema`.
    static func apply(_ schema: JSONValue, to value: JSONValue) -> JSONValue {
        guard case .object(var members) = value else {
            if case .array(let items) = value, let itemSchema = schema["items"] {
                return .array(items.map { apply(itemSchema, to: $0) })
            }
            return value
        }
        let properties = schema["properties"]?.objectValue
        let preserve = schema["x-kubernetes-preserve-unknown-fields"]?.boolValue == true
        let additional = schema["additionalProperties"]
        if let properties {
            for (key, propertySchema) in properties where members[key] == nil {
                if let fallback = propertySchema["default"] { members[key] = fallback }
            }
        }
        for (key, member) in members {
            if let propertySchema = properties?[key] {
                members[key] = apply(propertySchema, to: member)
            } else if let additional, case .object = additional {
                members[key] = apply(additional, to: member)
            } else if properties != nil, !preserve, additional?.boolValue != true {
                members.removeValue(forKey: key)
            }
        }
        return .object(members)
    }
}
