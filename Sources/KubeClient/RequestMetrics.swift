import KubeAPI
import NIOHTTP1
/// The API server's own count of the requests it served (`apiserver_request_total`),
/// read from its `/metrics` (needs `get` on the non-resource URL `/metrics`).
///
/// Tests and benchmarks use it to count what a client wrote, as the server saw it.
public struct APIServerRequestCount: Sendable, Hashable {
    public var verb: String
    public var group: String
    public var resource: String
    public var subresource: String
    public var count: Double
}

extension KubeClient {
    /// Every `apiserver_request_total` series, one entry each.
    public func apiServerRequestCounts() async throws -> [APIServerRequestCount] {
        let text = String(decoding: try await send(.GET, path: "/metrics").body, as: UTF8.self)
        var counts: [APIServerRequestCount] = []
        let prefix = "apiserver_request_total{"
        for line in text.split(separator: "\n") where line.hasPrefix(prefix) {
            guard let close = line.lastIndex(of: "}") else { continue }
            let labels = "," + line[line.index(line.startIndex, offsetBy: prefix.count)..<close]
            func label(_ name: String) -> String {
                guard let range = labels.firstRange(of: ",\(name)=\"") else { return "" }
                let rest = labels[range.upperBound...]
                return rest.firstIndex(of: "\"").map { String(rest[..<$0]) } ?? ""
            }
            let value = Double(line[line.index(after: close)...].trimmingWhitespace()) ?? 0
            counts.append(APIServerRequestCount(
                verb: label("verb"), group: label("group"), resource: label("resource"), subresource: label("subresource"), count: value))
        }
        return counts
    }
}
