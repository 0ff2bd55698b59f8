import Prometheus
import ServiceLifecycle

/// A gauge whose value is read from the program every `interval` (whether this
/// replica leads, when a certificate expires), until graceful shutdown.
public struct PolledGauge: Service {
    let gauge: Gauge
    let interval: Duration
    let value: @Sendable () -> Double?

    public init(_ name: String, help: String, registry: PrometheusCollectorRegistry, interval: Duration = .seconds(5), value: @escaping @Sendable () -> Double?) {
        self.gauge = registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help))
        self.interval = interval
        self.value = value
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if let value = value() { gauge.set(value) }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
