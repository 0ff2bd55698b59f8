#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import KubeAPIExtensions
import KubeClient
import KubeProbes
import KubeRuntime
import KubeSupport
import Logging
import NIOHTTP1
import Synchronization
import TideAPI

/// Reconciles one Autoscaler: finds its target's resource through discovery, checks the
/// operator may grant `/scale` on it (a SelfSubjectAccessReview per verb), and applies
/// the scaler children ``AutoscalerChildren`` builds, pruning those no longer wanted.
///
/// What it cannot do is a condition, never a crash: `Ready=False` with reason
/// `InvalidSpec`, `TargetNotFound` (a kind the API server does not serve),
/// `TargetNotScalable` (no `/scale`) or `TargetNotPermitted` (naming the rule the
/// operator's ClusterRole lacks), and no scaler runs. Once the scaler runs, `Ready` is
/// the scaler's to write.
public final class AutoscalerReconciler: Reconciler {
    let client: KubeClient
    let autoscalers: ObjectCache<Autoscaler>
    let writer: ChildWriter
    let settings: OperatorSettings
    let events: any EventRecording
    let resources = DiscoveredResources()
    /// Targets the operator was found allowed to grant `/scale` on, kept a few minutes so
    /// a resync asks no SelfSubjectAccessReviews; a refusal is asked again each time.
    let permitted = Mutex(ExpiringCache<String, Bool>(ttl: .seconds(300), capacity: 4_096))
    let logger: Logger
    /// How soon a target problem is looked at again (a CRD installed, a rule added).
    public let problemRecheck: Duration = .seconds(60)

    init(
        client: KubeClient, autoscalers: ObjectCache<Autoscaler>, writer: ChildWriter, settings: OperatorSettings, events: any EventRecording,
        logger: Logger
    ) {
        self.client = client
        self.autoscalers = autoscalers
        self.writer = writer
        self.settings = settings
        self.events = events
        self.logger = logger
    }

    /// Reasons this reconciler writes `Ready` with; any other is the scaler's.
    static let ownReasons: Set<String> = ["InvalidSpec", "TargetNotFound", "TargetNotScalable", "TargetNotPermitted", "ScalerPending"]

    public func reconcile(_ key: ObjectKey) async throws -> ReconcileResult {
        // Deleted: owner references let the garbage collector remove the children.
        guard let autoscaler = autoscalers.get(key), autoscaler.metadata.deletionTimestamp == nil else { return .done }
        let namespace = key.namespace ?? "default"
        let uid = autoscaler.metadata.uid ?? ""
        var spec = autoscaler.spec
        spec.scaling = autoscaler.spec.defaultedScaling
        let issues = spec.validate()
        if !issues.isEmpty {
            return try await stop(autoscaler, reason: "InvalidSpec", message: issues.map(\.description).joined(separator: "; "))
        }
        let reference = spec.scaleTargetRef
        let target: AutoscalerChildren.Target
        switch try await resources.resolve(reference, client: client) {
        case .notServed(let why):
            return try await stop(autoscaler, reason: "TargetNotFound", message: why)
        case .notScalable(_, let why):
            return try await stop(autoscaler, reason: "TargetNotScalable", message: why)
        case .scalable(let resource):
            target = .init(group: resource.group, plural: resource.plural, name: reference.name)
        }
        // In mode HPA the HorizontalPodAutoscaler scales: there is no scaler to grant /scale to.
        let missing = spec.scaling.mode == .hpa ? [] : try await missingVerbs(on: target, namespace: namespace)
        if !missing.isEmpty {
            let rule = "{apiGroups: [\"\(target.group)\"], resources: [\(target.plural)/scale], verbs: [\(AutoscalerChildren.scaleVerbs.joined(separator: ", "))]}"
            return try await stop(
                autoscaler, reason: "TargetNotPermitted",
                message: "the operator may not \(missing.joined(separator: ", ")) \(target.plural)/scale in API group \"\(target.group)\", so it cannot grant that to the scaler: add \(rule) (and get on \(target.plural)) to ClusterRole tide-operator (config/rbac/operator_role.yaml)")
        }

        let desired = try AutoscalerChildren.desired(for: autoscaler, target: target, settings: settings)
        let applied = AppliedObjects()
        var changes: [String] = []
        var failures: [String] = []
        var handedOver = false
        // A RoleBinding after the Role it names.
        for wave in [desired.filter { $0.resource != RoleBinding.resource }, desired.filter { $0.resource == RoleBinding.resource }] {
            for child in wave {
                switch try await writer.converge(child, namespace: namespace, ownerUID: uid, applied: applied) {
                case .upToDate: break
                case .created: changes.append("created \(child.description)")
                case .updated: changes.append("updated \(child.description)")
                case .replaced: changes.append("replaced \(child.description)")
                case .foreign where isHandedOver(child, namespace: namespace, by: autoscaler):
                    // The scaler the previous version ran for the owning Application: its
                    // reconcile removes it; this one's takes its place a moment later.
                    handedOver = true
                case .foreign: failures.append("\(child.description) exists and is not controlled by this Autoscaler; it was left alone")
                case .rejected(let message): failures.append("\(child.description): \(message)")
                }
            }
        }
        let removed = try await writer.removeStale(ownerUID: uid, keeping: desired, namespace: namespace).removed
        changes += removed.map { "deleted \($0.0.kind) \($0.1), no longer needed" }
        if !changes.isEmpty {
            await events.record(autoscaler, type: "Normal", reason: "Updated", action: "Apply", note: changes.joined(separator: ", "))
        }
        if let ready = autoscaler.status?.conditions?[type: "Ready"], Self.ownReasons.contains(ready.reason), ready.reason != "ScalerPending" {
            // The problem is gone: the scaler's first decision will say how it goes.
            _ = try await writeReady(autoscaler, status: "Unknown", reason: "ScalerPending", message: "the scaler is in place; its first decision will report here")
        }
        if !failures.isEmpty {
            await events.record(autoscaler, type: "Warning", reason: "ScalerNotApplied", action: "Apply", note: failures.joined(separator: "; "))
            return .requeue(after: problemRecheck)
        }
        return handedOver ? .requeue(after: handOverRecheck) : .done
    }

    /// How soon to look again while the owning Application's old scaler children are
    /// being removed.
    let handOverRecheck: Duration = .seconds(1)

    /// Whether `child`'s live object is controlled by the Application that controls this
    /// Autoscaler: a scaler child the previous version made for the Application itself,
    /// before the Application's scaling went through its Autoscaler.
    func isHandedOver(_ child: DesiredChild, namespace: String, by autoscaler: Autoscaler) -> Bool {
        guard autoscaler.owningApplication != nil, let owner = autoscaler.metadata.controllerReference?.uid,
            let kind = writer.children.first(where: { $0.resource == child.resource }),
            let live = try? kind.live(ObjectKey(namespace: namespace, name: child.name))
        else { return false }
        return live.meta.controllerReference?.uid == owner
    }

    /// Reports a problem, removes any scaler children (no scaler runs on a problem), and
    /// looks again later.
    func stop(_ autoscaler: Autoscaler, reason: String, message: String) async throws -> ReconcileResult {
        let namespace = autoscaler.metadata.namespace ?? "default"
        _ = try await writer.removeStale(ownerUID: autoscaler.metadata.uid ?? "", keeping: [], namespace: namespace)
        let current = autoscaler.status?.conditions?[type: "Ready"]
        if current?.reason != reason || current?.message != message {
            logger.info("autoscaler not scaled", metadata: ["autoscaler": "\(namespace)/\(autoscaler.metadata.name ?? "")", "reason": "\(reason)"])
            await events.record(autoscaler, type: "Warning", reason: reason, action: "Reconcile", note: message)
            guard try await writeReady(autoscaler, status: "False", reason: reason, message: message) else { return .requeue(after: .milliseconds(200)) }
        }
        return .requeue(after: problemRecheck)
    }

    /// Sets `Ready` with a merge patch from the cached status, the resourceVersion as
    /// precondition; `false` when the cache was stale.
    func writeReady(_ autoscaler: Autoscaler, status: String, reason: String, message: String) async throws -> Bool {
        var conditions = autoscaler.status?.conditions ?? []
        conditions.set(Condition(type: "Ready", status: status, observedGeneration: autoscaler.metadata.generation, reason: reason, message: message))
        var patch: JSONValue = ["status": ["conditions": try JSONValue(encoding: conditions)]]
        if let version = autoscaler.metadata.resourceVersion { patch["metadata"] = ["resourceVersion": .string(version)] }
        do {
            _ = try await client.namespaced(Autoscaler.self, in: autoscaler.metadata.namespace ?? "default").patchStatus(autoscaler.metadata.name ?? "", patch: patch)
            return true
        } catch KubeError.conflict {
            return false
        }
    }

    /// The `/scale` verbs the operator may not use on `target` (it can grant the scaler
    /// only what it holds), asked with SelfSubjectAccessReviews.
    func missingVerbs(on target: AutoscalerChildren.Target, namespace: String) async throws -> [String] {
        let key = "\(namespace)/\(target.group)/\(target.plural)/\(target.name)"
        if permitted.withLock({ $0.value(for: key) }) == true { return [] }
        var missing: [String] = []
        for verb in AutoscalerChildren.scaleVerbs {
            let body: JSONValue = [
                "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": ["resourceAttributes": [
                    "namespace": .string(namespace), "verb": .string(verb), "group": .string(target.group), "resource": .string(target.plural),
                    "subresource": "scale", "name": .string(target.name),
                ]],
            ]
            let answer = try await client.request(
                .POST, path: "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body: Array(try KubeJSON.encoder.encode(body)),
                contentType: "application/json", as: JSONValue.self)
            if answer.value(atPath: ["status", "allowed"])?.boolValue != true { missing.append(verb) }
        }
        if missing.isEmpty { permitted.withLock { $0.keep(true, for: key) } }
        return missing
    }
}

/// Which resource serves a kind (``ScalableResource``), remembered for a few minutes so
/// a resync does not ask discovery again for every Autoscaler.
final class DiscoveredResources: Sendable {
    private let known = Mutex<[String: (ScalableResource, ContinuousClock.Instant)]>([:])
    let ttl: Duration = .seconds(300)

    func resolve(_ reference: ScaleTargetReference, client: KubeClient) async throws -> ScalableResource {
        let key = "\(reference.apiVersion)/\(reference.kind)"
        if let (resolution, until) = known.withLock({ $0[key] }), until > .now { return resolution }
        let (group, version) = reference.groupVersion
        let resolution = try await ScalableResource.discover(group: group, version: version, kind: reference.kind, client: client)
        known.withLock { $0[key] = (resolution, .now + ttl) }
        return resolution
    }
}
