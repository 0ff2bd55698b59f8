import KubeAPI
import KubeAPIExtensions
import TideAPI

/// An Autoscaler in mode HPA: a HorizontalPodAutoscaler on the target with one metric
/// per metric, served by tide-metrics-adapter, with its bounds and behavior; none while
/// `paused` (the replicas stay where they are).
enum AutoscalerHorizontalPodAutoscaler: ScalerPart {
    static func isWanted(by autoscaler: Autoscaler) -> Bool { mode(of: autoscaler) == .hpa && autoscaler.spec.scaling.paused != true }

    static func desired(for autoscaler: Autoscaler, target: AutoscalerChildren.Target, settings: OperatorSettings) throws -> DesiredChild {
        try DesiredChild(AutoscalerChildren.horizontalPodAutoscaler(for: autoscaler), part: self)
    }
}

extension AutoscalerChildren {
    /// Mode HPA: the HorizontalPodAutoscaler that scales the target on the Autoscaler's
    /// metrics, with its bounds and behavior. Its metrics are Object metrics describing
    /// the Autoscaler (`custom.metrics.k8s.io`). An Application's own Autoscaler keeps
    /// the Application's metric names: External `<application>-<metric>`
    /// (`external.metrics.k8s.io`, the default), or with `hpa.metricType: Object` Object
    /// metrics describing the Application. Its target is the Application's `/scale`.
    public static func horizontalPodAutoscaler(for autoscaler: Autoscaler) -> HorizontalPodAutoscaler {
        let scaling = autoscaler.spec.scaling
        let target = autoscaler.spec.scaleTargetRef
        let owner = autoscaler.owningApplication
        // External only where the target is an Application (validation refuses it elsewhere).
        let type: HPAMetricType = owner != nil ? scaling.hpaMetricType : scaling.hpa?.metricType ?? .object
        let described = owner != nil
            ? HorizontalPodAutoscaler.CrossVersionObjectReference(apiVersion: target.apiVersion, kind: target.kind, name: target.name)
            : HorizontalPodAutoscaler.CrossVersionObjectReference(
                apiVersion: Autoscaler.resource.apiVersion, kind: Autoscaler.resource.kind, name: autoscaler.metadata.name ?? "")
        let metrics = scaling.resolvedMetrics.map { metric in
            switch type {
            case .external:
                HorizontalPodAutoscaler.MetricSpec(
                    external: .init(metric: .init(name: Children.externalMetricName(metric, ofApplication: target.name)), target: Children.hpaTarget(metric)))
            case .object:
                HorizontalPodAutoscaler.MetricSpec(object: .init(describedObject: described, metric: .init(name: metric.name), target: Children.hpaTarget(metric)))
            }
        }
        return HorizontalPodAutoscaler(
            metadata: ScalerOwner(autoscaler).metadata(component: "autoscaler"),
            spec: .init(
                scaleTargetRef: .init(apiVersion: target.apiVersion, kind: target.kind, name: target.name),
                minReplicas: max(scaling.minReplicas ?? Defaults.minReplicas, 1), maxReplicas: scaling.maxReplicas, metrics: metrics,
                behavior: Children.hpaBehavior(scaling)))
    }
}

extension Children {
    /// The external metric name the metrics adapter serves `metric` of Application
    /// `application` under (`<application>-<metric>`).
    public static func externalMetricName(_ metric: ScalingMetric, ofApplication application: String) -> String {
        "\(application)-\(metric.name)"
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
