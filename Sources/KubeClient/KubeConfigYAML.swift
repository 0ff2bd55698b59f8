import CLibYAML
import KubeAPI

/// Reads the YAML that kubeconfig files are written in, with libyaml (the C YAML 1.1
/// parser kubectl's own reader descends from), into a JSON value.
///
/// Everything YAML allows in one document is read: block and flow collections (so
/// JSON is a valid input too), every scalar style, comments, anchors and aliases, the
/// merge key (`<<: *defaults`), and tags (ignored: the kubeconfig schema decides the
/// type, as kubectl's does). Every scalar is a string except a plain `null`, `~` or
/// empty value, which is null.
///
/// Refused with ``KubeConfigYAML/SyntaxError``: a second document, a key that is not a
/// scalar, a key twice in one mapping, an alias to an anchor not yet defined, and
/// whatever libyaml finds malformed.
///
/// Errors name a line and what is wrong there, never the text (a kubeconfig holds
/// tokens and keys): libyaml's own messages describe the structure only.
public enum KubeConfigYAML {
    /// What is wrong with a document, and on which line (counted from 1).
    public struct SyntaxError: Error, CustomStringConvertible, Sendable, Hashable {
        public var line: Int
        public var reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    /// Parses `text` into a JSON value (an empty document is `null`).
    public static func parse(_ text: String) throws(SyntaxError) -> JSONValue {
        var bytes = Array(text.utf8)
        // libyaml reads a BOM-less UTF-8 buffer; an empty one is an empty stream.
        if bytes.isEmpty { bytes = [0x0A] }
        var reader = Reader()
        let result: Result<JSONValue, SyntaxError> = bytes.withUnsafeBufferPointer { buffer in
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else { return .failure(SyntaxError(line: 1, reason: "the YAML parser could not start")) }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    let problem = parser.problem.map { String(cString: $0) } ?? "malformed YAML"
                    let context = parser.context.map { String(cString: $0) + ": " } ?? ""
                    return .failure(SyntaxError(line: Int(parser.problem_mark.line) + 1, reason: context + problem))
                }
                defer { yaml_event_delete(&event) }
                do throws(SyntaxError) {
                    if try reader.consume(event) { return .success(reader.document ?? .null) }
                } catch {
                    return .failure(error)
                }
            }
        }
        return try result.get()
    }

    /// Builds the document from libyaml's events.
    struct Reader {
        /// A mapping being read: its own members, those a merge key brought (its own
        /// win), and the key waiting for its value.
        struct Mapping {
            var members: [String: JSONValue] = [:]
            var merged: [String: JSONValue] = [:]
            var pendingKey: String?
            var keyLine = 0
            var anchor: String?

            var value: JSONValue { .object(members.merging(merged) { own, _ in own }) }
        }

        enum Frame {
            case mapping(Mapping)
            case sequence(items: [JSONValue], anchor: String?)
        }

        var stack: [Frame] = []
        var anchors: [String: JSONValue] = [:]
        var document: JSONValue?
        var documents = 0

        /// Takes one event; true at the end of the stream.
        mutating func consume(_ event: yaml_event_t) throws(SyntaxError) -> Bool {
            let line = Int(event.start_mark.line) + 1
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return true
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                if documents > 1 { throw SyntaxError(line: line, reason: "a kubeconfig is one YAML document; a second one starts here") }
            case YAML_MAPPING_START_EVENT:
                stack.append(.mapping(Mapping(anchor: Self.text(event.data.mapping_start.anchor))))
            case YAML_SEQUENCE_START_EVENT:
                stack.append(.sequence(items: [], anchor: Self.text(event.data.sequence_start.anchor)))
            case YAML_MAPPING_END_EVENT, YAML_SEQUENCE_END_EVENT:
                guard let frame = stack.popLast() else { return false }
                switch frame {
                case .mapping(let mapping): try add(mapping.value, anchor: mapping.anchor, line: line)
                case .sequence(let items, let anchor): try add(.array(items), anchor: anchor, line: line)
                }
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                let text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
                let isNull = scalar.style == YAML_PLAIN_SCALAR_STYLE && ["", "~", "null", "Null", "NULL"].contains(text)
                try add(isNull ? .null : .string(text), anchor: Self.text(scalar.anchor), line: line, scalarText: text)
            case YAML_ALIAS_EVENT:
                let name = Self.text(event.data.alias.anchor) ?? ""
                guard let value = anchors[name] else {
                    throw SyntaxError(line: line, reason: "alias *\(name) names no anchor defined before it")
                }
                try add(value, anchor: nil, line: line)
            default:
                break
            }
            return false
        }

        /// Places a finished node in its parent (or as the document). `scalarText` is
        /// the text of a scalar node, which may be a key.
        mutating func add(_ value: JSONValue, anchor: String?, line: Int, scalarText: String? = nil) throws(SyntaxError) {
            if let anchor { anchors[anchor] = value }
            guard let top = stack.popLast() else {
                document = value
                return
            }
            switch top {
            case .sequence(var items, let sequenceAnchor):
                items.append(value)
                stack.append(.sequence(items: items, anchor: sequenceAnchor))
            case .mapping(var mapping):
                defer { stack.append(.mapping(mapping)) }
                guard let key = mapping.pendingKey else {
                    // This node is a key.
                    guard let text = value.stringValue ?? scalarText else {
                        throw SyntaxError(line: line, reason: "a mapping key must be a scalar")
                    }
                    if text != "<<", mapping.members[text] != nil {
                        throw SyntaxError(line: line, reason: "key '\(text)' appears twice in one mapping")
                    }
                    mapping.pendingKey = text
                    mapping.keyLine = line
                    return
                }
                mapping.pendingKey = nil
                guard key == "<<" else {
                    mapping.members[key] = value
                    return
                }
                // The merge key: the aliased mapping's (or mappings') members, where this
                // mapping has none of its own; an earlier mapping of a list wins.
                for source in value.arrayValue ?? [value] {
                    guard let fields = source.objectValue else {
                        throw SyntaxError(line: mapping.keyLine, reason: "the merge key `<<` takes a mapping or a list of mappings")
                    }
                    for (name, field) in fields where mapping.merged[name] == nil { mapping.merged[name] = field }
                }
            }
        }

        static func text(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
            pointer.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
        }
    }
}
