import KubeAPI

/// `autoscaling/v2` HorizontalPodAutoscaler: the fields Tide's HPA mode sets and reads.
public struct HorizontalPodAutoscaler: NamespacedObject, HasStatusSubresource, Hashable {
    public static let resource = ResourceDescriptor(
        group: "autoscaling", version: "v2", plural: "horizontalpodautoscalers", kind: "HorizontalPodAutoscaler", namespaced: true)
    public var apiVersion: String? = "autoscaling/v2"
    public var kind: String? = "HorizontalPodAutoscaler"
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public init(metadata: ObjectMeta, spec: Spec? = nil, status: Status? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public struct Spec: Sendable, Hashable, Codable {
        public var scaleTargetRef: CrossVersionObjectReference
        public var minReplicas: Int32?
        public var maxReplicas: Int32
        public var metrics: [MetricSpec]?
        public var behavior: Behavior?

        public init(
            scaleTargetRef: CrossVersionObjectReference, minReplicas: Int32?, maxReplicas: Int32, metrics: [MetricSpec]?, behavior: Behavior? = nil
        ) {
            self.scaleTargetRef = scaleTargetRef
            self.minReplicas = minReplicas
            self.maxReplicas = maxReplicas
            self.metrics = metrics
            self.behavior = behavior
        }
    }

    public struct CrossVersionObjectReference: Sendable, Hashable, Codable {
        public var apiVersion: String?
        public var kind: String
        public var name: String

        public init(apiVersion: String, kind: String, name: String) {
            self.apiVersion = apiVersion
            self.kind = kind
            self.name = name
        }
    }

    /// One metric; Tide uses `External` only.
    public struct MetricSpec: Sendable, Hashable, Codable {
        public var type: String
        public var external: ExternalMetricSource?
        public var object: ObjectMetricSource?

        public init(external: ExternalMetricSource) {
            self.type = "External"
            self.external = external
        }

        public init(object: ObjectMetricSource) {
            self.type = "Object"
            self.object = object
        }
    }

    /// A metric describing one object, read from `custom.metrics.k8s.io`.
    public struct ObjectMetricSource: Sendable, Hashable, Codable {
        public var describedObject: CrossVersionObjectReference
        public var metric: MetricIdentifier
        public var target: MetricTarget

        public init(describedObject: CrossVersionObjectReference, metric: MetricIdentifier, target: MetricTarget) {
            self.describedObject = describedObject
            self.metric = metric
            self.target = target
        }
    }

    public struct ExternalMetricSource: Sendable, Hashable, Codable {
        public var metric: MetricIdentifier
        public var target: MetricTarget

        public init(metric: MetricIdentifier, target: MetricTarget) {
            self.metric = metric
            self.target = target
        }
    }

    public struct MetricIdentifier: Sendable, Hashable, Codable {
        public var name: String
        public var selector: LabelSelector?

        public init(name: String, selector: LabelSelector? = nil) {
            self.name = name
            self.selector = selector
        }
    }

    /// `Value` (the metric as a whole) or `AverageValue` (the metric per replica).
    public struct MetricTarget: Sendable, Hashable, Codable {
        public var type: String
        public var value: String?
        public var averageValue: String?

        public init(type: String, value: String? = nil, averageValue: String? = nil) {
            self.type = type
            self.value = value
            self.averageValue = averageValue
        }
    }

    public struct Behavior: Sendable, Hashable, Codable {
        public var scaleUp: Rules?
        public var scaleDown: Rules?

        public init(scaleUp: Rules?, scaleDown: Rules?) {
            self.scaleUp = scaleUp
            self.scaleDown = scaleDown
        }
    }

    public struct Rules: Sendable, Hashable, Codable {
        public var stabilizationWindowSeconds: Int32?
        public var selectPolicy: String?
        public var policies: [Policy]?

        public init(stabilizationWindowSeconds: Int32?, selectPolicy: String?, policies: [Policy]?) {
            self.stabilizationWindowSeconds = stabilizationWindowSeconds
            self.selectPolicy = selectPolicy
            self.policies = policies
        }
    }

    public struct Policy: Sendable, Hashable, Codable {
        public var type: String
        public var value: Int32
        public var periodSeconds: Int32

        public init(type: String, value: Int32, periodSeconds: Int32) {
            self.type = type
            self.value = value
            self.periodSeconds = periodSeconds
        }
    }

    public struct Status: Sendable, Hashable, Codable {
        public var currentReplicas: Int32?
        public var desiredReplicas: Int32?
        public var lastScaleTime: Time?
        public var conditions: [HPACondition]?
    }

    /// `AbleToScale`, `ScalingActive` or `ScalingLimited`.
    public struct HPACondition: Sendable, Hashable, Codable {
        public var type: String
        public var status: String
        public var reason: String?
        public var message: String?
        public var lastTransitionTime: Time?
    }
}
