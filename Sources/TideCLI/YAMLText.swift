import KubeAPI

/// A JSON value written as block YAML, as `kubectl -o yaml` writes objects: keys
/// sorted, strings double-quoted with JSON's escapes (so no value is misread as a
/// number, a boolean or null), nulls as `null`. The output reads back as the same value.
public enum YAMLText {
    public static func render(_ value: JSONValue) -> String {
        lines(value, indent: 0).map { $0 + "\n" }.joined()
    }

    static func lines(_ value: JSONValue, indent: Int) -> [String] {
        let pad = String(repeating: " ", count: indent)
        switch value {
        case .object(let members):
            if members.isEmpty { return [pad + "{}"] }
            return members.keys.sorted().flatMap { key -> [String] in
                let member = members[key]!
                if let inline = scalar(member) { return ["\(pad)\(quoted(key)): \(inline)"] }
                return ["\(pad)\(quoted(key)):"] + lines(member, indent: indent + (member.arrayValue == nil ? 2 : 0))
            }
        case .array(let items):
            if items.isEmpty { return [pad + "[]"] }
            return items.flatMap { item -> [String] in
                if let inline = scalar(item) { return ["\(pad)- \(inline)"] }
                var nested = lines(item, indent: indent + 2)
                if item.objectValue != nil, !nested.isEmpty {
                    // The first member shares the dash's line.
                    nested[0] = pad + "- " + nested[0].dropFirst(indent + 2)
                    return nested
                }
                return ["\(pad)-"] + nested
            }
        default:
            return [pad + (scalar(value) ?? "null")]
        }
    }

    /// A value written on one line, or `nil` for a non-empty collection.
    static func scalar(_ value: JSONValue) -> String? {
        switch value {
        case .null: return "null"
        case .bool(let flag): return flag ? "true" : "false"
        case .int(let number): return String(number)
        case .double(let number): return String(number)
        case .string(let text): return quoted(text)
        case .object(let members) where members.isEmpty: return "{}"
        case .array(let items) where items.isEmpty: return "[]"
        default: return nil
        }
    }

    /// `text` in double quotes with JSON's escapes, which YAML reads alike.
    static func quoted(_ text: String) -> String { JSONString.quoted(text) }
}
