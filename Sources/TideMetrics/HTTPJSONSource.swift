import AsyncHTTPClient
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import NIOCore
import NIOHTTP1
import TideAPI

/// A metric read from an HTTP endpoint that answers JSON: `GET url`, then the number
/// at `valueLocation` (e.g. `data.orders`, `items.0.count`).
///
/// Guarantees: TLS is verified (system roots, or the CA the spec names); redirects are
/// followed only to the same scheme, host and port, at most
/// ``HTTPJSONSource/maximumRedirects`` times and never in a loop, so credentials and
/// header values go nowhere else; at most ``HTTPJSONSource/bodyLimit`` bytes are read.
/// Every reply that cannot be used — not 2xx, not JSON, the path missing, a string,
/// `null` or anything else where a number should be, too large, too slow — is
/// ``MetricReading/unavailable(_:)`` with the reason, never a made-up value.
public final class HTTPJSONSource: MetricSource {
    public static let bodyLimit = 1_024 * 1_024
    public static let maximumRedirects = 5

    public let url: String
    public let valueLocation: String
    let path: [String]
    let timeout: Duration
    let headers: [(name: String, value: String)]
    let http: HTTPClient

    public init(_ source: HTTPSource, timeout: Duration, secrets: SourceSecrets) throws {
        guard let path = source.valuePath else {
            throw MetricUnavailable.valueMissing(location: source.valueLocation, why: "it is not a dot-separated path")
        }
        url = source.url
        valueLocation = source.valueLocation
        self.path = path
        self.timeout = timeout
        var headers: [(name: String, value: String)] = [("Accept", "application/json"), ("User-Agent", "tide-scaler/0.1")]
        if let authorization = secrets.credentials.authorization { headers.append(("Authorization", authorization)) }
        for header in source.headers ?? [] {
            guard let value = header.value ?? secrets.headers[header.name] else {
                throw MetricUnavailable.credentialsUnavailable("the value of header \(header.name) is not mounted")
            }
            headers.append((header.name, value))
        }
        self.headers = headers
        http = try HTTPClient.forMetricSource(timeout: timeout, caPEM: secrets.caPEM)
    }

    public func shutdown() async { try? await http.shutdown() }

    public func read() async -> MetricReading {
        let deadline = NIODeadline.now() + .nanoseconds(Int64(timeout.inSeconds * 1e9))
        var location = url
        var visited: Set<String> = [url]
        for _ in 0...Self.maximumRedirects {
            var request = HTTPClientRequest(url: location)
            for header in headers { request.headers.add(name: header.name, value: header.value) }
            let response: HTTPClientResponse
            let body: [UInt8]
            do {
                response = try await http.execute(request, deadline: deadline)
                body = Array(buffer: try await response.body.collect(upTo: Self.bodyLimit))
            } catch is NIOTooManyBytesError {
                return .unavailable(.bodyTooLarge(limit: Self.bodyLimit))
            } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
                return .unavailable(.timeout(timeout))
            } catch let error as HTTPClientError where error == .invalidURL || error == .emptyHost || error == .emptyScheme {
                return .unavailable(.endpointUnreachable("\(location) is not a URL the scaler can request"))
            } catch {
                return .unavailable(.endpointUnreachable(describeTransportError(error)))
            }
            let code = Int(response.status.code)
            guard (300..<400).contains(code), let target = response.headers.first(name: "Location") else {
                return Self.parse(code: code, body: body, location: path)
            }
            guard let next = Self.resolve(target, against: location) else {
                return .unavailable(.redirect("to \"\(target)\", which is not a URL"))
            }
            guard Self.origin(of: next) == Self.origin(of: location) else {
                return .unavailable(.redirect("to another host (\(Self.origin(of: next) ?? next)); credentials are only sent to \(Self.origin(of: url) ?? url)"))
            }
            guard visited.insert(next).inserted else { return .unavailable(.redirect("in a loop (back to \(next))")) }
            location = next
        }
        return .unavailable(.redirect("more than \(Self.maximumRedirects) times"))
    }

    /// Interprets a reply. Pure, so every shape is table-tested.
    public static func parse(code: Int, body: [UInt8], location path: [String]) -> MetricReading {
        let location = path.joined(separator: ".")
        guard (200..<300).contains(code) else {
            let text = String(decoding: body.prefix(200), as: UTF8.self).trimmingWhitespace()
            return .unavailable(.endpointHTTPStatus(code, text))
        }
        guard let document = try? KubeJSON.decoder.decode(JSONValue.self, from: Data(body)) else {
            let start = String(decoding: body.prefix(40), as: UTF8.self).trimmingWhitespace()
            return .unavailable(.notJSON(start))
        }
        var current = document
        var walked = "the reply"
        for part in path {
            switch current {
            case .object(let members):
                guard let next = members[part] else {
                    let keys = members.keys.sorted().prefix(8).joined(separator: ", ")
                    return .unavailable(.valueMissing(location: location, why: "\(walked) has no \"\(part)\" (it has: \(keys.isEmpty ? "nothing" : keys))"))
                }
                current = next
            case .array(let items):
                guard let index = Int(part), items.indices.contains(index) else {
                    return .unavailable(.valueMissing(location: location, why: "\(walked) is a list of \(items.count); \"\(part)\" is not an index in it"))
                }
                current = items[index]
            default:
                return .unavailable(.valueMissing(location: location, why: "\(walked) is \(describe(current)), which has no \"\(part)\""))
            }
            walked = walked == "the reply" ? part : "\(walked).\(part)"
        }
        switch current {
        case .int(let value): return .value(Double(value))
        case .double(let value):
            return value.isFinite ? .value(value) : .unavailable(.notFinite("\(value)"))
        default:
            return .unavailable(.notANumber(location: location, found: describe(current)))
        }
    }

    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let flag): return "the boolean \(flag)"
        case .string(let text): return "the string \"\(text.prefix(40))\""
        case .array(let items): return "a list of \(items.count)"
        case .object: return "an object"
        case .int(let number): return "the number \(number)"
        case .double(let number): return "the number \(number)"
        }
    }

    /// `target` (absolute, or relative to `base`) as an absolute URL.
    static func resolve(_ target: String, against base: String) -> String? {
        guard let baseURL = URL(string: base), let url = URL(string: target, relativeTo: baseURL)?.absoluteURL, url.host != nil else { return nil }
        return url.absoluteString
    }

    /// `scheme://host:port`, with the scheme's default port spelled out.
    static func origin(of text: String) -> String? {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased() else { return nil }
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        return "\(scheme)://\(host):\(port)"
    }
}
