/// The values Tide uses for fields the user left out. They match the CRD's schema
/// defaults and the HPA's `autoscaling/v2` behavior defaults.
public enum Defaults {
    public static let port: Int32 = 8080
    public static let replicas: Int32 = 1
    public static let metricsPath = "/metrics"
    public static let metricsInterval = "15s"
    public static let minReplicas: Int32 = 1
    public static let schedule = "* * * * *"
    public static let continuousInterval = "10s"
    public static let queryTimeout = "5s"
    public static let tolerance = 0.1
    /// With `minReplicas: 0`, how long every metric must stay at or below its
    /// activation value before scaling to zero (KEDA's default).
    public static let cooldownPeriod = "300s"
    /// A metric's activation value when it names none.
    public static let activation = "0"
    /// The most metrics one Application may scale on.
    public static let maximumMetrics = 10

    /// Scale up: the larger of +100% or +4 pods per 15 s, no stabilization.
    public static let scaleUp = ScalingRules(
        stabilizationWindowSeconds: 0, selectPolicy: .max,
        policies: [
            ScalingPolicy(type: .percent, value: 100, periodSeconds: 15), ScalingPolicy(type: .pods, value: 4, periodSeconds: 15),
        ])

    /// Scale down: up to 100% per 15 s, after a 300 s stabilization window.
    public static let scaleDown = ScalingRules(
        stabilizationWindowSeconds: 300, selectPolicy: .max,
        policies: [ScalingPolicy(type: .percent, value: 100, periodSeconds: 15)])
}

extension ApplicationSpec {
    /// The spec with every default filled in.
    public var withDefaults: ApplicationSpec {
        var spec = self
        spec.port = spec.port ?? Defaults.port
        var metrics = spec.metrics ?? MetricsEndpoint()
        metrics.path = metrics.path ?? Defaults.metricsPath
        metrics.interval = metrics.interval ?? Defaults.metricsInterval
        spec.metrics = metrics
        if var scaling = spec.scaling {
            scaling.minReplicas = scaling.minReplicas ?? Defaults.minReplicas
            scaling.schedule = scaling.schedule ?? Defaults.schedule
            scaling.mode = scaling.mode ?? .cronJob
            scaling.interval = scaling.interval ?? Defaults.continuousInterval
            if var prometheus = scaling.prometheus {
                prometheus.timeout = prometheus.timeout ?? Defaults.queryTimeout
                scaling.prometheus = prometheus
            }
            scaling.metrics = scaling.metrics?.map { metric in
                var metric = metric
                if var prometheus = metric.prometheus {
                    prometheus.timeout = prometheus.timeout ?? Defaults.queryTimeout
                    metric.prometheus = prometheus
                }
                if var http = metric.http {
                    http.timeout = http.timeout ?? Defaults.queryTimeout
                    metric.http = http
                }
                metric.activation = metric.activation ?? Defaults.activation
                return metric
            }
            scaling.cooldownPeriod = scaling.cooldownPeriod ?? Defaults.cooldownPeriod
            scaling.tolerance = scaling.tolerance ?? Defaults.tolerance
            scaling.onMetricUnavailable = scaling.onMetricUnavailable ?? .hold
            scaling.paused = scaling.paused ?? false
            scaling.strategy = scaling.strategy ?? .hpa
            var behavior = scaling.behavior ?? ScalingBehavior()
            behavior.scaleUp = Self.merge(behavior.scaleUp, Defaults.scaleUp)
            behavior.scaleDown = Self.merge(behavior.scaleDown, Defaults.scaleDown)
            scaling.behavior = behavior
            spec.scaling = scaling
        }
        return spec
    }

    private static func merge(_ rules: ScalingRules?, _ defaults: ScalingRules) -> ScalingRules {
        guard var rules else { return defaults }
        rules.stabilizationWindowSeconds = rules.stabilizationWindowSeconds ?? defaults.stabilizationWindowSeconds
        rules.selectPolicy = rules.selectPolicy ?? defaults.selectPolicy
        if rules.policies == nil || rules.policies?.isEmpty == true { rules.policies = defaults.policies }
        return rules
    }

    /// The replicas the Deployment should run: `replicas`, or with scaling and no
    /// replicas yet, `minReplicas` — at least one: an Application that may scale to
    /// zero starts serving, and goes to zero once its metrics have been quiet for the
    /// cooldown.
    public var effectiveReplicas: Int32 {
        if let replicas { return replicas }
        if let scaling { return max(scaling.minReplicas ?? Defaults.minReplicas, 1) }
        return Defaults.replicas
    }
}
