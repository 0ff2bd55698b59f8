import KubeAPI

/// An error from the API server or from talking to it.
///
/// Every HTTP error carries the server's `Status` (decoded from the body, or made up
/// from the HTTP status when the body is not a Status), so callers can read the
/// reason, message and causes. Descriptions never include credentials.
public enum KubeError: Error, Sendable, CustomStringConvertible {
    /// 404.
    case notFound(Status)
    /// 409 with reason `AlreadyExists` (a create of an existing name).
    case alreadyExists(Status)
    /// 409 otherwise: a stale resourceVersion or an apply conflict.
    case conflict(Status)
    /// 410: the requested resourceVersion is too old (re-list) or a continue token expired.
    case gone(Status)
    /// 403.
    case forbidden(Status)
    /// 401.
    case unauthorized(Status)
    /// 422 (or 400 with reason `Invalid`/`BadRequest`): the object was rejected; see ``causes``.
    case invalid(Status)
    /// 429, with the server's `Retry-After` if it sent one.
    case tooManyRequests(Status, retryAfter: Duration?)
    /// 5xx.
    case server(code: Int, Status)
    /// Any other non-success HTTP status.
    case unexpectedStatus(code: Int, Status)
    /// The request did not complete: connection refused, TLS failure, timeout, ...
    case transport(String)
    /// The server answered 2xx with a body Tide could not decode.
    case undecodable(type: String, reason: String)

    /// Maps an HTTP error response to a typed error.
    public static func from(code: Int, status: Status, retryAfter: Duration?) -> KubeError {
        switch code {
        case 401: return .unauthorized(status)
        case 403: return .forbidden(status)
        case 404: return .notFound(status)
        case 409: return status.reason == "AlreadyExists" ? .alreadyExists(status) : .conflict(status)
        case 410: return .gone(status)
        case 422: return .invalid(status)
        case 400 where status.reason == "Invalid": return .invalid(status)
        case 429: return .tooManyRequests(status, retryAfter: retryAfter)
        case 500...599: return .server(code: code, status)
        default: return .unexpectedStatus(code: code, status)
        }
    }

    /// The server's Status, for HTTP errors.
    public var status: Status? {
        switch self {
        case .notFound(let s), .alreadyExists(let s), .conflict(let s), .gone(let s), .forbidden(let s),
            .unauthorized(let s), .invalid(let s), .tooManyRequests(let s, _), .server(_, let s),
            .unexpectedStatus(_, let s):
            return s
        case .transport, .undecodable:
            return nil
        }
    }

    /// The field-level causes of an ``invalid(_:)`` rejection.
    public var causes: [StatusCause] { status?.details?.causes ?? [] }

    /// Whether retrying the same request later can succeed (429, 5xx, transport).
    public var isRetryable: Bool {
        switch self {
        case .tooManyRequests, .server, .transport: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .transport(let reason): return "transport error: \(reason)"
        case .undecodable(let type, let reason): return "cannot decode \(type): \(reason)"
        case .tooManyRequests(let status, let retryAfter):
            let after = retryAfter.map { " (retry after \($0))" } ?? ""
            return "too many requests: \(status.message ?? "")\(after)"
        default:
            let status = self.status
            var text = "\(status?.code.map(String.init) ?? "?") \(status?.reason ?? "Unknown"): \(status?.message ?? "")"
            let causes = self.causes
            if !causes.isEmpty {
                text += " [" + causes.map { "\($0.field ?? "?"): \($0.message ?? $0.reason ?? "")" }.joined(separator: "; ") + "]"
            }
            return text
        }
    }
}
