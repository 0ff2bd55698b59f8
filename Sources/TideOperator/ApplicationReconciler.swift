#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import KubeAPIExtensions
import KubeClient
import KubeRuntime
import KubeSupport
import Logging
import TideAPI
import Synchronization

/// Reconciles one Application: validates it, applies the children it should have
/// (only where the live object differs), removes children it no longer needs, and
/// reports status and events.
///
/// Rules it keeps (docs/architecture.md, "Rules"): level-triggered, reading from caches; writes only when
/// desired ⊄ live, so a steady-state resync makes zero writes; server-side apply with
/// its field manager; never touches an object it does not control.
public final class ApplicationReconciler: Reconciler {
    let client: KubeClient
    let applications: ObjectCache<Application>
    let deployments: ObjectCache<Deployment>
    let autoscalers: ObjectCache<HorizontalPodAutoscaler>?
    /// Every Autoscaler; an Application's own is among them.
    let tideAutoscalers: ObjectCache<Autoscaler>?
    let children: [ChildKind]
    let settings: OperatorSettings
    let serviceMonitors: ServiceMonitorDetector
    let events: any EventRecording
    /// What the last full reconcile of each Application verified (skips a no-op resync's comparisons).
    let memo = ConvergenceMemo()
    /// Status writes the Application cache has not seen yet.
    let statusWrites = StatusWrites()
    let logger: Logger
    /// Writes the children: compare, create, apply, replace, prune.
    let writer: ChildWriter
    /// Re-check period for Applications blocked by a foreign object.
    public let conflictRecheck: Duration = .seconds(60)

    public init(
        client: KubeClient, applications: ObjectCache<Application>, deployments: ObjectCache<Deployment>,
        autoscalers: ObjectCache<HorizontalPodAutoscaler>? = nil, tideAutoscalers: ObjectCache<Autoscaler>? = nil, children: [ChildKind],
        settings: OperatorSettings,
        serviceMonitors: ServiceMonitorDetector, events: any EventRecording, logger: Logger = Logger(label: "tide.reconciler")
    ) {
        self.client = client
        self.applications = applications
        self.deployments = deployments
        self.autoscalers = autoscalers
        self.tideAutoscalers = tideAutoscalers
        self.children = children
        self.settings = settings
        self.serviceMonitors = serviceMonitors
        self.events = events
        self.logger = logger
        self.writer = ChildWriter(client: client, children: children, settings: settings)
    }

    public func reconcile(_ key: ObjectKey) async throws -> ReconcileResult {
        guard let application = applications.get(key) else {
            // Deleted: owner references let the garbage collector remove the children.
            memo.forget(key)
            statusWrites.forget(key)
            return .done
        }
        if application.metadata.deletionTimestamp != nil { return .done }
        var defaulted = application
        defaulted.spec = application.spec.withDefaults
        var observation = Observation()
        observation.invalid = defaulted.validate()
        if !observation.invalid.isEmpty {
            let message = observation.invalid.map(\.description).joined(separator: "; ")
            logger.info("invalid spec", metadata: ["application": "\(key)", "problems": "\(message)"])
            if !Self.reports(application, "Ready", reason: "InvalidSpec", message: message) {
                await events.record(application, type: "Warning", reason: "InvalidSpec", action: "Validate", note: message)
            }
            return try await writeStatus(application, observation: observation) ? .done : .requeue(after: Self.staleRetry)
        }

        // A cluster-wide fact: the detector logs it once; each Application shows it in
        // its Degraded condition, without an Event apiece.
        observation.serviceMonitorsAvailable = await serviceMonitors.isAvailable()
        let namespace = key.namespace ?? "default"
        // Read before anything is compared, so it never claims more than was verified.
        let fingerprint = ConvergenceMemo.fingerprint(of: application, serviceMonitors: observation.serviceMonitorsAvailable, kinds: children)
        var convergence = Convergence()
        if !memo.isConverged(key, fingerprint) {
            memo.forget(key)
            if try await takeReplicasBack(application, namespace: namespace) { return .requeue(after: Self.staleRetry) }
            let desired = try Children.desired(for: defaulted, settings: settings, serviceMonitors: observation.serviceMonitorsAvailable)
            convergence = try await converge(desired, of: application, namespace: namespace, observation: &observation)
            let removed = try await removeStale(of: application, keeping: desired, namespace: namespace)
            if removed == 0, observation.conflicts.isEmpty, observation.failures.isEmpty, convergence.outcomes.allSatisfy({ $0 == .upToDate }) {
                memo.recordConverged(key, fingerprint)
            }
        }

        // The Deployment as just written, when the cache has not seen it yet: the first
        // status is then already the right one, not a second write later.
        observation.deployment = deployments.get(ObjectKey(namespace: namespace, name: application.name))
            ?? convergence.writtenDeployment.flatMap { try? JSONValue(encoding: $0).decode(as: Deployment.self) }
        if defaulted.spec.scaling?.mode == .hpa {
            observation.autoscaler = autoscalers?.get(ObjectKey(namespace: namespace, name: Children.scalerName(for: application)))
        }
        if application.scalesThroughAutoscaler {
            observation.scaler = try ownAutoscaler(of: application, written: convergence.writtenAutoscaler)
            if let scaler = observation.scaler, !(try await carryMemory(of: application, to: scaler)) {
                return .requeue(after: Self.staleRetry)
            }
        }
        let wrote = try await writeStatus(application, observation: observation)
        // One Event for everything this reconcile changed, after the status.
        if !convergence.changes.isEmpty {
            let reason = convergence.outcomes.contains { $0 == .updated || $0 == .replaced } ? "Updated" : "Created"
            await events.record(application, type: "Normal", reason: reason, action: "Apply", note: convergence.changes.joined(separator: ", "))
        }
        guard wrote else { return .requeue(after: Self.staleRetry) }
        if !observation.conflicts.isEmpty { return .requeue(after: conflictRecheck) }
        if !observation.failures.isEmpty { throw ReconcileFailure(messages: observation.failures) }
        return .done
    }

    /// What converging an Application's children did.
    struct Convergence {
        /// One per desired child, in order.
        var outcomes: [ChildWriter.ChildOutcome] = []
        /// `created Deployment hello`, … for the Event.
        var changes: [String] = []
        /// The Deployment as the server answered a write of it.
        var writtenDeployment: DynamicObject?
        /// The Application's Autoscaler as the server answered a write of it.
        var writtenAutoscaler: DynamicObject?
    }

    /// The Autoscaler the Application owns (its scaling path), as the cache has it or
    /// as just written; `nil` when there is none, or one of its name it does not control.
    func ownAutoscaler(of application: Application, written: DynamicObject?) throws -> Autoscaler? {
        let cached = tideAutoscalers?.get(ObjectKey(namespace: application.namespace ?? "default", name: application.name))
        let autoscaler = try cached ?? written.map { try JSONValue(encoding: $0).decode(as: Autoscaler.self) }
        guard let autoscaler, autoscaler.metadata.controllerReference?.uid == application.metadata.uid else { return nil }
        return autoscaler
    }

    /// An Application an earlier version scaled in mode HPA: its HorizontalPodAutoscaler
    /// (named as the Application and controlled by it) scaled the Deployment directly,
    /// so the Application's `spec.replicas` does not hold the live count. Before the
    /// Deployment is applied with the Application's replicas (now the
    /// HorizontalPodAutoscaler of its Autoscaler scales the Application's `/scale`), the
    /// Application's `/scale` takes the live count, so nothing moves.
    ///
    /// - Returns: whether it wrote (the reconcile then runs again on the new version).
    func takeReplicasBack(_ application: Application, namespace: String) async throws -> Bool {
        guard application.spec.scaling?.mode == .hpa,
            let old = autoscalers?.get(ObjectKey(namespace: namespace, name: application.name)),
            old.metadata.controllerReference?.uid == application.metadata.uid,
            let live = deployments.get(ObjectKey(namespace: namespace, name: application.name))?.spec?.replicas,
            live != application.spec.replicas
        else { return false }
        let applications = client.namespaced(Application.self, in: namespace)
        var scale = try await applications.getScale(application.name)
        scale.spec.replicas = live
        do {
            _ = try await applications.updateScale(application.name, scale: scale)
        } catch KubeError.conflict {
            return true
        }
        logger.info(
            "the Application takes its Deployment's replicas back from the HorizontalPodAutoscaler an earlier version made",
            metadata: ["application": "\(namespace)/\(application.name)", "replicas": "\(live)"])
        return true
    }

    /// An Application the previous version scaled keeps its scaler's memory (its
    /// recommendations, last scale, pending scale-up, the strategy's keys) in
    /// `status.scaling`: its new Autoscaler starts from that memory, so the first
    /// decision is the one the old scaler would have made (no scale-down the
    /// stabilization window would have held). Written once, when the Autoscaler has
    /// none; the Autoscaler's resourceVersion is the precondition.
    ///
    /// - Returns: `false` when the cached Autoscaler was stale (try again).
    func carryMemory(of application: Application, to scaler: Autoscaler) async throws -> Bool {
        guard scaler.status?.scaling == nil, let memory = application.status?.scaling else { return true }
        var patch: JSONValue = ["status": ["scaling": try JSONValue(encoding: memory)]]
        if let version = scaler.metadata.resourceVersion { patch["metadata"] = ["resourceVersion": .string(version)] }
        do {
            _ = try await client.namespaced(Autoscaler.self, in: application.namespace ?? "default").patchStatus(application.name, patch: patch)
            logger.info(
                "carried the scaler's memory to the Application's Autoscaler",
                metadata: ["application": "\(application.namespace ?? "")/\(application.name)"])
            return true
        } catch KubeError.conflict {
            return false
        }
    }

    /// Converges every desired child concurrently (children are independent) and
    /// notes conflicts and failures in `observation`.
    func converge(
        _ desired: [DesiredChild], of application: Application, namespace: String, observation: inout Observation
    ) async throws -> Convergence {
        let uid = application.metadata.uid ?? ""
        let applied = AppliedObjects()
        var outcomes = [ChildWriter.ChildOutcome](repeating: .upToDate, count: desired.count)
        // The server checks a RoleBinding against its Role (refusing one whose Role does
        // not exist yet): bindings go in a second wave, after everything else.
        let isBinding = { (index: Int) in desired[index].resource == RoleBinding.resource }
        for wave in [desired.indices.filter { !isBinding($0) }, desired.indices.filter(isBinding)] where !wave.isEmpty {
            let results = try await withThrowingTaskGroup(of: (Int, ChildWriter.ChildOutcome).self) { group in
                for index in wave {
                    let child = desired[index]
                    group.addTask { (index, try await self.writer.converge(child, namespace: namespace, ownerUID: uid, applied: applied)) }
                }
                var results: [(Int, ChildWriter.ChildOutcome)] = []
                for try await result in group { results.append(result) }
                return results
            }
            for (index, outcome) in results { outcomes[index] = outcome }
        }
        var changes: [String] = []
        for (child, outcome) in zip(desired, outcomes) {
            switch outcome {
            case .upToDate: break
            case .created: changes.append("created \(child.description)")
            case .updated: changes.append("updated \(child.description)")
            case .replaced: changes.append("replaced \(child.description) (a field that cannot change in place differed)")
            case .foreign:
                observation.conflicts.append(child.description)
                if !Self.reports(application, "Degraded", reason: "ResourceConflict", containing: child.description) {
                    await events.record(
                        application, type: "Warning", reason: "ResourceConflict", action: "Reconcile",
                        note: "\(child.description) exists and is not controlled by this Application; it was left alone")
                }
            case .rejected(let message):
                observation.failures.append("\(child.description): \(message)")
            }
        }
        return Convergence(
            outcomes: outcomes, changes: changes, writtenDeployment: applied.object(Deployment.resource, application.name),
            writtenAutoscaler: applied.object(Autoscaler.resource, application.name))
    }

    /// Whether the Application's status already reports this condition, so the
    /// matching Warning event was recorded when it first appeared and a resync
    /// records (writes) nothing new.
    static func reports(
        _ application: Application, _ type: String, reason: String, message: String? = nil, containing fragment: String? = nil
    ) -> Bool {
        guard let condition = application.status?.conditions?[type: type], condition.reason == reason,
            condition.observedGeneration == application.metadata.generation
        else { return false }
        if let message, condition.message != message { return false }
        if let fragment, !condition.message.contains(fragment) { return false }
        return true
    }

    /// Child apply failures that are not retryable at the transport level (e.g. a
    /// rejected object); retried with backoff so a fixed spec or webhook recovers.
    struct ReconcileFailure: Error, CustomStringConvertible {
        var messages: [String]
        var description: String { messages.joined(separator: "; ") }
    }

    /// Deletes children this Application controls that are no longer desired (e.g. the
    /// CronJob after switching to Continuous mode, the scaler after removing scaling).
    ///
    /// - Returns: how many children it found stale.
    @discardableResult
    func removeStale(of application: Application, keeping desired: [DesiredChild], namespace: String) async throws -> Int {
        let deleted = try await writer.removeStale(ownerUID: application.metadata.uid ?? "", keeping: desired, namespace: namespace)
        for (resource, name) in deleted.removed {
            await events.record(application, type: "Normal", reason: "Deleted", action: "Delete", note: "deleted \(resource.kind) \(name), no longer needed")
        }
        return deleted.found
    }

    /// How soon to retry after the cached Application turned out to be stale.
    static let staleRetry: Duration = .milliseconds(200)

    /// Writes status only when it changed, with the Application's resourceVersion as
    /// precondition so a concurrent scaler write is never overwritten.
    ///
    /// - Returns: `false` when the cached Application was stale (409); the newer
    ///   version is on its way through the watch and the reconcile runs again.
    func writeStatus(_ application: Application, observation: Observation) async throws -> Bool {
        let key = ObjectKey(application)
        // The cache has not seen the last write yet; its watch event runs this again.
        if statusWrites.isPending(key, cachedVersion: application.metadata.resourceVersion) { return true }
        let next = StatusBuilder.status(for: application, observation: observation)
        guard next != application.status else { return true }
        // Computed from the cached status, which the resourceVersion precondition
        // guarantees is the stored one: fields the new status lacks are removed.
        var patch: JSONValue = [
            "status": JSONValue.mergePatch(from: try JSONValue(encoding: application.status ?? ApplicationStatus()), to: try JSONValue(encoding: next))
        ]
        if let rv = application.metadata.resourceVersion { patch["metadata"] = ["resourceVersion": .string(rv)] }
        let applications = client.namespaced(Application.self, in: application.namespace ?? "default")
        do {
            _ = try await applications.patchStatus(application.name, patch: patch)
            statusWrites.wrote(key, basedOn: application.metadata.resourceVersion)
            return true
        } catch KubeError.conflict {
            logger.debug("status write raced a newer version; retrying", metadata: ["application": "\(application.namespace ?? "")/\(application.name)"])
            return false
        }
    }

    /// Tells the user about an Application that cannot be decoded: a log line (the
    /// informer's) and a Warning event on it. It is skipped, the others go on.
    public func reportUndecodable(_ object: UndecodableObject) async {
        guard let name = object.name else { return }
        let regarding = ObjectReference(
            apiVersion: Application.resource.apiVersion, kind: Application.resource.kind, name: name, namespace: object.namespace,
            uid: object.uid, resourceVersion: object.resourceVersion)
        await events.record(
            regarding: regarding, type: "Warning", reason: "Undecodable", action: "Reconcile",
            note: "Tide cannot read this Application (\(object.reason)); it is not reconciled until it is fixed")
    }
}

/// The objects one reconcile wrote, as the server answered (collected from
/// concurrent child writes).
final class AppliedObjects: Sendable {
    private let objects = Mutex<[String: DynamicObject]>([:])

    func record(_ resource: ResourceDescriptor, _ name: String, _ object: DynamicObject) {
        objects.withLock { $0["\(resource.plural)/\(name)"] = object }
    }

    func object(_ resource: ResourceDescriptor, _ name: String) -> DynamicObject? {
        objects.withLock { $0["\(resource.plural)/\(name)"] }
    }
}

