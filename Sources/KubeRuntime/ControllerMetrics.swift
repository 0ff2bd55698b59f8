import CoreMetrics
import KubeAPI

/// The metrics a controller and its work queue export, named as controller-runtime
/// names them so existing dashboards work:
/// `controller_runtime_reconcile_total{controller,result}`,
/// `controller_runtime_reconcile_errors_total`, `controller_runtime_reconcile_time_seconds`,
/// `workqueue_depth`, `workqueue_adds_total`, `workqueue_retries_total`,
/// `workqueue_queue_duration_seconds`.
public struct ControllerMetrics: Sendable, WorkQueueObserver {
    let success: Counter
    let requeue: Counter
    let requeueAfter: Counter
    let errorResult: Counter
    let errors: Counter
    let reconcileTime: Timer
    let depth: Gauge
    let adds: Counter
    let retries: Counter
    let queueDuration: Timer

    public init(controller: String, factory: any MetricsFactory = MetricsSystem.factory) {
        let name = [("controller", controller)]
        success = Counter(label: "controller_runtime_reconcile_total", dimensions: name + [("result", "success")], factory: factory)
        requeue = Counter(label: "controller_runtime_reconcile_total", dimensions: name + [("result", "requeue")], factory: factory)
        requeueAfter = Counter(label: "controller_runtime_reconcile_total", dimensions: name + [("result", "requeue_after")], factory: factory)
        errorResult = Counter(label: "controller_runtime_reconcile_total", dimensions: name + [("result", "error")], factory: factory)
        errors = Counter(label: "controller_runtime_reconcile_errors_total", dimensions: name, factory: factory)
        reconcileTime = Timer(label: "controller_runtime_reconcile_time_seconds", dimensions: name, preferredDisplayUnit: .seconds, factory: factory)
        depth = Gauge(label: "workqueue_depth", dimensions: [("name", controller)], factory: factory)
        adds = Counter(label: "workqueue_adds_total", dimensions: [("name", controller)], factory: factory)
        retries = Counter(label: "workqueue_retries_total", dimensions: [("name", controller)], factory: factory)
        queueDuration = Timer(label: "workqueue_queue_duration_seconds", dimensions: [("name", controller)], preferredDisplayUnit: .seconds, factory: factory)
    }

    public func depthChanged(_ depth: Int) { self.depth.record(depth) }
    public func added() { adds.increment() }
    public func retried() { retries.increment() }
    public func queued(for duration: Duration) { queueDuration.recordNanoseconds(duration.inNanoseconds) }

    func reconciled(_ result: ReconcileResult?, duration: Duration) {
        reconcileTime.recordNanoseconds(duration.inNanoseconds)
        switch result {
        case .done?: success.increment()
        case .requeue(let after)? where after <= .zero: requeue.increment()
        case .requeue?: requeueAfter.increment()
        case nil:
            errorResult.increment()
            errors.increment()
        }
    }
}
