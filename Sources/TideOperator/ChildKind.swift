import KubeAPI
import KubeAPIExtensions
import KubeClient
import KubeRuntime
import Logging
import ServiceLifecycle
import TideAPI

/// One kind of object the operator creates for Applications, with everything that
/// must follow it: the informer that watches it, the cache the reconciler reads the
/// live object from, the owner mapping that requeues the Application when it
/// changes, and the listing that finds stale ones to remove.
///
/// ``ChildKind/all(client:namespace:serviceMonitors:logger:)`` is the one list of child
/// kinds. Informer setup, the caches, the live-state check and stale removal all
/// iterate it, and a test checks the operator's RBAC grants each of them, so a new
/// kind cannot be half-wired.
public struct ChildKind: Sendable {
    public let resource: ResourceDescriptor
    /// Runs the informer (for a conditional kind, only while the resource is served).
    let service: any ServiceLifecycle.Service
    /// The live object from the cache, or `nil` when the cache does not have it.
    let live: @Sendable (ObjectKey) throws -> (meta: ObjectMeta, json: JSONValue)?
    /// Name and resourceVersion of each cached object the owner uid controls.
    let versions: @Sendable (_ ownerUID: String) -> [(name: String, resourceVersion: String?)]
    /// Subscribes a controller to changes, mapped to the owner of the given API version
    /// and kind (an Application, or an Autoscaler for the scaler's children).
    let registerOwner: @Sendable (Controller, _ apiVersion: String, _ kind: String) -> Void

    /// Subscribes the Application controller to changes, mapped to the owning Application.
    func register(_ controller: Controller) {
        registerOwner(controller, Application.resource.apiVersion, Application.resource.kind)
    }

    /// The child types, in the order they are applied: the one list everything
    /// else follows.
    static let types: [any NamespacedObject.Type] = [
        Deployment.self, Service.self, ServiceMonitor.self, Autoscaler.self, ServiceAccount.self, Role.self, RoleBinding.self, CronJob.self,
        HorizontalPodAutoscaler.self,
    ]

    /// Kinds served by a CRD that may be missing: watched only while served.
    static let servedByCRD: Set<ResourceDescriptor> = [ServiceMonitor.resource]

    /// The child resources (for RBAC checks).
    public static var resources: [ResourceDescriptor] { types.map { $0.resource } }

    /// The label every child carries; informers watch only these objects.
    public static let selector = "app.kubernetes.io/managed-by=tide"

    /// Every child kind, watched in `namespace` (or all namespaces). ServiceMonitors
    /// are watched only while `serviceMonitors` reports their resource served.
    /// Autoscalers come from `tideAutoscalers`, the operator's informer of every
    /// Autoscaler (a user's too), which this kind runs.
    ///
    /// - Returns: the kinds, and the Deployment and HorizontalPodAutoscaler caches (the
    ///   status reads them typed).
    static func all(
        client: KubeClient, namespace: String?, serviceMonitors: ServiceMonitorDetector, tideAutoscalers: Informer<Autoscaler>, logger: Logger
    ) -> (kinds: [ChildKind], deployments: ObjectCache<Deployment>, autoscalers: ObjectCache<HorizontalPodAutoscaler>) {
        let deployments = makeInformer(Deployment.self, client: client, namespace: namespace, selector: selector, logger: logger)
        let autoscalers = makeInformer(HorizontalPodAutoscaler.self, client: client, namespace: namespace, selector: selector, logger: logger)
        func kind<K: NamespacedObject>(_ type: K.Type) -> ChildKind {
            if K.self == Deployment.self { return make(deployments) }
            if K.self == HorizontalPodAutoscaler.self { return make(autoscalers) }
            if K.self == Autoscaler.self { return make(tideAutoscalers) }
            let detector = servedByCRD.contains(K.resource) ? serviceMonitors : nil
            return make(makeInformer(type, client: client, namespace: namespace, selector: selector, logger: logger), servedWhen: detector)
        }
        return (types.map { kind($0) }, deployments.cache, autoscalers.cache)
    }

    static func make<K: NamespacedObject>(_ informer: Informer<K>, servedWhen detector: ServiceMonitorDetector? = nil) -> ChildKind {
        let cache = informer.cache
        let service: any ServiceLifecycle.Service = detector.map { ConditionalInformer(informer: informer, detector: $0) } ?? informer
        return ChildKind(
            resource: K.resource, service: service,
            live: { key in try cache.get(key).map { ($0.metadata, try JSONValue(encoding: $0)) } },
            versions: { uid in cache.versions(controlledBy: uid) },
            registerOwner: { controller, apiVersion, kind in
                controller.owns(informer, ownerAPIVersion: apiVersion, ownerKind: kind, requireSync: detector == nil)
            })
    }
}

/// An informer of `type`, in one namespace or all, with the operator's watch settings.
func makeInformer<K: NamespacedObject>(_ type: K.Type, client: KubeClient, namespace: String?, selector: String?, logger: Logger) -> Informer<K> {
    var configuration = Watcher<K>.Configuration(labelSelector: selector)
    configuration.timeoutSeconds = 290
    let watcher: Watcher<K>
    if let namespace {
        watcher = Watcher(ListWatch(client.namespaced(type, in: namespace)), configuration: configuration, logger: logger)
    } else {
        watcher = Watcher(ListWatch(client.allNamespaces(type)), configuration: configuration, logger: logger)
    }
    return Informer(watcher, logger: logger)
}

/// Runs an informer only while a custom resource is served (its CRD installed), so a
/// missing CRD costs no failing watch, and a ServiceMonitor that is edited or deleted
/// is put back at once, not at the next resync.
struct ConditionalInformer<K: KubernetesObject>: ServiceLifecycle.Service {
    let informer: Informer<K>
    let detector: ServiceMonitorDetector
    var pollInterval: Duration = .milliseconds(250)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                guard await detector.isAvailable() else {
                    do { try await Task.sleep(for: pollInterval) } catch { return }
                    continue
                }
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { try? await informer.run() }
                    // Served: run until the resource goes away or we are cancelled.
                    while !Task.isCancelled, await detector.isAvailable() {
                        do { try await Task.sleep(for: pollInterval) } catch { break }
                    }
                    group.cancelAll()
                }
            }
        }
    }
}
