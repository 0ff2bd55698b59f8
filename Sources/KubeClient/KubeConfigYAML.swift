import KubeAPI

/// Reads the YAML that kubeconfig files are written in, without a YAML library (so the
/// binaries that load a kubeconfig link neither a YAML parser nor Foundation's ICU).
///
/// Supported, which covers what `kubectl`, cloud CLIs and `kind` write: block mappings
/// and sequences (a sequence may sit at its key's indentation, and `- key: value`
/// starts a mapping inside an item), plain, `'single'` and `"double"` quoted scalars,
/// literal (`|`) and folded (`>`) block scalars, flow collections (`{a: b}`, `[a, b]`,
/// which makes JSON a valid input too), comments, and one document (`---` before it,
/// `...` after it). Every scalar is a string except `null`, `~` and an empty value,
/// which are null: the kubeconfig schema decides the type, as kubectl's does.
///
/// Not supported, and refused with ``KubeConfigYAML/SyntaxError``: anchors and aliases,
/// tags, several documents, tabs in indentation, complex (`?`) keys.
///
/// Errors name a line and what was expected there, never the line's text (a kubeconfig
/// holds tokens and keys).
public enum KubeConfigYAML {
    /// What is wrong with a document, and on which line (counted from 1).
    public struct SyntaxError: Error, CustomStringConvertible, Sendable, Hashable {
        public var line: Int
        public var reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    /// Parses `text` into a JSON value (an empty document is `null`).
    public static func parse(_ text: String) throws(SyntaxError) -> JSONValue {
        var parser = try Parser(text: text)
        return try parser.document()
    }

    struct Line {
        var number: Int
        var indent: Int
        /// The line without its indentation; trailing comments are removed later (they
        /// depend on quoting).
        var content: Substring
    }

    struct Parser {
        var lines: [Line] = []
        var position = 0
        var rawLines: [Substring]

        init(text: String) throws(SyntaxError) {
            rawLines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
                $0.last == "\r" ? $0.dropLast() : $0
            }
            var seenStart = false
            var ended = false
            for (index, raw) in rawLines.enumerated() {
                let number = index + 1
                let body = raw.drop(while: { $0 == " " })
                if body.isEmpty || body.first == "#" { continue }
                if ended { throw SyntaxError(line: number, reason: "a kubeconfig is one YAML document; found text after its end (`...`)") }
                let indent = raw.count - body.count
                if body.first == "\t" { throw SyntaxError(line: number, reason: "tabs cannot indent YAML") }
                if indent == 0 && (body == "---" || body.hasPrefix("--- ")) {
                    if seenStart || !lines.isEmpty {
                        throw SyntaxError(line: number, reason: "a kubeconfig is one YAML document; found a second")
                    }
                    seenStart = true
                    let rest = body.dropFirst(3).drop(while: { $0 == " " })
                    if !rest.isEmpty && rest.first != "#" {
                        lines.append(Line(number: number, indent: 4, content: rest))
                    }
                    continue
                }
                if indent == 0 && (body == "..." || body.hasPrefix("... ")) { ended = true; continue }
                lines.append(Line(number: number, indent: indent, content: body))
            }
        }

        mutating func document() throws(SyntaxError) -> JSONValue {
            guard position < lines.count else { return .null }
            let value = try node(minimumIndent: 0)
            if position < lines.count {
                throw SyntaxError(line: lines[position].number, reason: "unexpected indentation or content after the document")
            }
            return value
        }

        /// The node that starts at the current line, whose indentation must be at least
        /// `minimumIndent`.
        mutating func node(minimumIndent: Int) throws(SyntaxError) -> JSONValue {
            let line = lines[position]
            guard line.indent >= minimumIndent else { return .null }
            if Self.isSequenceItem(line.content) { return try sequence(indent: line.indent) }
            if try Self.mappingKey(in: line) != nil { return try mapping(indent: line.indent) }
            position += 1
            return try inlineValue(Self.stripComment(line.content), line: line.number, continuation: minimumIndent - 1)
        }

        static func isSequenceItem(_ content: Substring) -> Bool {
            content == "-" || content.hasPrefix("- ")
        }

        /// The key and the text after `key:` when `line` is a mapping entry.
        static func mappingKey(in line: Line) throws(SyntaxError) -> (key: String, rest: Substring)? {
            let content = line.content
            switch content.first {
            case "|", ">":
                return nil  // a block scalar, not a key
            case "?" where content.count == 1 || content.dropFirst().first == " ", "&", "*", "!", "%", "@", "`":
                throw SyntaxError(line: line.number, reason: unsupported(String(content.first!)))
            default:
                break
            }
            if let quote = content.first, quote == "\"" || quote == "'" {
                var scanner = Scanner(text: content, line: line.number)
                let key = try scanner.quoted()
                let rest = scanner.text.drop(while: { $0 == " " })
                guard rest.first == ":", rest.count == 1 || rest.dropFirst().first == " " else { return nil }
                return (key, rest.dropFirst())
            }
            if content.first == "{" || content.first == "[" { return nil }
            var index = content.startIndex
            while index < content.endIndex {
                let character = content[index]
                let next = content.index(after: index)
                if character == ":" && (next == content.endIndex || content[next] == " ") {
                    let key = content[..<index].trimmingTrailingSpaces()
                    return (String(key), content[next...])
                }
                if character == "#" && index > content.startIndex && content[content.index(before: index)] == " " { return nil }
                index = next
            }
            return nil
        }

        mutating func mapping(indent: Int) throws(SyntaxError) -> JSONValue {
            var members: [String: JSONValue] = [:]
            while position < lines.count, lines[position].indent == indent {
                let line = lines[position]
                if Self.isSequenceItem(line.content) { break }
                guard let (key, rest) = try Self.mappingKey(in: line) else {
                    throw SyntaxError(line: line.number, reason: "expected `key: value` in this mapping")
                }
                if members[key] != nil {
                    throw SyntaxError(line: line.number, reason: "the key '\(key)' appears twice in one mapping")
                }
                position += 1
                let value = Self.stripComment(rest.drop(while: { $0 == " " }))
                if value.isEmpty {
                    // The value is on the next lines: deeper, or a sequence at this indentation.
                    if position < lines.count,
                        lines[position].indent > indent
                            || (lines[position].indent == indent && Self.isSequenceItem(lines[position].content))
                    {
                        members[key] = try node(minimumIndent: indent)
                    } else {
                        members[key] = .null
                    }
                } else if value.first == "|" || value.first == ">" {
                    members[key] = try blockScalar(header: value, line: line.number, parentIndent: indent)
                } else {
                    members[key] = try inlineValue(value, line: line.number, continuation: indent)
                }
            }
            if position < lines.count, lines[position].indent > indent {
                throw SyntaxError(line: lines[position].number, reason: "this line is indented deeper than the mapping it follows")
            }
            return .object(members)
        }

        mutating func sequence(indent: Int) throws(SyntaxError) -> JSONValue {
            var items: [JSONValue] = []
            while position < lines.count, lines[position].indent == indent, Self.isSequenceItem(lines[position].content) {
                let line = lines[position]
                let rest = line.content.dropFirst().drop(while: { $0 == " " })
                if rest.isEmpty || rest.first == "#" {
                    position += 1
                    if position < lines.count, lines[position].indent > indent {
                        items.append(try node(minimumIndent: indent + 1))
                    } else {
                        items.append(.null)
                    }
                } else {
                    // `- key: value` or `- - item`: the item's content is a node indented to
                    // where its text starts.
                    let column = indent + (line.content.count - rest.count)
                    lines[position] = Line(number: line.number, indent: column, content: rest)
                    items.append(try node(minimumIndent: column))
                }
            }
            if position < lines.count, lines[position].indent > indent {
                throw SyntaxError(line: lines[position].number, reason: "this line is indented deeper than the sequence it follows")
            }
            return .array(items)
        }

        /// A value written on the line of its key or dash: a flow collection or a
        /// scalar (a plain or quoted scalar may go on over deeper lines).
        mutating func inlineValue(_ text: Substring, line: Int, continuation indent: Int) throws(SyntaxError) -> JSONValue {
            if text.first == "{" || text.first == "[" || text.first == "\"" || text.first == "'" {
                var full = String(text)
                var scanner = Scanner(text: Substring(full), line: line)
                // A quoted scalar or flow collection may continue on following lines.
                while true {
                    do throws(SyntaxError) {
                        let value = try scanner.flowValue()
                        let rest = Self.stripComment(scanner.text.drop(while: { $0 == " " }))
                        guard rest.isEmpty else {
                            throw SyntaxError(line: line, reason: "unexpected text after a value")
                        }
                        return value
                    } catch let error where error.reason == Scanner.endOfInput && position < lines.count
                        && lines[position].indent > indent
                    {
                        full += " " + lines[position].content
                        position += 1
                        scanner = Scanner(text: Substring(full), line: line)
                    }
                }
            }
            for marker in ["&", "*", "!"] where text.hasPrefix(marker) {
                throw SyntaxError(line: line, reason: Self.unsupported(marker))
            }
            var words = [String(text.trimmingTrailingSpaces())]
            while position < lines.count, lines[position].indent > indent,
                try Self.mappingKey(in: lines[position]) == nil, !Self.isSequenceItem(lines[position].content)
            {
                words.append(String(Self.stripComment(lines[position].content).trimmingTrailingSpaces()))
                position += 1
            }
            return Self.plainScalar(words.joined(separator: " "))
        }

        static func plainScalar(_ text: String) -> JSONValue {
            switch text {
            case "", "~", "null", "Null", "NULL": return .null
            default: return .string(text)
            }
        }

        /// A `|` or `>` block scalar: the lines indented deeper than its key.
        mutating func blockScalar(header: Substring, line: Int, parentIndent: Int) throws(SyntaxError) -> JSONValue {
            let folded = header.first == ">"
            enum Chomping { case clip, strip, keep }
            var chomping = Chomping.clip
            var explicitIndent: Int?
            for character in header.dropFirst() {
                switch character {
                case "-": chomping = .strip
                case "+": chomping = .keep
                case "1"..."9": explicitIndent = Int(String(character))
                default: throw SyntaxError(line: line, reason: "a block scalar header is `|` or `>` with optional `-`, `+` and an indentation digit")
                }
            }
            // Read raw lines (blank lines and `#` inside belong to the scalar).
            var raw: [Substring] = []
            var lastNumber = line
            var index = line  // rawLines[line] is the line after the header
            var contentIndent = explicitIndent.map { parentIndent + $0 }
            while index < rawLines.count {
                let text = rawLines[index]
                let body = text.drop(while: { $0 == " " })
                let indent = text.count - body.count
                if body.isEmpty { raw.append(""); index += 1; continue }
                if contentIndent == nil {
                    guard indent > parentIndent else { break }
                    contentIndent = indent
                }
                guard let contentIndent, indent >= contentIndent else { break }
                raw.append(text.dropFirst(contentIndent))
                lastNumber = index + 1
                index += 1
            }
            // Trailing blank lines are chomped below; drop the structural lines consumed.
            while position < lines.count, lines[position].number <= lastNumber { position += 1 }
            var trailingBlank = 0
            while let last = raw.last, last.isEmpty { raw.removeLast(); trailingBlank += 1 }
            var text: String
            if folded {
                text = ""
                for (offset, piece) in raw.enumerated() {
                    // One break between two lines folds to a space; each blank line is a break.
                    if offset > 0 {
                        let previous = raw[offset - 1]
                        if piece.isEmpty {
                            text += "\n"
                        } else if !previous.isEmpty {
                            text += piece.first == " " || previous.first == " " ? "\n" : " "
                        }
                    }
                    text += piece
                }
            } else {
                text = raw.joined(separator: "\n")
            }
            switch chomping {
            case .strip: break
            case .keep: text += String(repeating: "\n", count: raw.isEmpty ? trailingBlank : trailingBlank + 1)
            case .clip: if !raw.isEmpty { text += "\n" }
            }
            return .string(text)
        }

        /// The text before a ` #` comment outside quotes.
        static func stripComment(_ text: Substring) -> Substring {
            var quote: Character?
            var previous: Character = " "
            var index = text.startIndex
            while index < text.endIndex {
                let character = text[index]
                if let open = quote {
                    if character == open { quote = nil }
                } else if character == "\"" || character == "'" {
                    if previous == " " || previous == "[" || previous == "{" || previous == "," || previous == ":" { quote = character }
                } else if character == "#" && previous == " " {
                    return text[..<index].trimmingTrailingSpaces()
                }
                if character == "\\" && quote == "\"" {
                    index = text.index(after: index)
                    if index == text.endIndex { break }
                }
                previous = character
                index = text.index(after: index)
            }
            return text.trimmingTrailingSpaces()
        }

        static func unsupported(_ marker: String) -> String {
            switch marker {
            case "&", "*": return "anchors and aliases are not supported in a kubeconfig"
            case "!": return "tags are not supported in a kubeconfig"
            case "?": return "complex keys are not supported in a kubeconfig"
            default: return "'\(marker)' cannot start a plain value"
            }
        }
    }

    /// Reads flow values (`{…}`, `[…]`, quoted and plain scalars) from one string.
    struct Scanner {
        static let endOfInput = "the value is not closed before the end of the document"
        /// What is left to read.
        var text: Substring
        var line: Int

        mutating func skipSpaces() { text = text.drop(while: { $0 == " " }) }

        mutating func flowValue() throws(SyntaxError) -> JSONValue {
            skipSpaces()
            guard let first = text.first else { throw SyntaxError(line: line, reason: Self.endOfInput) }
            switch first {
            case "{":
                text.removeFirst()
                var members: [String: JSONValue] = [:]
                skipSpaces()
                if text.first == "}" { text.removeFirst(); return .object(members) }
                while true {
                    skipSpaces()
                    let key: String
                    if text.first == "\"" || text.first == "'" {
                        key = try quoted()
                    } else {
                        key = try plain(stoppingAt: [":", ",", "}"], key: true)
                    }
                    skipSpaces()
                    guard text.first == ":" else { throw failure("expected ':' after a key in a flow mapping") }
                    text.removeFirst()
                    if members[key] != nil { throw failure("the key '\(key)' appears twice in one mapping") }
                    skipSpaces()
                    if text.first == "," || text.first == "}" { members[key] = .null } else { members[key] = try flowValue() }
                    skipSpaces()
                    guard let separator = text.first else { throw SyntaxError(line: line, reason: Self.endOfInput) }
                    text.removeFirst()
                    if separator == "}" { return .object(members) }
                    guard separator == "," else { throw failure("expected ',' or '}' in a flow mapping") }
                    skipSpaces()
                    if text.first == "}" { text.removeFirst(); return .object(members) }
                }
            case "[":
                text.removeFirst()
                var items: [JSONValue] = []
                skipSpaces()
                if text.first == "]" { text.removeFirst(); return .array(items) }
                while true {
                    items.append(try flowValue())
                    skipSpaces()
                    guard let separator = text.first else { throw SyntaxError(line: line, reason: Self.endOfInput) }
                    text.removeFirst()
                    if separator == "]" { return .array(items) }
                    guard separator == "," else { throw failure("expected ',' or ']' in a flow sequence") }
                    skipSpaces()
                    if text.first == "]" { text.removeFirst(); return .array(items) }
                }
            case "\"", "'":
                return .string(try quoted())
            case "&", "*", "!":
                throw failure(Parser.unsupported(String(first)))
            default:
                return Parser.plainScalar(try plain(stoppingAt: [",", "]", "}"], key: false))
            }
        }

        /// A plain scalar inside a flow collection, up to a flow indicator.
        mutating func plain(stoppingAt stops: Set<Character>, key: Bool) throws(SyntaxError) -> String {
            var value = ""
            while let character = text.first {
                if stops.contains(character) {
                    // `:` ends a key only when a space or an indicator follows (`https://…` stays whole).
                    if character != ":" || !key { break }
                    let next = text.dropFirst().first
                    if next == nil || next == " " || next == "," || next == "}" || next == "]" { break }
                }
                if character == ":" && !key, let next = text.dropFirst().first, next == " " {
                    throw failure("a flow value cannot hold ': ' unquoted")
                }
                value.append(character)
                text.removeFirst()
            }
            if text.isEmpty { throw SyntaxError(line: line, reason: Self.endOfInput) }
            return String(Substring(value).trimmingTrailingSpaces())
        }

        /// A single- or double-quoted scalar, quotes removed and escapes applied.
        mutating func quoted() throws(SyntaxError) -> String {
            let quote = text.removeFirst()
            var value = ""
            while true {
                guard let character = text.first else { throw SyntaxError(line: line, reason: Self.endOfInput) }
                text.removeFirst()
                if quote == "'" {
                    if character == "'" {
                        if text.first == "'" { text.removeFirst(); value.append("'"); continue }
                        return value
                    }
                    value.append(character)
                    continue
                }
                if character == "\"" { return value }
                guard character == "\\" else { value.append(character); continue }
                guard let escape = text.first else { throw SyntaxError(line: line, reason: Self.endOfInput) }
                text.removeFirst()
                switch escape {
                case "n": value.append("\n")
                case "t": value.append("\t")
                case "r": value.append("\r")
                case "0": value.append("\0")
                case " ": value.append(" ")
                case "\"", "\\", "/": value.append(escape)
                case "x", "u", "U":
                    let digits = escape == "x" ? 2 : escape == "u" ? 4 : 8
                    let hex = text.prefix(digits)
                    guard hex.count == digits, let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) else {
                        throw failure("\\\(escape) needs \(digits) hexadecimal digits naming a character")
                    }
                    text.removeFirst(digits)
                    value.unicodeScalars.append(scalar)
                default:
                    throw failure("'\\\(escape)' is not a YAML escape")
                }
            }
        }

        func failure(_ reason: String) -> SyntaxError { SyntaxError(line: line, reason: reason) }
    }
}

extension Substring {
    fileprivate func trimmingTrailingSpaces() -> Substring {
        var text = self
        while let last = text.last, last == " " { text.removeLast() }
        return text
    }
}
