import KubeAPI
import NIOHTTP1

/// The resource that serves a kind, found through discovery, and whether it has the
/// `/scale` subresource a replica count is set through. Both the scaler (resolving its
/// target) and the operator (granting the scaler that target's `/scale`) ask this.
public enum ScalableResource: Sendable, Hashable {
    /// Served, with `/scale`.
    case scalable(ResourceDescriptor)
    /// Served, without `/scale`; the reason says so.
    case notScalable(ResourceDescriptor, reason: String)
    /// The group/version is not served, or has no such kind.
    case notServed(reason: String)

    /// Asks discovery (`/api/v1` or `/apis/GROUP/VERSION`) for `kind`.
    public static func discover(group: String, version: String, kind: String, client: KubeClient) async throws -> ScalableResource {
        let apiVersion = group.isEmpty ? version : "\(group)/\(version)"
        let list: JSONValue
        do {
            list = try await client.request(.GET, path: group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)", as: JSONValue.self)
        } catch KubeError.notFound {
            return .notServed(reason: "the API server does not serve \(apiVersion): is the kind's CRD installed?")
        }
        let resources = list["resources"]?.arrayValue ?? []
        guard let entry = resources.first(where: { $0["kind"]?.stringValue == kind && !($0["name"]?.stringValue ?? "/").contains("/") }),
            let plural = entry["name"]?.stringValue
        else {
            return .notServed(reason: "\(apiVersion) has no kind \(kind)")
        }
        let resource = ResourceDescriptor(group: group, version: version, plural: plural, kind: kind, namespaced: entry["namespaced"]?.boolValue ?? true)
        guard resources.contains(where: { $0["name"]?.stringValue == "\(plural)/scale" }) else {
            return .notScalable(
                resource, reason: "\(kind) (\(plural).\(group.isEmpty ? "core" : group)) has no /scale subresource: it cannot be scaled by replicas")
        }
        return .scalable(resource)
    }
}
