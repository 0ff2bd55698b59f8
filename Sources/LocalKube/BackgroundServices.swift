import Logging
import ServiceLifecycle

/// Services run in a task of their own, in a service group that handles no signals, and
/// stopped by a graceful shutdown: a server stopped so finishes its responses instead
/// of logging its open connections as errors, as a cancelled one does.
public struct BackgroundServices: Sendable {
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    /// Starts `services` now.
    public init(_ services: [any ServiceLifecycle.Service], logger: Logger) {
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        self.group = group
        self.task = Task { try await group.run() }
    }

    /// Stops the services gracefully; whatever is still running after `deadline` (a
    /// connection a client keeps open) is cancelled.
    public func stop(within deadline: Duration) async {
        await group.triggerGracefulShutdown()
        let task = self.task
        let timer = Task {
            try await Task.sleep(for: deadline)
            task.cancel()
        }
        _ = await task.result
        timer.cancel()
    }

    /// Cancels the services at once (they failed to start) and returns how they ended.
    public func cancel() async -> Result<Void, any Error> {
        task.cancel()
        return await task.result
    }
}
