import KubeAPI
import KubeAPIExtensions
import TideAPI

/// The ServiceMonitor that has Prometheus scrape the Application: wanted while its CRD
/// is installed (the Prometheus Operator's).
enum ServerServiceMonitor: ChildPart {
    static func isWanted(by application: Application, serviceMonitors: Bool) -> Bool { serviceMonitors }

    static func desired(for application: Application, settings: OperatorSettings) throws -> DesiredChild {
        try DesiredChild(Children.serviceMonitor(for: application, defaultLabels: settings.serviceMonitorLabels), part: self)
    }
}

extension Children {
    /// The ServiceMonitor, labelled for the Prometheus that should pick it: the
    /// operator's default labels, then the Application's, then Tide's own (which win).
    public static func serviceMonitor(for application: Application, defaultLabels: [String: String] = [:]) -> ServiceMonitor {
        let metrics = application.spec.metrics ?? MetricsEndpoint()
        var meta = metadata(application.name, for: application, component: "server")
        let own = meta.labels ?? [:]
        meta.labels = defaultLabels.merging(metrics.labels ?? [:]) { _, application in application }.merging(own) { _, tide in tide }
        return ServiceMonitor(
            metadata: meta,
            spec: .init(
                selector: LabelSelector(matchLabels: selector(for: application)),
                endpoints: [.init(port: "http", path: metrics.path ?? Defaults.metricsPath, interval: metrics.interval ?? Defaults.metricsInterval)]))
    }
}
