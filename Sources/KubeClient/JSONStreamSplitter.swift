/// Cuts a byte stream of concatenated JSON objects (a watch response body) into whole
/// objects, however the bytes were split into chunks.
///
/// It tracks nesting and string state byte by byte, so a chunk boundary may fall
/// anywhere: inside a string, an escape, a number or between two objects. Whitespace
/// and newlines between objects are skipped.
public struct JSONStreamSplitter: Sendable {
    /// The largest single object accepted; a larger one is an error rather than
    /// unbounded memory growth.
    public var maximumObjectSize: Int

    private var buffer: [UInt8] = []
    private var depth = 0
    private var inString = false
    private var escaped = false

    public init(maximumObjectSize: Int = 64 * 1024 * 1024) {
        self.maximumObjectSize = maximumObjectSize
    }

    /// Bytes held that do not yet form a whole object.
    public var pendingByteCount: Int { buffer.count }

    /// Adds a chunk and returns every object it completes, in order.
    ///
    /// - Throws: ``JSONStreamError`` on bytes outside an object that are not whitespace,
    ///   or an object larger than ``maximumObjectSize``.
    public mutating func append(_ chunk: some Sequence<UInt8>) throws -> [[UInt8]] {
        var objects: [[UInt8]] = []
        for byte in chunk {
            if depth == 0 {
                switch byte {
                case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"):
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth = 1
                    buffer.append(byte)
                    continue
                default:
                    throw JSONStreamError.unexpectedByte(byte)
                }
            }
            buffer.append(byte)
            if buffer.count > maximumObjectSize { throw JSONStreamError.objectTooLarge(maximumObjectSize) }
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 {
                    objects.append(buffer)
                    buffer.removeAll(keepingCapacity: true)
                }
            default: break
            }
        }
        return objects
    }
}

/// A watch stream that is not a sequence of JSON objects.
public enum JSONStreamError: Error, Sendable, Hashable, CustomStringConvertible {
    case unexpectedByte(UInt8)
    case objectTooLarge(Int)

    public var description: String {
        switch self {
        case .unexpectedByte(let byte): return "unexpected byte 0x\(String(byte, radix: 16)) between JSON objects"
        case .objectTooLarge(let limit): return "a streamed JSON object exceeds \(limit) bytes"
        }
    }
}
