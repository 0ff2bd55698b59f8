import KubeAPI
import NIOHTTP1
import KubeClient
import TideAPI

/// The workload an Autoscaler scales, found through discovery: its resource, its
/// `/scale`, and what else already scales it.
public struct ScaleTarget: Sendable {
    public let reference: ScaleTargetReference
    public let resource: ResourceDescriptor
    /// The target's `/scale` as read when it was resolved.
    public let scale: Scale
    let objects: ResourceClient<DynamicObject, SingleScope>

    /// Why a target cannot be scaled, as the `Ready` condition's reason says it.
    public enum Problem: Error, Hashable, CustomStringConvertible {
        /// The kind is not served, or the object does not exist.
        case notFound(String)
        /// The kind has no `/scale` subresource.
        case notScalable(String)
        /// Another autoscaler scales the same target.
        case conflict(String)
        /// The API server refuses the scaler the target's `/scale`.
        case notPermitted(String)

        public var reason: String {
            switch self {
            case .notFound: return "TargetNotFound"
            case .notScalable: return "TargetNotScalable"
            case .conflict: return "TargetConflict"
            case .notPermitted: return "TargetNotPermitted"
            }
        }

        public var description: String {
            switch self {
            case .notFound(let message), .notScalable(let message), .conflict(let message), .notPermitted(let message): return message
            }
        }
    }

    /// Finds `reference` in `namespace`: its kind through discovery (it must have a
    /// `/scale` subresource), then the object itself.
    public static func resolve(_ reference: ScaleTargetReference, namespace: String, client: KubeClient) async throws -> Result<ScaleTarget, Problem> {
        let (group, version) = reference.groupVersion
        let resource: ResourceDescriptor
        switch try await ScalableResource.discover(group: group, version: version, kind: reference.kind, client: client) {
        case .notServed(let reason): return .failure(.notFound(reason))
        case .notScalable(_, let reason): return .failure(.notScalable(reason))
        case .scalable(let found): resource = found
        }
        let objects = client.resource(DynamicObject.self, at: resource, namespace: namespace)
        // Through /scale, which the scaler's Role allows, not the object itself.
        do {
            let scale = try await objects.getScale(reference.name)
            return .success(ScaleTarget(reference: reference, resource: resource, scale: scale, objects: objects))
        } catch KubeError.notFound {
            return .failure(.notFound("\(reference.description) does not exist in namespace \(namespace)"))
        } catch KubeError.forbidden {
            return .failure(notPermitted("get", resource: resource, name: reference.name))
        }
    }

    /// Replaces the target's `/scale` (its resourceVersion a precondition); a refusal
    /// is ``Problem/notPermitted(_:)``, naming the rule the scaler's Role lacks.
    public func update(_ scale: Scale) async throws {
        do {
            _ = try await objects.updateScale(reference.name, scale: scale)
        } catch KubeError.forbidden {
            throw Self.notPermitted("update", resource: resource, name: reference.name)
        }
    }

    static func notPermitted(_ verb: String, resource: ResourceDescriptor, name: String) -> Problem {
        let group = resource.group.isEmpty ? "\"\"" : resource.group
        return .notPermitted(
            "the scaler may not \(verb) \(resource.plural)/scale of \(name): its Role needs "
                + "{apiGroups: [\(group)], resources: [\(resource.plural)/scale], resourceNames: [\(name)], verbs: [get, update, patch]}")
    }

    /// What the target says of itself beyond `/scale`, when the scaler may read it.
    public struct Readiness: Sendable {
        /// `status.readyReplicas`.
        public var ready: Int32?
        /// An Application's `status.scaleUpReady`: when its Deployment reached the
        /// pending scale-up, as the operator saw it.
        public var scaleUpReady: ScalingStatus.Recommendation?
        /// The replicas it runs while `/scale` says 0 because `spec.replicas` is unset:
        /// an Application's `spec.replicas` default (``ApplicationSpec/effectiveReplicas``).
        public var unsetReplicas: Int32?
    }

    /// The target's ready replicas (`status.readyReplicas`) and, for an Application, its
    /// measured pod start and default replicas; empty when the scaler may not read the
    /// object (its Role need only allow `/scale`; the caller then takes `/scale`'s
    /// `status.replicas`).
    public func readiness() async throws -> Readiness {
        do {
            guard let object = try await objects.getIfPresent(reference.name) else { return Readiness() }
            var readiness = Readiness(ready: object.fields["status"]?["readyReplicas"]?.intValue.map { Int32(clamping: $0) })
            if resource == Application.resource, let application = try? JSONValue(encoding: object).decode(as: Application.self) {
                readiness.scaleUpReady = application.status?.scaleUpReady
                if application.spec.replicas == nil { readiness.unsetReplicas = application.spec.withDefaults.effectiveReplicas }
            }
            return readiness
        } catch KubeError.forbidden {
            return Readiness()
        }
    }

    /// Another autoscaler that scales this target in `namespace`: a
    /// HorizontalPodAutoscaler, a KEDA ScaledObject (when KEDA is installed) or another
    /// Autoscaler that is not only observing. `nil` when there is none, or for a kind
    /// the caller may not list (a scaler whose Role allows only its own objects: the
    /// check is then the operator's).
    public func rival(in namespace: String, excluding name: String, client: KubeClient) async throws -> String? {
        func matches(_ reference: JSONValue?, defaultKind: String? = nil) -> Bool {
            guard let reference, reference["name"]?.stringValue == self.reference.name else { return false }
            return (reference["kind"]?.stringValue ?? defaultKind) == self.reference.kind
        }
        func listed<K: KubernetesObject>(_ list: () async throws -> [K]) async throws -> [K] {
            do { return try await list() } catch KubeError.forbidden { return [] }
        }
        let autoscalers = try await listed { try await client.namespaced(Autoscaler.self, in: namespace).list().items }
        if let other = autoscalers.first(where: { $0.name != name && !$0.spec.isObserving && $0.spec.scaleTargetRef.name == reference.name
            && $0.spec.scaleTargetRef.kind == reference.kind })
        {
            return "Autoscaler \(other.name)"
        }
        let kinds: [(ResourceDescriptor, String, String?)] = [
            (ResourceDescriptor(group: "autoscaling", version: "v2", plural: "horizontalpodautoscalers", kind: "HorizontalPodAutoscaler", namespaced: true),
             "HorizontalPodAutoscaler", nil),
            (ResourceDescriptor(group: "keda.sh", version: "v1alpha1", plural: "scaledobjects", kind: "ScaledObject", namespaced: true), "ScaledObject",
             "Deployment"),
        ]
        for (resource, kind, defaultKind) in kinds {
            guard try await client.serves(group: resource.group, version: resource.version, plural: resource.plural) else { continue }
            let items = try await listed { try await client.resource(DynamicObject.self, at: resource, namespace: namespace).list().items }
            if let other = items.first(where: { matches($0.fields["spec"]?["scaleTargetRef"], defaultKind: defaultKind) }) {
                return "\(kind) \(other.name)"
            }
        }
        return nil
    }
}
