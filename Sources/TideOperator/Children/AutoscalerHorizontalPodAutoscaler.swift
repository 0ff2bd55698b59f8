import KubeAPI
import KubeAPIExtensions
import TideAPI

/// An Autoscaler in mode HPA: a HorizontalPodAutoscaler on the target with one Object
/// metric per metric, describing the Autoscaler (served by tide-metrics-adapter's
/// `custom.metrics.k8s.io`), with its bounds and behavior; none while `paused`.
enum AutoscalerHorizontalPodAutoscaler: ScalerPart {
    static func isWanted(by autoscaler: Autoscaler) -> Bool { mode(of: autoscaler) == .hpa && autoscaler.spec.scaling.paused != true }

    static func desired(for autoscaler: Autoscaler, target: AutoscalerChildren.Target, settings: OperatorSettings) throws -> DesiredChild {
        try DesiredChild(AutoscalerChildren.horizontalPodAutoscaler(for: autoscaler), part: self)
    }
}

extension AutoscalerChildren {
    /// Mode HPA: the HorizontalPodAutoscaler that scales the target on the Autoscaler's
    /// metrics, as Object metrics describing the Autoscaler, with its bounds and behavior.
    public static func horizontalPodAutoscaler(for autoscaler: Autoscaler) -> HorizontalPodAutoscaler {
        let scaling = autoscaler.spec.scaling
        let described = HorizontalPodAutoscaler.CrossVersionObjectReference(
            apiVersion: Autoscaler.resource.apiVersion, kind: Autoscaler.resource.kind, name: autoscaler.metadata.name ?? "")
        let metrics = scaling.resolvedMetrics.map { metric in
            HorizontalPodAutoscaler.MetricSpec(object: .init(describedObject: described, metric: .init(name: metric.name), target: Children.hpaTarget(metric)))
        }
        let target = autoscaler.spec.scaleTargetRef
        return HorizontalPodAutoscaler(
            metadata: ScalerOwner(autoscaler).metadata(component: "autoscaler"),
            spec: .init(
                scaleTargetRef: .init(apiVersion: target.apiVersion, kind: target.kind, name: target.name),
                minReplicas: max(scaling.minReplicas ?? Defaults.minReplicas, 1), maxReplicas: scaling.maxReplicas, metrics: metrics,
                behavior: Children.hpaBehavior(scaling)))
    }
}
