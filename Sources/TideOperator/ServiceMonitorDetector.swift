import KubeClient
import Logging
import Synchronization

/// Knows whether the `monitoring.coreos.com/v1` ServiceMonitor resource is served,
/// from discovery, re-checked every `interval`. When the answer changes it calls
/// `onChange`, so Applications are reconciled again (e.g. to create ServiceMonitors
/// once the Prometheus Operator is installed).
public final class ServiceMonitorDetector: Sendable {
    let client: KubeClient
    public let interval: Duration
    let logger: Logger
    private let state = Mutex<Bool?>(nil)

    public init(client: KubeClient, interval: Duration = .seconds(30), logger: Logger = Logger(label: "tide.discovery")) {
        self.client = client
        self.interval = interval
        self.logger = logger
    }

    /// The last known answer; checks discovery if there is none yet.
    public func isAvailable() async -> Bool {
        if let known = state.withLock({ $0 }) { return known }
        return await refresh().available
    }

    /// Asks discovery now. Returns the answer and whether it changed. A failed check
    /// keeps the previous answer.
    @discardableResult
    public func refresh() async -> (available: Bool, changed: Bool) {
        do {
            let available = try await client.serves(group: "monitoring.coreos.com", version: "v1", plural: "servicemonitors")
            let previous = state.withLock { state -> Bool? in
                let previous = state
                state = available
                return previous
            }
            if previous != available {
                // Said once for the whole cluster; each Application shows it in its Degraded condition.
                if available {
                    logger.info("the ServiceMonitor resource is installed; Applications get ServiceMonitors")
                } else {
                    logger.warning("the ServiceMonitor resource (monitoring.coreos.com/v1) is not installed: Applications are deployed without ServiceMonitors and report Degraded=ServiceMonitorCRDMissing until the Prometheus Operator is installed")
                }
            }
            return (available, previous != nil && previous != available)
        } catch {
            logger.warning("discovery of ServiceMonitor failed", metadata: ["error": "\(error)"])
            return (state.withLock { $0 } ?? false, false)
        }
    }

    /// Re-checks every `interval` until cancelled, calling `onChange` on a change.
    public func watch(onChange: @escaping @Sendable () async -> Void) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            if await refresh().changed { await onChange() }
        }
    }
}
