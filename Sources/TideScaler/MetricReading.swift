/// Why a metric could not be used. Each case says what a user can do about it.
public enum MetricUnavailable: Error, Sendable, Hashable, CustomStringConvertible {
    /// Prometheus could not be reached (refused, DNS, TLS).
    case unreachable(String)
    /// No answer within the query timeout.
    case timeout(Duration)
    /// An HTTP status other than 200.
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
        }
    }

    public var description: String {
        switch self {
        case .unreachable(let why): return "Prometheus is unreachable: \(why); check spec.scaling.prometheus.address and network policies"
        case .timeout(let limit): return "the query did not answer within \(limit); raise spec.scaling.prometheus.timeout or simplify the query"
        case .httpStatus(let code, let body): return "Prometheus answered HTTP \(code)\(body.isEmpty ? "" : ": \(body)"); check the address, path and credentials"
        case .queryError(let type, let error): return "Prometheus rejected the query (\(type)): \(error)"
        case .malformedResponse(let why): return "the reply is not a Prometheus query result (\(why)); is the address a Prometheus server?"
        case .emptyResult: return "the query returned no series; check the metric name and labels, or wrap it in sum(...)"
        case .multipleSeries(let count): return "the query returned \(count) series; aggregate it to one, e.g. sum(...)"
        case .unsupportedResultType(let type): return "the query returned a \(type); use an instant vector or scalar expression"
        case .notFinite(let value): return "the query returned \(value); guard against division by zero, e.g. with clamp_min"
        }
    }
}

/// One reading of the metric: a value, or why there is none.
public enum MetricReading: Sendable, Hashable {
    case value(Double)
    case unavailable(MetricUnavailable)
}
