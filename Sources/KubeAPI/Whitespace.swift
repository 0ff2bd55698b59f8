extension StringProtocol {
    /// The text without leading and trailing white space and line breaks (Unicode's
    /// White_Space property, as Foundation's `.whitespacesAndNewlines`), using only the
    /// standard library's character properties.
    public func trimmingWhitespace() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else {
            return ""
        }
        return String(self[first...last])
    }
}
