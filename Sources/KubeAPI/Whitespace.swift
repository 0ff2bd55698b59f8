extension StringProtocol {
    /// The text without leading and trailing white space and line breaks (Unicode's
    /// White_Space property, as Foundation's `.whitespacesAndNewlines`), using only the
    /// standard library's character properties.
    public func trimmingWhitespace() -> String {
        // Most text has nothing to trim: when it begins and ends with an ASCII byte that
        // is not white space, no white-space character can be at either end (every
        // non-ASCII one is encoded with non-ASCII bytes only).
        let text = String(self)
        if let head = text.utf8.first, let tail = text.utf8.last, Self.isPlainASCII(head), Self.isPlainASCII(tail) { return text }
        guard let first = text.firstIndex(where: { !$0.isWhitespace }), let last = text.lastIndex(where: { !$0.isWhitespace }) else {
            return ""
        }
        return String(text[first...last])
    }

    /// An ASCII byte other than white space (tab, line feed, vertical tab, form feed,
    /// carriage return, space).
    private static func isPlainASCII(_ byte: UInt8) -> Bool { byte < 0x80 && byte != 0x20 && !(0x09...0x0D).contains(byte) }
}
