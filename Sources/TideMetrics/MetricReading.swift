/// Why a metric could not be used. Each case says what a user can do about it.
public enum MetricUnavailable: Error, Sendable, Hashable, CustomStringConvertible {
    /// Prometheus could not be reached (refused, DNS, TLS).
    case unreachable(String)
    /// No answer within the source's timeout.
    case timeout(Duration)
    /// Prometheus answered an HTTP status other than 200.
    case httpStatus(Int, String)
    /// Prometheus answered `status: error`.
    case queryError(errorType: String, error: String)
    /// The body was not the Prometheus JSON shape.
    case malformedResponse(String)
    /// The query returned no series.
    case emptyResult
    /// The query returned more than one series; it must aggregate to one.
    case multipleSeries(Int)
    /// A matrix or string result instead of a vector or scalar.
    case unsupportedResultType(String)
    /// NaN or ±Inf.
    case notFinite(String)
    /// An HTTP source could not be reached (refused, DNS, TLS).
    case endpointUnreachable(String)
    /// An HTTP source answered a status other than 2xx.
    case endpointHTTPStatus(Int, String)
    /// An HTTP source redirected in a loop, too often, or to another host.
    case redirect(String)
    /// An HTTP source's reply is larger than the scaler reads.
    case bodyTooLarge(limit: Int)
    /// An HTTP source's reply is not JSON.
    case notJSON(String)
    /// `valueLocation` leads nowhere in the reply.
    case valueMissing(location: String, why: String)
    /// `valueLocation` leads to something other than a number.
    case notANumber(location: String, found: String)
    /// The Secrets the source names could not be read.
    case credentialsUnavailable(String)

    /// A short CamelCase reason for conditions and events.
    public var reason: String {
        switch self {
        case .unreachable: return "PrometheusUnreachable"
        case .timeout: return "QueryTimeout"
        case .httpStatus: return "PrometheusHTTPError"
        case .queryError: return "QueryError"
        case .malformedResponse: return "MalformedResponse"
        case .emptyResult: return "EmptyResult"
        case .multipleSeries: return "MultipleSeries"
        case .unsupportedResultType: return "UnsupportedResultType"
        case .notFinite: return "NotFinite"
        case .endpointUnreachable: return "EndpointUnreachable"
        case .endpointHTTPStatus: return "EndpointHTTPError"
        case .redirect: return "Redirect"
        case .bodyTooLarge: return "BodyTooLarge"
        case .notJSON: return "NotJSON"
        case .valueMissing: return "ValueMissing"
        case .notANumber: return "NotANumber"
        case .credentialsUnavailable: return "CredentialsUnavailable"
        }
    }

    public var description: String {
        switch self {
        case .unreachable(let why): return "Prometheus is unreachable: \(why); check spec.scaling.prometheus.address and network policies"
        case .timeout(let limit):
            return "no answer within \(limit); raise the source's timeout (spec.scaling.prometheus.timeout, or the metric's) or make it answer faster"
        case .httpStatus(let code, let body): return "Prometheus answered HTTP \(code)\(body.isEmpty ? "" : ": \(body)"); check the address, path and credentials"
        case .queryError(let type, let error): return "Prometheus rejected the query (\(type)): \(error)"
        case .malformedResponse(let why): return "the reply is not a Prometheus query result (\(why)); is the address a Prometheus server?"
        case .emptyResult: return "the query returned no series; check the metric name and labels, or wrap it in sum(...)"
        case .multipleSeries(let count): return "the query returned \(count) series; aggregate it to one, e.g. sum(...)"
        case .unsupportedResultType(let type): return "the query returned a \(type); use an instant vector or scalar expression"
        case .notFinite(let value): return "the source returned \(value); guard against division by zero, e.g. with clamp_min"
        case .endpointUnreachable(let why): return "the endpoint is unreachable: \(why); check http.url and network policies"
        case .endpointHTTPStatus(let code, let body):
            return "the endpoint answered HTTP \(code)\(body.isEmpty ? "" : ": \(body)"); check http.url, headers and credentials"
        case .redirect(let why): return "the endpoint redirects \(why); set http.url to the final address"
        case .bodyTooLarge(let limit): return "the reply is larger than \(limit / 1_024) KiB; point http.url at an endpoint that answers a small JSON document"
        case .notJSON(let start): return "the reply is not JSON (it starts \"\(start)\"); point http.url at an endpoint that answers JSON"
        case .valueMissing(let location, let why): return "valueLocation \(location) is not in the reply: \(why)"
        case .notANumber(let location, let found): return "valueLocation \(location) holds \(found), not a JSON number"
        case .credentialsUnavailable(let why): return "credentials could not be read: \(why)"
        }
    }
}

/// One reading of the metric: a value, or why there is none.
public enum MetricReading: Sendable, Hashable {
    case value(Double)
    case unavailable(MetricUnavailable)

    public var value: Double? {
        if case .value(let value) = self { return value }
        return nil
    }

    /// Why there is no value, or `nil` for a value.
    public var unavailable: MetricUnavailable? {
        if case .unavailable(let why) = self { return why }
        return nil
    }
}
