import KubeAPI
import TideAPI

/// How an external metric's name maps to an Application's metric:
/// `<application>-<metric>`, e.g. `hello-rps` for metric `rps` of Application
/// `hello`. The request's namespace is the Application's; a label selector, when
/// given, must match the Application's labels.
///
/// Both parts are DNS labels and may themselves contain `-`, so one name can fit
/// several pairs (Application `a-b` metric `c`, Application `a` metric `b-c`);
/// ``matches(_:among:)`` returns every fit and the caller refuses more than one.
public struct ExternalMetricName: Sendable, Hashable, CustomStringConvertible {
    public var application: String
    public var metric: String

    public init(application: String, metric: String) {
        self.application = application
        self.metric = metric
    }

    /// The name HPAs ask for.
    public var description: String { "\(application)-\(metric)" }

    /// Every metric among `applications` that `name` names, in the order given.
    public static func matches(_ name: String, among applications: [Application]) -> [(application: Application, metric: ScalingMetric)] {
        var found: [(application: Application, metric: ScalingMetric)] = []
        for application in applications {
            let prefix = application.name + "-"
            guard name.hasPrefix(prefix), let scaling = application.spec.scaling else { continue }
            let metricName = String(name.dropFirst(prefix.count))
            if let metric = scaling.resolvedMetrics.first(where: { $0.name == metricName }) {
                found.append((application, metric))
            }
        }
        return found
    }
}
