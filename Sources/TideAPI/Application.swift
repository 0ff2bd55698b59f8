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

    public init(path: String? = nil, interval: String? = nil) {
        self.path = path
        self.interval = interval
    }
}

/// How the scaler sizes the Application.
public struct Scaling: Sendable, Hashable, Codable {
    public var minReplicas: Int32?
    public var maxReplicas: Int32
    /// CronJob schedule of the scaler in `CronJob` mode (default every minute).
    public var schedule: String?
    /// `CronJob` (default) or `Continuous` (the scaler runs as a Deployment and loops).
    public var mode: ScalingMode?
    /// Loop period in `Continuous` mode (default `10s`).
    public var interval: String?
    public var prometheus: PrometheusSource
    public var target: MetricTarget
    /// Relative change ignored around the target (default 0.1).
    public var tolerance: Double?
    public var behavior: ScalingBehavior?
    /// `Hold` (default) or `Fallback`.
    public var onMetricUnavailable: MetricUnavailablePolicy?
    public var fallback: Fallback?
    /// Stop scaling; the replica count stays as it is.
    public var paused: Bool?

    public init(
        minReplicas: Int32? = nil, maxReplicas: Int32, schedule: String? = nil, mode: ScalingMode? = nil,
        interval: String? = nil, prometheus: PrometheusSource, target: MetricTarget, tolerance: Double? = nil,
        behavior: ScalingBehavior? = nil, onMetricUnavailable: MetricUnavailablePolicy? = nil,
        fallback: Fallback? = nil, paused: Bool? = nil
    ) {
        self.minReplicas = minReplicas
        self.maxReplicas = maxReplicas
        self.schedule = schedule
        self.mode = mode
        self.interval = interval
        self.prometheus = prometheus
        self.target = target
        self.tolerance = tolerance
        self.behavior = behavior
        self.onMetricUnavailable = onMetricUnavailable
        self.fallback = fallback
        self.paused = paused
    }
}

public enum ScalingMode: String, Sendable, Hashable, Codable, CaseIterable {
    case cronJob = "CronJob"
    case continuous = "Continuous"
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
    public var auth: PrometheusAuth?

    public init(address: String, query: String, timeout: String? = nil, auth: PrometheusAuth? = nil) {
        self.address = address
        self.query = query
        self.timeout = timeout
        self.auth = auth
    }
}

/// Credentials for Prometheus, read by the scaler from Secrets in the Application's
/// namespace. TLS is verified; `caSecretRef` adds a CA to trust.
public struct PrometheusAuth: Sendable, Hashable, Codable {
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

    public init() {}
}

/// The scaler's state, kept in the Application so a CronJob run behaves like a
/// long-running HPA.
public struct ScalingStatus: Sendable, Hashable, Codable {
    public var lastMetricValue: String?
    public var lastQueryTime: Time?
    public var lastScaleTime: Time?
    public var desiredReplicas: Int32?
    public var consecutiveFailures: Int32?
    /// Stabilization-window history.
    public var recommendations: [Recommendation]?
    /// Rate-policy history.
    public var scaleEvents: [ScaleEvent]?

    public init() {}

    public struct Recommendation: Sendable, Hashable, Codable {
        public var time: Time
        public var replicas: Int32
        public init(time: Time, replicas: Int32) {
            self.time = time
            self.replicas = replicas
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
