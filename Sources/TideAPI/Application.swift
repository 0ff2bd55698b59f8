import KubeAPI

/// `applications.tide.dev/v1alpha1`: a microservice Tide deploys and, optionally, scales.
public struct Application: NamespacedObject, HasStatusSubresource, HasScaleSubresource, Hashable {
    public static let resource = ResourceDescriptor(
        group: "tide.dev", version: "v1alpha1", plural: "applications", kind: "Application", namespaced: true)
    public var apiVersion: String? = "tide.dev/v1alpha1"
    public var kind: String? = "Application"
    public var metadata: ObjectMeta
    public var spec: ApplicationSpec
    public var status: ApplicationStatus?

    public init(metadata: ObjectMeta, spec: ApplicationSpec, status: ApplicationStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

/// What the user asks for.
public struct ApplicationSpec: Sendable, Hashable, Codable {
    /// Container image (required).
    public var image: String
    /// Desired replicas. Without `scaling` it is fixed; with `scaling` the scaler sets it
    /// through the scale subresource.
    public var replicas: Int32?
    /// Container and Service port (default 8080).
    public var port: Int32?
    public var env: [EnvVar]?
    public var resources: ResourceRequirements?
    /// Where Prometheus scrapes the service.
    public var metrics: MetricsEndpoint?
    /// Absent: fixed replicas.
    public var scaling: Scaling?

    public init(
        image: String, replicas: Int32? = nil, port: Int32? = nil, env: [EnvVar]? = nil,
        resources: ResourceRequirements? = nil, metrics: MetricsEndpoint? = nil, scaling: Scaling? = nil
    ) {
        self.image = image
        self.replicas = replicas
        self.port = port
        self.env = env
        self.resources = resources
        self.metrics = metrics
        self.scaling = scaling
    }
}

/// The ServiceMonitor endpoint.
public struct MetricsEndpoint: Sendable, Hashable, Codable {
    /// HTTP path (default `/metrics`).
    public var path: String?
    /// Scrape interval as a Prometheus duration (default `15s`).
    public var interval: String?
    /// Labels for the generated ServiceMonitor, so a Prometheus' `serviceMonitorSelector`
    /// picks it (kube-prometheus-stack's default: `release: <its release>`). They add to
    /// the operator's `--service-monitor-labels` and win over them; Tide's own labels
    /// cannot be changed.
    public var labels: [String: String]?

    public init(path: String? = nil, interval: String? = nil, labels: [String: String]? = nil) {
        self.path = path
        self.interval = interval
        self.labels = labels
    }
}

/// How the scaler sizes the Application.
///
/// The metrics come either as the list `metrics` or, the original form, as one
/// `prometheus` query with one `target` (read as a one-element list named
/// ``ScalingMetric/singleMetricName``). ``resolvedMetrics`` gives the list either way.
public struct Scaling: Sendable, Hashable, Codable {
    /// `0` allows scaling to zero: see ``ScalingMetric/activation`` and ``cooldownPeriod``.
    public var minReplicas: Int32?
    public var maxReplicas: Int32
    /// CronJob schedule of the scaler in `CronJob` mode (default every minute).
    public var schedule: String?
    /// `CronJob` (default), `Continuous` (the scaler runs as a Deployment and loops) or
    /// `HPA` (a native HorizontalPodAutoscaler on the metrics adapter's values).
    public var mode: ScalingMode?
    /// Loop period in `Continuous` mode (default `10s`).
    public var interval: String?
    /// The single-metric form: one Prometheus query (with ``target``).
    public var prometheus: PrometheusSource?
    /// The single-metric form's target.
    public var target: MetricTarget?
    /// Several metrics; the desired count is the largest of their recommendations.
    public var metrics: [ScalingMetric]?
    /// With `minReplicas: 0`: how long every metric must stay at or below its
    /// activation value before the Deployment goes to zero (default `300s`).
    public var cooldownPeriod: String?
    /// Relative change ignored around the target (default 0.1).
    public var tolerance: Double?
    public var behavior: ScalingBehavior?
    /// `Hold` (default) or `Fallback`.
    public var onMetricUnavailable: MetricUnavailablePolicy?
    public var fallback: Fallback?
    /// Stop scaling; the replica count stays as it is.
    public var paused: Bool?
    /// How the scaler decides: `HPA` (default, the HorizontalPodAutoscaler's
    /// algorithm) or `Predictive` (scales up ahead of a rising metric by the measured
    /// pod start time, and down once lower demand has held for a few pod starts).
    public var strategy: ScalingStrategy?
    /// Mode HPA: how the HorizontalPodAutoscaler reads the metrics.
    public var hpa: HPASettings?

    public init(
        minReplicas: Int32? = nil, maxReplicas: Int32, schedule: String? = nil, mode: ScalingMode? = nil,
        interval: String? = nil, prometheus: PrometheusSource? = nil, target: MetricTarget? = nil, metrics: [ScalingMetric]? = nil,
        cooldownPeriod: String? = nil, tolerance: Double? = nil,
        behavior: ScalingBehavior? = nil, onMetricUnavailable: MetricUnavailablePolicy? = nil,
        fallback: Fallback? = nil, paused: Bool? = nil, strategy: ScalingStrategy? = nil
    ) {
        self.minReplicas = minReplicas
        self.maxReplicas = maxReplicas
        self.schedule = schedule
        self.mode = mode
        self.interval = interval
        self.prometheus = prometheus
        self.target = target
        self.metrics = metrics
        self.cooldownPeriod = cooldownPeriod
        self.tolerance = tolerance
        self.behavior = behavior
        self.onMetricUnavailable = onMetricUnavailable
        self.fallback = fallback
        self.paused = paused
        self.strategy = strategy
    }

    /// The metric type the HorizontalPodAutoscaler of mode HPA uses (External unless set).
    public var hpaMetricType: HPAMetricType { hpa?.metricType ?? .external }

    /// Every metric the Application scales on: `metrics`, or the single
    /// `prometheus` + `target` form as one metric named `prometheus`. Empty only for
    /// a spec ``ApplicationSpec/validate()`` refuses.
    public var resolvedMetrics: [ScalingMetric] {
        if let metrics { return metrics }
        guard let prometheus, let target else { return [] }
        return [ScalingMetric(name: ScalingMetric.singleMetricName, prometheus: prometheus, target: target)]
    }
}

/// One metric to scale on: a name, exactly one source, and the value it should have.
public struct ScalingMetric: Sendable, Hashable, Codable {
    /// The name of the metric the single-metric form (`scaling.prometheus`) reads as.
    public static let singleMetricName = "prometheus"

    /// Unique in the list; a DNS label (it names the metric in status, events and
    /// the credentials folder).
    public var name: String
    public var prometheus: PrometheusSource?
    public var http: HTTPSource?
    public var target: MetricTarget
    /// With `minReplicas: 0`: a value above this activates the Application from zero;
    /// at or below it on every metric for `cooldownPeriod`, the Application goes to
    /// zero (default `0`).
    public var activation: String?

    public init(name: String, prometheus: PrometheusSource? = nil, http: HTTPSource? = nil, target: MetricTarget, activation: String? = nil) {
        self.name = name
        self.prometheus = prometheus
        self.http = http
        self.target = target
        self.activation = activation
    }

    /// The one source this metric reads, or `nil` when it names none or several
    /// (``ApplicationSpec/validate()`` says which).
    public var source: MetricSourceSpec? {
        switch (prometheus, http) {
        case (let prometheus?, nil): return .prometheus(prometheus)
        case (nil, let http?): return .http(http)
        default: return nil
        }
    }

    /// The credentials this metric's source names.
    public var auth: MetricSourceAuth? { prometheus?.auth ?? http?.auth }
}

/// Where a metric comes from. A new source is a new case and the file that reads it.
public enum MetricSourceSpec: Sendable, Hashable {
    case prometheus(PrometheusSource)
    case http(HTTPSource)

    /// The field the source is given in, e.g. `prometheus`.
    public var field: String {
        switch self {
        case .prometheus: return "prometheus"
        case .http: return "http"
        }
    }

    public var timeout: String? {
        switch self {
        case .prometheus(let source): return source.timeout
        case .http(let source): return source.timeout
        }
    }
}

/// A number read from an HTTP endpoint that answers JSON, such as
/// `{"data": {"orders": 12}}` with `valueLocation: data.orders`.
public struct HTTPSource: Sendable, Hashable, Codable {
    /// `http://` or `https://` URL answered with a JSON document.
    public var url: String
    /// Dot-separated path to a JSON number in the reply; a numeric part indexes a
    /// list, e.g. `items.0.count`.
    public var valueLocation: String
    /// Extra request headers, e.g. an API key from a Secret.
    public var headers: [HTTPHeaderSource]?
    /// Request timeout as a duration (default `5s`).
    public var timeout: String?
    public var auth: MetricSourceAuth?

    public init(url: String, valueLocation: String, headers: [HTTPHeaderSource]? = nil, timeout: String? = nil, auth: MetricSourceAuth? = nil) {
        self.url = url
        self.valueLocation = valueLocation
        self.headers = headers
        self.timeout = timeout
        self.auth = auth
    }
}

/// A request header: a literal value, or one read from a Secret.
public struct HTTPHeaderSource: Sendable, Hashable, Codable {
    public var name: String
    public var value: String?
    public var valueFrom: ValueFrom?

    public struct ValueFrom: Sendable, Hashable, Codable {
        public var secretKeyRef: SecretKeyReference
        public init(secretKeyRef: SecretKeyReference) { self.secretKeyRef = secretKeyRef }
    }

    public init(name: String, value: String? = nil, valueFrom: ValueFrom? = nil) {
        self.name = name
        self.value = value
        self.valueFrom = valueFrom
    }
}

public enum ScalingMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// The scaler runs as a CronJob, one decision per tick.
    case cronJob = "CronJob"
    /// The scaler runs as a Deployment and decides every `interval`.
    case continuous = "Continuous"
    /// No Tide scaler: a native HorizontalPodAutoscaler scales the Deployment on the
    /// metrics `tide-metrics-adapter` serves as `external.metrics.k8s.io`.
    case hpa = "HPA"
}

/// Mode HPA's settings.
public struct HPASettings: Sendable, Hashable, Codable {
    public var metricType: HPAMetricType?

    public init(metricType: HPAMetricType? = nil) {
        self.metricType = metricType
    }
}

/// How the HorizontalPodAutoscaler of mode HPA asks for a metric.
public enum HPAMetricType: String, Sendable, Hashable, Codable, CaseIterable {
    /// `type: External`, through `external.metrics.k8s.io` (`<application>-<metric>`).
    case external = "External"
    /// `type: Object` describing the Application, through `custom.metrics.k8s.io`: for
    /// clusters where another server (KEDA) holds `external.metrics.k8s.io`.
    case object = "Object"
}

/// How the scaler turns metrics into a replica count.
public enum ScalingStrategy: String, Sendable, Hashable, Codable, CaseIterable {
    /// The HorizontalPodAutoscaler's algorithm, with `behavior` as the HPA reads it.
    case hpa = "HPA"
    /// Tide's own: up to where a rising metric will be once new pods are ready (the
    /// pod start time measured and remembered in status), down once lower demand has
    /// held for two pod starts and one decision (at least 60 s, at most the
    /// scale-down window), within the same rate policies.
    case predictive = "Predictive"
    /// Predictive, plus the metric's own daily or weekly pattern: up ahead of what the
    /// same time of the last period brought (scaled to today's level), once a replay
    /// of the last day shows the forecast would have cut shortfall without adding more
    /// idle capacity than it saves. Until then, and without enough history, exactly
    /// Predictive.
    case forecast = "Forecast"
}

public enum MetricUnavailablePolicy: String, Sendable, Hashable, Codable, CaseIterable {
    case hold = "Hold"
    case fallback = "Fallback"
}

/// Where and what to ask Prometheus.
public struct PrometheusSource: Sendable, Hashable, Codable {
    /// Base URL, e.g. `http://prometheus-operated.monitoring:9090`.
    public var address: String
    /// An instant PromQL query returning one sample.
    public var query: String
    /// Query timeout as a duration (default `5s`).
    public var timeout: String?
    public var auth: MetricSourceAuth?

    public init(address: String, query: String, timeout: String? = nil, auth: MetricSourceAuth? = nil) {
        self.address = address
        self.query = query
        self.timeout = timeout
        self.auth = auth
    }
}

/// Credentials for a metric source, read by the scaler from Secrets in the
/// Application's namespace. TLS is verified; `caSecretRef` adds a CA to trust.
public struct MetricSourceAuth: Sendable, Hashable, Codable {
    public var bearerTokenSecretRef: SecretKeyReference?
    public var caSecretRef: SecretKeyReference?
    public var basicAuthSecretRef: BasicAuthSecretReference?

    public init(
        bearerTokenSecretRef: SecretKeyReference? = nil, caSecretRef: SecretKeyReference? = nil,
        basicAuthSecretRef: BasicAuthSecretReference? = nil
    ) {
        self.bearerTokenSecretRef = bearerTokenSecretRef
        self.caSecretRef = caSecretRef
        self.basicAuthSecretRef = basicAuthSecretRef
    }
}

/// The credentials of a Prometheus source (the name of the single-metric form).
public typealias PrometheusAuth = MetricSourceAuth

public struct SecretKeyReference: Sendable, Hashable, Codable {
    public var name: String
    public var key: String
    public init(name: String, key: String) {
        self.name = name
        self.key = key
    }
}

public struct BasicAuthSecretReference: Sendable, Hashable, Codable {
    public var name: String
    /// Keys in the Secret (default `username` and `password`).
    public var usernameKey: String?
    public var passwordKey: String?
    public init(name: String, usernameKey: String? = nil, passwordKey: String? = nil) {
        self.name = name
        self.usernameKey = usernameKey
        self.passwordKey = passwordKey
    }
}

/// The value the metric should have.
public struct MetricTarget: Sendable, Hashable, Codable {
    /// `PerReplica` (like HPA `AverageValue`) or `Total` (like HPA `Value`).
    public var type: MetricTargetType
    /// A decimal quantity, e.g. `5`, `0.5`, `500m`.
    public var value: String

    public init(type: MetricTargetType, value: String) {
        self.type = type
        self.value = value
    }
}

public enum MetricTargetType: String, Sendable, Hashable, Codable, CaseIterable {
    case perReplica = "PerReplica"
    case total = "Total"
}

/// HPA `autoscaling/v2` behavior.
public struct ScalingBehavior: Sendable, Hashable, Codable {
    public var scaleUp: ScalingRules?
    public var scaleDown: ScalingRules?
    public init(scaleUp: ScalingRules? = nil, scaleDown: ScalingRules? = nil) {
        self.scaleUp = scaleUp
        self.scaleDown = scaleDown
    }
}

public struct ScalingRules: Sendable, Hashable, Codable {
    public var stabilizationWindowSeconds: Int32?
    /// `Max`, `Min` or `Disabled`.
    public var selectPolicy: SelectPolicy?
    public var policies: [ScalingPolicy]?

    public init(stabilizationWindowSeconds: Int32? = nil, selectPolicy: SelectPolicy? = nil, policies: [ScalingPolicy]? = nil) {
        self.stabilizationWindowSeconds = stabilizationWindowSeconds
        self.selectPolicy = selectPolicy
        self.policies = policies
    }
}

public enum SelectPolicy: String, Sendable, Hashable, Codable, CaseIterable {
    case max = "Max"
    case min = "Min"
    case disabled = "Disabled"
}

public struct ScalingPolicy: Sendable, Hashable, Codable {
    public var type: ScalingPolicyType
    public var value: Int32
    public var periodSeconds: Int32

    public init(type: ScalingPolicyType, value: Int32, periodSeconds: Int32) {
        self.type = type
        self.value = value
        self.periodSeconds = periodSeconds
    }
}

public enum ScalingPolicyType: String, Sendable, Hashable, Codable, CaseIterable {
    case pods = "Pods"
    case percent = "Percent"
}

public struct Fallback: Sendable, Hashable, Codable {
    /// Consecutive unavailable metrics before the fallback applies.
    public var failureThreshold: Int32
    public var replicas: Int32
    public init(failureThreshold: Int32, replicas: Int32) {
        self.failureThreshold = failureThreshold
        self.replicas = replicas
    }
}

/// What Tide observed.
public struct ApplicationStatus: Sendable, Hashable, Codable {
    public var observedGeneration: Int64?
    /// Replicas of the Deployment (for the scale subresource).
    public var replicas: Int32?
    public var readyReplicas: Int32?
    /// Pod label selector in query form (for the scale subresource).
    public var selector: String?
    public var conditions: [Condition]?
    /// The scaler's memory between runs.
    public var scaling: ScalingStatus?
    /// When the Deployment's ready count reached the scaler's pending scale-up
    /// (`scaling.pendingScaleUp`), as the operator saw it: the pod start strategy
    /// Predictive measures, to the second whatever the scaler's cadence. Written by the
    /// operator only.
    public var scaleUpReady: ScalingStatus.Recommendation?

    public init() {}
}

/// The scaler's state, kept in the Application so a CronJob run behaves like a
/// long-running HPA.
public struct ScalingStatus: Sendable, Hashable, Codable {
    /// The value of the metric that drove the last decision.
    public var lastMetricValue: String?
    /// The metric that drove the last decision.
    public var drivingMetric: String?
    /// One line for `kubectl get`: each metric's value, and which one drove.
    public var summary: String?
    /// Each metric's last value and when it was read.
    public var metrics: [MetricStatus]?
    /// With `minReplicas: 0`: since when every metric has been at or below its
    /// activation value (the cooldown runs from here).
    public var inactiveSince: Time?
    public var lastQueryTime: Time?
    public var lastScaleTime: Time?
    public var desiredReplicas: Int32?
    public var consecutiveFailures: Int32?
    /// Stabilization-window history.
    public var recommendations: [Recommendation]?
    /// Rate-policy history.
    public var scaleEvents: [ScaleEvent]?
    /// Strategy Predictive: recent readings of each metric (the trend).
    public var samples: [MetricSample]?
    /// Strategy Predictive: seconds new pods took to become ready, measured from the
    /// Application's ready count after a scale-up (a moving average).
    public var readyDelaySeconds: Int32?
    /// Strategy Predictive: the scale-up whose pods are not all ready yet.
    public var pendingScaleUp: Recommendation?
    /// Strategy Predictive: the last scale-down, with the count it started from.
    public var lastScaleDown: Recommendation?
    /// Strategy Predictive: how long lower demand must hold before a scale-down,
    /// lengthened each time a scale-down had to be undone soon after (flapping).
    public var holdSeconds: Int32?
    /// Strategy Forecast: the verdict of its last backtest (recomputed hourly), and
    /// the pattern it found.
    public var forecast: ForecastStatus?

    public init() {}

    /// Strategy Forecast's verdict on itself: whether, replayed over the last day, the
    /// forecast would have cut shortfall without adding more idle capacity than it
    /// saves; only then does it act.
    public struct ForecastStatus: Sendable, Hashable, Codable {
        /// When the verdict was reached.
        public var checkedTime: Time
        /// Whether the forecast acts.
        public var confident: Bool
        /// `ForecastConfident`, `ForecastNotConfident` or `InsufficientHistory`.
        public var reason: String
        /// The verdict in words, with the figures.
        public var message: String
        /// The period of the pattern found (3600, 86400 or 604800), if any.
        public var periodSeconds: Int32?
        /// Replayed over the last day: shortfall and idle replica·seconds with the
        /// forecast and with Predictive alone.
        public var forecastShortfall: Int64?
        public var predictiveShortfall: Int64?
        public var forecastIdle: Int64?
        public var predictiveIdle: Int64?

        public init(
            checkedTime: Time, confident: Bool, reason: String, message: String, periodSeconds: Int32? = nil, forecastShortfall: Int64? = nil,
            predictiveShortfall: Int64? = nil, forecastIdle: Int64? = nil, predictiveIdle: Int64? = nil
        ) {
            self.checkedTime = checkedTime
            self.confident = confident
            self.reason = reason
            self.message = message
            self.periodSeconds = periodSeconds
            self.forecastShortfall = forecastShortfall
            self.predictiveShortfall = predictiveShortfall
            self.forecastIdle = forecastIdle
            self.predictiveIdle = predictiveIdle
        }
    }

    /// One metric's last reading.
    public struct MetricStatus: Sendable, Hashable, Codable {
        public var name: String
        /// The last value read (kept while the metric is unavailable).
        public var value: String?
        /// When `value` was read.
        public var time: Time?
        /// Why the latest read failed, e.g. `EndpointUnreachable`; absent when it succeeded.
        public var unavailableReason: String?

        public init(name: String, value: String? = nil, time: Time? = nil, unavailableReason: String? = nil) {
            self.name = name
            self.value = value
            self.time = time
            self.unavailableReason = unavailableReason
        }
    }

    public struct Recommendation: Sendable, Hashable, Codable {
        public var time: Time
        public var replicas: Int32
        public init(time: Time, replicas: Int32) {
            self.time = time
            self.replicas = replicas
        }

        /// The operator's `status.scaleUpReady` after seeing `ready` replicas at `now`:
        /// the moment the ready count reached `pending` (the scaler's pending scale-up),
        /// recorded once per scale-up; otherwise `recorded`, unchanged.
        public static func scaleUpReady(recorded: Self?, pending: Self?, ready: Int32, at now: Time) -> Self? {
            guard let pending, ready >= pending.replicas, recorded.map({ $0.time < pending.time }) ?? true else { return recorded }
            return Self(time: now, replicas: ready)
        }
    }

    /// One reading of one metric.
    public struct MetricSample: Sendable, Hashable, Codable {
        public var name: String
        public var time: Time
        public var value: String
        public init(name: String, time: Time, value: String) {
            self.name = name
            self.time = time
            self.value = value
        }
    }

    public struct ScaleEvent: Sendable, Hashable, Codable {
        public var time: Time
        /// Replicas added (positive) or removed (negative).
        public var change: Int32
        public init(time: Time, change: Int32) {
            self.time = time
            self.change = change
        }
    }
}

extension Application {
    /// Shares the metadata's and the status conditions' strings (see ``StringInterner``).
    public mutating func internStrings(_ interner: StringInterner) {
        internMetadataStrings(interner)
        if let conditions = status?.conditions {
            status?.conditions = conditions.map { condition in
                var condition = condition
                condition.internStrings(interner)
                return condition
            }
        }
    }
}
