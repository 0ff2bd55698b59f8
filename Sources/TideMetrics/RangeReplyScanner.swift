#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a successful `query_range` reply without building a JSON tree: days of
/// history are tens of thousands of `[time, "value"]` pairs, and a tree of them costs
/// a hundred times the pairs' bytes and most of a decision's time.
///
/// It walks the JSON properly (strings with escapes, nested objects and arrays are
/// skipped whole, keys in any order), so a label value that looks like `"values"`
/// cannot mislead it. It answers only the happy path: `nil` for anything else (an
/// error reply, another result type, malformed JSON), and the caller falls back to
/// the general parser, which explains what is wrong.
struct RangeReplyScanner {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The series' samples, with the number of series, or `nil` off the happy path.
    static func scan(_ body: [UInt8]) -> (points: [MetricPoint], series: Int)? {
        var scanner = RangeReplyScanner(body)
        return scanner.reply()
    }

    mutating func reply() -> (points: [MetricPoint], series: Int)? {
        var status: String?
        var result: (points: [MetricPoint], series: Int)?
        var matrix = false
        guard object({ key, scanner in
            switch key {
            case "status": status = scanner.string(); return status != nil
            case "data":
                return scanner.object { key, scanner in
                    switch key {
                    case "resultType": matrix = scanner.string() == "matrix"; return true
                    case "result": result = scanner.series(); return result != nil
                    default: return scanner.skipValue()
                    }
                }
            default: return scanner.skipValue()
            }
        }) else { return nil }
        guard status == "success", matrix else { return nil }
        return result
    }

    /// `[{"metric": …, "values": [[t, "v"], …]}, …]`: the samples of the first series.
    mutating func series() -> (points: [MetricPoint], series: Int)? {
        var points: [MetricPoint] = []
        var count = 0
        let parsed = array { scanner in
            count += 1
            return scanner.object { key, scanner in
                guard key == "values", count == 1 else { return scanner.skipValue() }
                return scanner.array { scanner in
                    guard scanner.consume(UInt8(ascii: "[")), let time = scanner.number(), scanner.consume(UInt8(ascii: ",")),
                        let value = scanner.quotedNumber(), scanner.consume(UInt8(ascii: "]"))
                    else { return false }
                    if value.isFinite { points.append(.init(time: Date(timeIntervalSince1970: time), value: value)) }
                    return true
                }
            }
        }
        return parsed ? (points, count) : nil
    }

    // MARK: JSON

    mutating func skipWhitespace() {
        while position < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[position]) { position += 1 }
    }

    mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    mutating func peek() -> UInt8? {
        skipWhitespace()
        return position < bytes.count ? bytes[position] : nil
    }

    /// `{ "key": value, … }`, each value read by `member` (which returns false to stop).
    mutating func object(_ member: (String, inout RangeReplyScanner) -> Bool) -> Bool {
        guard consume(UInt8(ascii: "{")) else { return false }
        if consume(UInt8(ascii: "}")) { return true }
        repeat {
            guard let key = string(), consume(UInt8(ascii: ":")), member(key, &self) else { return false }
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "}"))
    }

    /// `[ element, … ]`, each element read by `element`.
    mutating func array(_ element: (inout RangeReplyScanner) -> Bool) -> Bool {
        guard consume(UInt8(ascii: "[")) else { return false }
        if consume(UInt8(ascii: "]")) { return true }
        repeat {
            guard element(&self) else { return false }
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "]"))
    }

    /// A string; escapes are kept only as far as a key or a number needs (`\uXXXX` and
    /// the rest are skipped correctly, their text is not decoded).
    mutating func string() -> String? {
        guard consume(UInt8(ascii: "\"")) else { return nil }
        let start = position
        var escaped = false
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if escaped {
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                return String(decoding: bytes[start..<(position - 1)], as: UTF8.self)
            }
        }
        return nil
    }

    /// A JSON number, read in place (`strtod` stops at the delimiter that follows).
    mutating func number() -> Double? {
        skipWhitespace()
        let start = position
        while position < bytes.count, Self.isNumberByte(bytes[position]) { position += 1 }
        guard position > start, position < bytes.count else { return nil }
        return bytes.withUnsafeBufferPointer { buffer -> Double? in
            buffer.baseAddress!.advanced(by: start).withMemoryRebound(to: CChar.self, capacity: position - start + 1) { text in
                var end: UnsafeMutablePointer<CChar>?
                let value = strtod(text, &end)
                return end.map { text.distance(to: $0) == position - start } == true ? value : nil
            }
        }
    }

    /// A sample value: a number in quotes, or Prometheus' `NaN`, `+Inf`, `-Inf`.
    mutating func quotedNumber() -> Double? {
        guard consume(UInt8(ascii: "\"")) else { return nil }
        let start = position
        if let value = number(), position < bytes.count, bytes[position] == UInt8(ascii: "\"") {
            position += 1
            return value
        }
        position = start - 1
        switch string() {
        case "NaN": return .nan
        case "+Inf", "Inf": return .infinity
        case "-Inf": return -.infinity
        default: return nil
        }
    }

    static func isNumberByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
            || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
    }

    mutating func skipValue() -> Bool {
        switch peek() {
        case UInt8(ascii: "{"): return object { _, scanner in scanner.skipValue() }
        case UInt8(ascii: "["): return array { scanner in scanner.skipValue() }
        case UInt8(ascii: "\""): return string() != nil
        case nil: return false
        default:
            let start = position
            while position < bytes.count, !",}] \n\r\t".utf8.contains(bytes[position]) { position += 1 }
            return position > start
        }
    }
}
