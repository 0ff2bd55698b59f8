import KubeAPI
import KubeAPIExtensions
import TideAPI

/// Mode HPA: the HorizontalPodAutoscaler that scales the Deployment on the metrics
/// adapter's values; none while `paused` (the replicas stay where they are).
enum ApplicationHorizontalPodAutoscaler: ChildPart {
    static func isWanted(by application: Application, serviceMonitors: Bool) -> Bool {
        application.spec.scaling?.mode == .hpa && application.spec.scaling?.paused != true
    }

    static func desired(for application: Application, settings: OperatorSettings) throws -> DesiredChild {
        try DesiredChild(Children.horizontalPodAutoscaler(for: application), part: self)
    }
}

extension Children {
    /// The external metric name the metrics adapter serves `metric` of `application`
    /// under (`<application>-<metric>`).
    public static func externalMetricName(_ metric: ScalingMetric, of application: Application) -> String {
        "\(application.name)-\(metric.name)"
    }

    /// Mode HPA: an `autoscaling/v2` HorizontalPodAutoscaler for the Deployment, one
    /// metric per Application metric (`PerReplica` → `AverageValue`, `Total` →
    /// `Value`): External (`<application>-<metric>`), or with `hpa.metricType: Object`
    /// an Object metric describing the Application (`custom.metrics.k8s.io`); the
    /// Application's bounds and `behavior`.
    public static func horizontalPodAutoscaler(for application: Application) -> HorizontalPodAutoscaler {
        let scaling = application.spec.scaling
        let metrics = (scaling?.resolvedMetrics ?? []).map { metric in
            let target = hpaTarget(metric)
            switch scaling?.hpaMetricType ?? .external {
            case .external:
                return HorizontalPodAutoscaler.MetricSpec(external: .init(metric: .init(name: externalMetricName(metric, of: application)), target: target))
            case .object:
                let described = HorizontalPodAutoscaler.CrossVersionObjectReference(
                    apiVersion: Application.resource.apiVersion, kind: Application.resource.kind, name: application.name)
                return HorizontalPodAutoscaler.MetricSpec(object: .init(describedObject: described, metric: .init(name: metric.name), target: target))
            }
        }
        return HorizontalPodAutoscaler(
            metadata: metadata(application.name, for: application, component: "autoscaler"),
            spec: .init(
                scaleTargetRef: .init(apiVersion: Deployment.resource.apiVersion, kind: Deployment.resource.kind, name: application.name),
                minReplicas: max(scaling?.minReplicas ?? Defaults.minReplicas, 1), maxReplicas: scaling?.maxReplicas ?? 1,
                metrics: metrics, behavior: hpaBehavior(scaling)))
    }

    /// `behavior` as the HorizontalPodAutoscaler reads it (the same fields and defaults).
    static func hpaBehavior(_ scaling: Scaling?) -> HorizontalPodAutoscaler.Behavior? {
        func rules(_ rules: ScalingRules?) -> HorizontalPodAutoscaler.Rules? {
            rules.map {
                .init(
                    stabilizationWindowSeconds: $0.stabilizationWindowSeconds, selectPolicy: $0.selectPolicy?.rawValue,
                    policies: $0.policies?.map { .init(type: $0.type.rawValue, value: $0.value, periodSeconds: $0.periodSeconds) })
            }
        }
        return scaling?.behavior.map { HorizontalPodAutoscaler.Behavior(scaleUp: rules($0.scaleUp), scaleDown: rules($0.scaleDown)) }
    }

    /// One metric's target as the HorizontalPodAutoscaler reads it: `PerReplica` →
    /// `AverageValue`, `Total` → `Value`.
    static func hpaTarget(_ metric: ScalingMetric) -> HorizontalPodAutoscaler.MetricTarget {
        switch metric.target.type {
        case .perReplica: .init(type: "AverageValue", averageValue: metric.target.value)
        case .total: .init(type: "Value", value: metric.target.value)
        }
    }
}
