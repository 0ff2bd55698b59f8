import KubeAPI
import KubeClient

/// How a scaler writes its object's status: onto the freshest stored status, as a
/// merge patch from it to the changed one, with its resourceVersion as precondition,
/// retrying on conflict. Only the scaler writes the fields it changes, so merging them
/// into a newer status is safe.
///
/// Guarantee: afterwards the stored status equals the changed one field for field
/// (whatever the change dropped is sent as `null` and removed).
enum StatusPatch {
    static func write<K: HasStatusSubresource, S: Codable>(
        _ objects: ResourceClient<K, SingleScope>, _ name: String, status: KeyPath<K, S?>, empty: @autoclosure () -> S,
        change: (inout S, K) -> Void
    ) async throws {
        for _ in 0..<5 {
            let stored = try await objects.get(name)
            let before = stored[keyPath: status] ?? empty()
            var next = before
            change(&next, stored)
            let patch: JSONValue = [
                "metadata": ["resourceVersion": .string(stored.metadata.resourceVersion ?? "")],
                "status": JSONValue.mergePatch(from: try JSONValue(encoding: before), to: try JSONValue(encoding: next)),
            ]
            do {
                _ = try await objects.patchStatus(name, patch: patch)
                return
            } catch KubeError.conflict {
                continue
            }
        }
        throw KubeError.conflict(Status(message: "the status of \(K.resource.kind) \(name) kept changing", reason: "Conflict", code: 409))
    }
}
