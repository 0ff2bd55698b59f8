/// Decoding of percent-encoded text: header names the front proxy escapes, and query
/// strings (where `+` is a space, as Go's `url.Values` writes them).
enum PercentDecoding {
    /// `text` with each `%XX` replaced by its byte (and `+` by a space when
    /// `plusIsSpace`); a `%` not followed by two hex digits stays as it is.
    static func decode(_ text: String, plusIsSpace: Bool = false) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if plusIsSpace, byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
                continue
            }
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            let pair = [iterator.next(), iterator.next()].compactMap { $0 }
            if pair.count == 2, let value = UInt8(String(decoding: pair, as: UTF8.self), radix: 16) {
                bytes.append(value)
            } else {
                bytes.append(byte)
                bytes.append(contentsOf: pair)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The parameters of a URL query (`a=1&b=x+y`), decoded; a repeated name keeps its
    /// first value.
    static func query(_ text: String) -> [String: String] {
        var parameters: [String: String] = [:]
        for pair in text.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decode(String(parts[0]), plusIsSpace: true)
            if parameters[name] == nil { parameters[name] = parts.count > 1 ? decode(String(parts[1]), plusIsSpace: true) : "" }
        }
        return parameters
    }
}
