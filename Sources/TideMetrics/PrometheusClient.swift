import AsyncHTTPClient
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import KubeClient
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import TideAPI

/// An instant-query client for the Prometheus HTTP API (`GET /api/v1/query`).
///
/// Every reply that cannot be used — transport failure, timeout, HTTP error,
/// `status: error`, bad JSON, an empty vector, several series, a matrix or string, NaN
/// or ±Inf — becomes a ``MetricUnavailable`` with a message a user can act on. TLS is
/// verified against the system roots or the given CA.
public final class PrometheusClient: Sendable {
    public let address: URL
    public let timeout: Duration
    let credentials: SourceCredentials
    let http: HTTPClient

    public init(address: URL, timeout: Duration = .seconds(5), credentials: SourceCredentials = .none, caPEM: [UInt8]? = nil) throws {
        self.address = address
        self.timeout = timeout
        self.credentials = credentials
        http = try HTTPClient.forMetricSource(timeout: timeout, caPEM: caPEM)
    }

    public func shutdown() async throws { try await http.shutdown() }

    /// Runs `query` and returns its single sample, or why there is none.
    public func query(_ query: String) async -> MetricReading {
        var base = address.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        let encoded = KubeClient.percentEncode(query)
        let seconds = timeout.inSeconds
        // Prometheus durations take integer units: milliseconds keep the precision.
        let milliseconds = max(1, Int((seconds * 1_000).rounded()))
        var request = HTTPClientRequest(url: "\(base)/api/v1/query?query=\(encoded)&timeout=\(milliseconds)ms")
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "tide-scaler/0.1")
        if let authorization = credentials.authorization { request.headers.add(name: "Authorization", value: authorization) }
        let code: Int
        let body: [UInt8]
        do {
            let response = try await http.execute(request, deadline: .now() + .nanoseconds(Int64(seconds * 1e9)))
            code = Int(response.status.code)
            body = Array(buffer: try await response.body.collect(upTo: 16 * 1024 * 1024))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            return .unavailable(.timeout(timeout))
        } catch {
            return .unavailable(.unreachable(describeTransportError(error)))
        }
        return Self.parse(code: code, body: body)
    }

    /// The history of `query` from `start` to `end`, one sample every `step`
    /// (`/api/v1/query_range`): the query must give one series, as for a decision.
    public func queryRange(_ query: String, start: Date, end: Date, step: TimeInterval) async -> Result<[MetricPoint], MetricUnavailable> {
        var base = address.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        let parameters = [
            "query=\(KubeClient.percentEncode(query))", "start=\(Self.seconds(start))", "end=\(Self.seconds(end))",
            "step=\(MetricNumber.format(step))s",
        ]
        var request = HTTPClientRequest(url: "\(base)/api/v1/query_range?" + parameters.joined(separator: "&"))
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "tide-scaler/0.1")
        if let authorization = credentials.authorization { request.headers.add(name: "Authorization", value: authorization) }
        do {
            let response = try await http.execute(request, deadline: .now() + .seconds(max(30, Int64(timeout.inSeconds))))
            let body = Array(buffer: try await response.body.collect(upTo: 64 * 1024 * 1024))
            return Self.parseRange(code: Int(response.status.code), body: body)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            return .failure(.timeout(.seconds(30)))
        } catch {
            return .failure(.unreachable(describeTransportError(error)))
        }
    }

    static func seconds(_ date: Date) -> String { MetricNumber.format(date.timeIntervalSince1970) }

    /// Interprets a reply of `/api/v1/query_range`: one series of `[time, "value"]`
    /// pairs (NaN and ±Inf samples are left out, as gaps). Pure.
    public static func parseRange(code: Int, body: [UInt8]) -> Result<[MetricPoint], MetricUnavailable> {
        // Days of history: read the pairs directly; anything else gets the explanation below.
        if code == 200, let scanned = RangeReplyScanner.scan(body), scanned.series == 1 { return .success(scanned.points) }
        let document = try? KubeJSON.decoder.decode(JSONValue.self, from: Data(body))
        if let document, document["status"]?.stringValue == "error" {
            return .failure(.queryError(errorType: document["errorType"]?.stringValue ?? "unknown", error: document["error"]?.stringValue ?? "no message"))
        }
        guard code == 200 else { return .failure(.httpStatus(code, String(decoding: body.prefix(200), as: UTF8.self).trimmingWhitespace())) }
        guard let data = document?["data"], document?["status"]?.stringValue == "success", let result = data["result"]?.arrayValue else {
            return .failure(.malformedResponse("missing status, data or data.result"))
        }
        guard data["resultType"]?.stringValue == "matrix" else { return .failure(.unsupportedResultType(data["resultType"]?.stringValue ?? "none")) }
        if result.isEmpty { return .failure(.emptyResult) }
        if result.count > 1 { return .failure(.multipleSeries(result.count)) }
        guard let values = result[0]["values"]?.arrayValue else { return .failure(.malformedResponse("the series has no values")) }
        var points: [MetricPoint] = []
        for pair in values {
            guard let sample = pair.arrayValue, sample.count == 2, let time = sample[0].doubleValue, let text = sample[1].stringValue else {
                return .failure(.malformedResponse("a sample is not [time, \"value\"]"))
            }
            guard let value = Double(text) else { return .failure(.malformedResponse("the sample value '\(text)' is not a number")) }
            if value.isFinite { points.append(.init(time: Date(timeIntervalSince1970: time), value: value)) }
        }
        return .success(points)
    }

    /// Interprets a reply of `/api/v1/query`. Pure, so every shape is table-tested.
    public static func parse(code: Int, body: [UInt8]) -> MetricReading {
        let document = try? KubeJSON.decoder.decode(JSONValue.self, from: Data(body))
        if let document, document["status"]?.stringValue == "error" {
            return .unavailable(.queryError(
                errorType: document["errorType"]?.stringValue ?? "unknown", error: document["error"]?.stringValue ?? "no message"))
        }
        guard code == 200 else {
            let text = String(decoding: body.prefix(200), as: UTF8.self).trimmingWhitespace()
            return .unavailable(.httpStatus(code, text))
        }
        guard let document, case .object = document else { return .unavailable(.malformedResponse("the body is not JSON")) }
        guard document["status"]?.stringValue == "success", let data = document["data"],
            let resultType = data["resultType"]?.stringValue, let result = data["result"]
        else {
            return .unavailable(.malformedResponse("missing status, data.resultType or data.result"))
        }
        let sample: JSONValue
        switch resultType {
        case "vector":
            guard let series = result.arrayValue else { return .unavailable(.malformedResponse("data.result is not a list")) }
            if series.isEmpty { return .unavailable(.emptyResult) }
            if series.count > 1 { return .unavailable(.multipleSeries(series.count)) }
            guard let value = series[0]["value"] else { return .unavailable(.malformedResponse("the series has no value")) }
            sample = value
        case "scalar":
            sample = result
        default:
            return .unavailable(.unsupportedResultType(resultType))
        }
        guard let pair = sample.arrayValue, pair.count == 2, let text = pair[1].stringValue else {
            return .unavailable(.malformedResponse("a sample is not [time, \"value\"]"))
        }
        switch text {
        case "NaN": return .unavailable(.notFinite("NaN"))
        case "+Inf", "Inf": return .unavailable(.notFinite("+Inf"))
        case "-Inf": return .unavailable(.notFinite("-Inf"))
        default:
            guard let value = Double(text) else { return .unavailable(.malformedResponse("the sample value '\(text)' is not a number")) }
            guard value.isFinite else { return .unavailable(.notFinite(text)) }
            return .value(value)
        }
    }
}

/// A metric read by one PromQL query.
public struct PrometheusQuerySource: MetricSource {
    public let query: String
    let client: PrometheusClient

    public init(_ source: PrometheusSource, timeout: Duration, secrets: SourceSecrets) throws {
        guard let address = URL(string: source.address) else {
            throw MetricUnavailable.unreachable("\(source.address) is not a URL")
        }
        query = source.query
        client = try PrometheusClient(address: address, timeout: timeout, credentials: secrets.credentials, caPEM: secrets.caPEM)
    }

    public func read() async -> MetricReading { await client.query(query) }
    public func shutdown() async { try? await client.shutdown() }
}
