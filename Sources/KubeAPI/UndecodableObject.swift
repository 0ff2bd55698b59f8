#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An object the server sent that Tide's types cannot read (a field of a type the
/// schema admits but the Swift type does not model, say). Lists and watches report it
/// and go on with the other objects, so one such object never stops the rest.
public struct UndecodableObject: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is known of the object from its metadata (empty when even that is unreadable).
    public var apiVersion: String?
    public var kind: String?
    public var namespace: String?
    public var name: String?
    public var uid: String?
    public var resourceVersion: String?
    /// Why it could not be decoded, e.g. `expected String at .spec.port`.
    public var reason: String

    public init(
        apiVersion: String? = nil, kind: String? = nil, namespace: String? = nil, name: String? = nil, uid: String? = nil,
        resourceVersion: String? = nil, reason: String
    ) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.resourceVersion = resourceVersion
        self.reason = reason
    }

    /// `namespace/name`, or `<unnamed>`.
    public var key: String {
        guard let name else { return "<unnamed>" }
        return namespace.map { "\($0)/\(name)" } ?? name
    }

    public var description: String { "\(kind ?? "object") \(key): \(reason)" }

    /// Reads the identity of an object whose full decoding failed with `error`.
    public init(identityFrom decoder: any Decoder, error: any Error) {
        let identity = try? Identity(from: decoder)
        self.init(
            apiVersion: identity?.apiVersion, kind: identity?.kind, namespace: identity?.metadata?.namespace,
            name: identity?.metadata?.name, uid: identity?.metadata?.uid, resourceVersion: identity?.metadata?.resourceVersion,
            reason: Self.describe(error))
    }

    struct Identity: Decodable {
        struct Metadata: Decodable {
            var name: String?
            var namespace: String?
            var uid: String?
            var resourceVersion: String?
        }
        var apiVersion: String?
        var kind: String?
        var metadata: Metadata?
    }

    /// A decoding error in words: what was expected and where (`.items[3].spec.port`).
    /// Never the document itself, which may hold secret values.
    public static func describe(_ error: any Error, droppingPathPrefix prefix: Int = 0) -> String {
        func path(_ codingPath: [any CodingKey]) -> String { Self.path(Array(codingPath.dropFirst(prefix))) }
        switch error {
        case DecodingError.typeMismatch(let type, let context):
            return "expected \(type) at \(path(context.codingPath))"
        case DecodingError.valueNotFound(let type, let context):
            return "missing \(type) at \(path(context.codingPath))"
        case DecodingError.keyNotFound(let key, let context):
            return "missing field '\(key.stringValue)' at \(path(context.codingPath))"
        case DecodingError.dataCorrupted(let context):
            return "\(bounded(context.debugDescription)) at \(path(context.codingPath))"
        default:
            return "\(error)"
        }
    }

    /// Like ``describe(_:)``, and when the decoder only says a number does not fit
    /// its type, finds that number in `document` to say where it is.
    static func describe(_ error: any Error, in document: JSONValue) -> String {
        var text = "\(error)"
        if case DecodingError.dataCorrupted(let context) = error, let underlying = context.underlyingError { text += " \(underlying)" }
        guard let range = text.firstRange(of: "numberIsNotRepresentableInSwift(parsed: \""),
            let end = text[range.upperBound...].firstIndex(of: "\"")
        else { return describe(error) }
        let number = String(text[range.upperBound..<end])
        let location = document.firstPath { value in
            switch value {
            case .int(let integer): return String(integer) == number
            case .double(let double): return "\(double)" == number || Double(number) == double
            default: return false
            }
        }
        return "the number \(number) at \(location ?? "an unknown field") is out of range for its field"
    }

    /// A decoder's message without the offending value (`Cannot initialize X from
    /// invalid String value <whatever the user wrote>`), and never long.
    static func bounded(_ message: String) -> String {
        if let range = message.firstRange(of: " value ") { return String(message[..<range.lowerBound]) + " value" }
        return message.count > 120 ? String(message.prefix(120)) + "…" : message
    }

    static func path(_ codingPath: [any CodingKey]) -> String {
        let text = codingPath.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
        return text.isEmpty ? "the top level" : text
    }
}

/// Decodes one element of a list as `Item`, or, when that fails, as what can be known
/// of it. Always consumes the element.
struct TolerantElement<Item: Decodable>: Decodable {
    var result: Result<Item, UndecodableObject>

    init(from decoder: any Decoder) throws {
        do {
            result = .success(try Item(from: decoder))
        } catch {
            var failure = UndecodableObject(identityFrom: decoder, error: error)
            if error is DecodingError {
                // Name the field relative to the object (`.spec.port`, not `.items[3].spec.port`).
                failure.reason = UndecodableObject.describe(error, droppingPathPrefix: decoder.codingPath.count)
            } else if let value = try? JSONValue(from: decoder) {
                // Some decoders only say a number does not fit, not where.
                failure.reason = UndecodableObject.describe(error, in: value)
            }
            result = .failure(failure)
        }
    }
}

extension JSONValue {
    /// The path (`.spec.items[0].value`) of the first value, depth first, for which
    /// `matches` holds.
    func firstPath(where matches: (JSONValue) -> Bool) -> String? {
        if matches(self) { return "" }
        switch self {
        case .object(let fields):
            for key in fields.keys.sorted() {
                if let rest = fields[key]?.firstPath(where: matches) { return ".\(key)\(rest)" }
            }
        case .array(let items):
            for (index, item) in items.enumerated() {
                if let rest = item.firstPath(where: matches) { return "[\(index)]\(rest)" }
            }
        default:
            break
        }
        return nil
    }
}
