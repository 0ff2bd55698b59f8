#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An arbitrary JSON document, used where Tide does not model a field (CRD schemas,
/// objects stored by LocalKube, raw watch payloads).
///
/// Numbers keep the distinction between integers and fractions so that a round trip
/// never turns `3` into `3.0`.
public enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else if let value = try? container.decode([String: JSONValue].self) {
            self = .object(value)
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a JSON value")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// The member `key` of an object, or `nil` for anything else.
    public subscript(key: String) -> JSONValue? {
        get {
            if case .object(let members) = self { return members[key] }
            return nil
        }
        set {
            guard case .object(var members) = self else { return }
            members[key] = newValue
            self = .object(members)
        }
    }

    /// The value at a dotted path such as `spec.replicas`, or `nil` if any step is missing.
    public func value(atPath path: [String]) -> JSONValue? {
        var current: JSONValue? = self
        for key in path {
            current = current?[key]
        }
        return current
    }

    /// Sets the value at a dotted path, creating intermediate objects as needed.
    public mutating func setValue(_ value: JSONValue?, atPath path: [String]) {
        guard let first = path.first else {
            if let value { self = value }
            return
        }
        if case .object = self {} else { self = .object([:]) }
        if path.count == 1 {
            self[first] = value
            return
        }
        var child = self[first] ?? .object([:])
        child.setValue(value, atPath: Array(path.dropFirst()))
        self[first] = child
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The value as an integer, accepting whole doubles (`3.0`).
    public var intValue: Int64? {
        switch self {
        case .int(let value): return value
        case .double(let value) where value.rounded() == value && abs(value) < 9e15: return Int64(value)
        default: return nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case .int(let value): return Double(value)
        case .double(let value): return value
        default: return nil
        }
    }

    /// The JSON type name used in validation messages (`object`, `array`, `string`, ...).
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int: return "integer"
        case .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// Applies an RFC 7386 JSON merge patch: objects merge recursively, `null` deletes a
    /// member, anything else (arrays included) replaces.
    public func merging(patch: JSONValue) -> JSONValue {
        guard case .object(let patchMembers) = patch else { return patch }
        var result = objectValue ?? [:]
        for (key, patchValue) in patchMembers {
            if case .null = patchValue {
                result.removeValue(forKey: key)
            } else if let existing = result[key] {
                result[key] = existing.merging(patch: patchValue)
            } else {
                result[key] = JSONValue.null.merging(patch: patchValue)
            }
        }
        return .object(result)
    }

    /// The RFC 7386 merge patch that turns `old` into `new`: members `new` lacks are
    /// `null` (removed), members that differ are sent (objects recursively, anything
    /// else whole), equal members are left out.
    ///
    /// Guarantee: `old.merging(patch: JSONValue.mergePatch(from: old, to: new)) == new`
    /// whenever `new` holds no `null` member (a merge patch cannot store one). This is
    /// how a status writer makes the stored value equal the value it decided, whatever
    /// fields the decision dropped, without a hand-kept list of keys.
    public static func mergePatch(from old: JSONValue?, to new: JSONValue) -> JSONValue {
        guard case .object(let newMembers) = new, case .object(let oldMembers)? = old else { return new }
        var patch: [String: JSONValue] = [:]
        for key in oldMembers.keys where newMembers[key] == nil {
            patch[key] = .null
        }
        for (key, newValue) in newMembers {
            guard let oldValue = oldMembers[key] else {
                patch[key] = newValue
                continue
            }
            if oldValue == newValue { continue }
            if case .object = newValue, case .object = oldValue {
                patch[key] = mergePatch(from: oldValue, to: newValue)
            } else {
                // Lists and scalars are replaced whole; so is a scalar that becomes an
                // object (a merge patch onto a non-object starts from nothing).
                patch[key] = newValue
            }
        }
        return .object(patch)
    }

    /// Whether every member set in `self` is present with an equal value in `other`.
    ///
    /// Arrays are compared element by element with the same rule, and must have the
    /// same length. This is the "desired ⊆ live" test that decides whether a write
    /// is needed.
    public func isSubset(of other: JSONValue) -> Bool {
        switch (self, other) {
        case (.object(let mine), .object(let theirs)):
            for (key, value) in mine {
                guard let their = theirs[key], value.isSubset(of: their) else { return false }
            }
            return true
        case (.array(let mine), .array(let theirs)):
            guard mine.count == theirs.count else { return false }
            return zip(mine, theirs).allSatisfy { $0.isSubset(of: $1) }
        case (.int, _), (.double, _):
            return doubleValue == other.doubleValue
        default:
            return self == other
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue {
    /// Converts any encodable value to a JSON document through Tide's encoder.
    public init(encoding value: some Encodable) throws {
        self = try JSONValueEncoder.encode(value)
    }

    /// Decodes this document as `type`.
    public func decode<T: Decodable>(as type: T.Type) throws -> T {
        try KubeJSON.decoder.decode(type, from: KubeJSON.encoder.encode(self))
    }
}

/// The JSON encoder and decoder settings Tide uses for everything it sends to and
/// reads from an API server.
public enum KubeJSON {
    /// Sorted keys and unescaped slashes, so that payloads are stable and readable.
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static var decoder: JSONDecoder { JSONDecoder() }
}
