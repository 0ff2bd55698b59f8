import KubeAPI

/// An error answer of LocalKube: an HTTP code and the `Status` body a real API server
/// would send.
public struct APIError: Error, Sendable {
    public var code: Int
    public var status: Status
    /// Seconds for a `Retry-After` header.
    public var retryAfter: Int?

    public init(code: Int, reason: String, message: String, details: StatusDetails? = nil, retryAfter: Int? = nil) {
        self.code = code
        self.status = Status(message: message, reason: reason, details: details, code: code)
        self.retryAfter = retryAfter
    }

    static func notFound(_ type: ResourceType, _ name: String) -> APIError {
        APIError(
            code: 404, reason: "NotFound", message: "\(type.descriptor) \"\(name)\" not found",
            details: StatusDetails(name: name, group: type.descriptor.group, kind: type.descriptor.plural))
    }

    static func alreadyExists(_ type: ResourceType, _ name: String) -> APIError {
        APIError(
            code: 409, reason: "AlreadyExists", message: "\(type.descriptor) \"\(name)\" already exists",
            details: StatusDetails(name: name, group: type.descriptor.group, kind: type.descriptor.plural))
    }

    static func conflict(_ type: ResourceType, _ name: String, _ why: String = "the object has been modified; please apply your changes to the latest version and try again") -> APIError {
        APIError(
            code: 409, reason: "Conflict", message: "Operation cannot be fulfilled on \(type.descriptor) \"\(name)\": \(why)",
            details: StatusDetails(name: name, group: type.descriptor.group, kind: type.descriptor.plural))
    }

    static func invalid(_ type: ResourceType, _ name: String, _ causes: [StatusCause]) -> APIError {
        let summary = causes.map { "\($0.field ?? ""): \($0.message ?? "")" }.joined(separator: ", ")
        return APIError(
            code: 422, reason: "Invalid", message: "\(type.descriptor.kind) \"\(name)\" is invalid: \(summary)",
            details: StatusDetails(name: name, group: type.descriptor.group, kind: type.descriptor.kind, causes: causes))
    }

    static func nameMismatch(_ bodyName: String, _ urlName: String) -> APIError {
        badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(urlName))")
    }

    static func badRequest(_ message: String) -> APIError {
        APIError(code: 400, reason: "BadRequest", message: message)
    }

    static func gone(_ message: String) -> APIError {
        APIError(code: 410, reason: "Expired", message: message)
    }

    static func methodNotAllowed(_ message: String) -> APIError {
        APIError(code: 405, reason: "MethodNotAllowed", message: message)
    }
}
