/// A listening address as the servers' flags take it: `host:port`, `:port` (every
/// address), `[::1]:port`, or `0` (disabled).
public enum BindAddress {
    public struct Invalid: Error, Sendable, Hashable {
        public var text: String
    }

    /// The host and port, or `nil` for `0`.
    public static func parse(_ text: String) throws(Invalid) -> (host: String, port: Int)? {
        if text == "0" { return nil }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            throw Invalid(text: text)
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }
}
