/// `apps/v1` Deployment.
public struct Deployment: NamespacedObject, HasStatusSubresource, HasScaleSubresource, Hashable {
    public static let resource = ResourceDescriptor(
        group: "apps", version: "v1", plural: "deployments", kind: "Deployment", namespaced: true)
    public var apiVersion: String? = "apps/v1"
    public var kind: String? = "Deployment"
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public init(metadata: ObjectMeta, spec: Spec? = nil, status: Status? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public struct Spec: Sendable, Hashable, Codable {
        public var replicas: Int32?
        public var selector: LabelSelector
        public var template: PodTemplateSpec
        public var revisionHistoryLimit: Int32?
        public var strategy: Strategy?

        public init(replicas: Int32? = nil, selector: LabelSelector, template: PodTemplateSpec, strategy: Strategy? = nil) {
            self.replicas = replicas
            self.selector = selector
            self.template = template
            self.strategy = strategy
        }
    }

    /// `DeploymentStrategy`: `Recreate` stops the old pods before starting new ones;
    /// `RollingUpdate` (the server's default) overlaps them.
    public struct Strategy: Sendable, Hashable, Codable {
        public var type: String?
        public init(type: String? = nil) { self.type = type }
    }

    public struct Status: Sendable, Hashable, Codable {
        public var observedGeneration: Int64?
        public var replicas: Int32?
        public var updatedReplicas: Int32?
        public var readyReplicas: Int32?
        public var availableReplicas: Int32?
        public var unavailableReplicas: Int32?
        public var conditions: [DeploymentCondition]?

        public init(
            observedGeneration: Int64? = nil, replicas: Int32? = nil, updatedReplicas: Int32? = nil,
            readyReplicas: Int32? = nil, availableReplicas: Int32? = nil, conditions: [DeploymentCondition]? = nil
        ) {
            self.observedGeneration = observedGeneration
            self.replicas = replicas
            self.updatedReplicas = updatedReplicas
            self.readyReplicas = readyReplicas
            self.availableReplicas = availableReplicas
            self.conditions = conditions
        }
    }

    /// `apps/v1` DeploymentCondition (`Available`, `Progressing`, `ReplicaFailure`).
    public struct DeploymentCondition: Sendable, Hashable, Codable {
        public var type: String
        public var status: String
        public var reason: String?
        public var message: String?
        public var lastUpdateTime: Time?
        public var lastTransitionTime: Time?

        public init(type: String, status: String, reason: String? = nil, message: String? = nil) {
            self.type = type
            self.status = status
            self.reason = reason
            self.message = message
        }
    }
}

/// `batch/v1` CronJob.
public struct CronJob: NamespacedObject, HasStatusSubresource, Hashable {
    public static let resource = ResourceDescriptor(
        group: "batch", version: "v1", plural: "cronjobs", kind: "CronJob", namespaced: true)
    public var apiVersion: String? = "batch/v1"
    public var kind: String? = "CronJob"
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public init(metadata: ObjectMeta, spec: Spec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }

    public struct Spec: Sendable, Hashable, Codable {
        public var schedule: String
        /// `Allow`, `Forbid` or `Replace`.
        public var concurrencyPolicy: String?
        public var suspend: Bool?
        public var startingDeadlineSeconds: Int64?
        public var successfulJobsHistoryLimit: Int32?
        public var failedJobsHistoryLimit: Int32?
        public var jobTemplate: JobTemplateSpec

        public init(
            schedule: String, concurrencyPolicy: String? = nil, suspend: Bool? = nil,
            startingDeadlineSeconds: Int64? = nil, successfulJobsHistoryLimit: Int32? = nil,
            failedJobsHistoryLimit: Int32? = nil, jobTemplate: JobTemplateSpec
        ) {
            self.schedule = schedule
            self.concurrencyPolicy = concurrencyPolicy
            self.suspend = suspend
            self.startingDeadlineSeconds = startingDeadlineSeconds
            self.successfulJobsHistoryLimit = successfulJobsHistoryLimit
            self.failedJobsHistoryLimit = failedJobsHistoryLimit
            self.jobTemplate = jobTemplate
        }
    }

    public struct JobTemplateSpec: Sendable, Hashable, Codable {
        public var metadata: ObjectMeta?
        public var spec: JobSpec

        public init(metadata: ObjectMeta? = nil, spec: JobSpec) {
            self.metadata = metadata
            self.spec = spec
        }
    }

    public struct JobSpec: Sendable, Hashable, Codable {
        public var backoffLimit: Int32?
        public var activeDeadlineSeconds: Int64?
        public var ttlSecondsAfterFinished: Int32?
        public var template: PodTemplateSpec

        public init(
            backoffLimit: Int32? = nil, activeDeadlineSeconds: Int64? = nil, ttlSecondsAfterFinished: Int32? = nil,
            template: PodTemplateSpec
        ) {
            self.backoffLimit = backoffLimit
            self.activeDeadlineSeconds = activeDeadlineSeconds
            self.ttlSecondsAfterFinished = ttlSecondsAfterFinished
            self.template = template
        }
    }

    public struct Status: Sendable, Hashable, Codable {
        public var lastScheduleTime: Time?
        public var lastSuccessfulTime: Time?
    }
}

/// `rbac.authorization.k8s.io/v1` RoleBinding.
/// `rbac.authorization.k8s.io/v1` Role.
public struct Role: NamespacedObject, Hashable {
    public static let resource = ResourceDescriptor(
        group: "rbac.authorization.k8s.io", version: "v1", plural: "roles", kind: "Role", namespaced: true)
    public var apiVersion: String? = "rbac.authorization.k8s.io/v1"
    public var kind: String? = "Role"
    public var metadata: ObjectMeta
    public var rules: [PolicyRule]?

    public init(metadata: ObjectMeta, rules: [PolicyRule]) {
        self.metadata = metadata
        self.rules = rules
    }

    /// One rule: verbs on resources of API groups, optionally only the named objects.
    public struct PolicyRule: Sendable, Hashable, Codable {
        public var apiGroups: [String]?
        public var resources: [String]?
        public var resourceNames: [String]?
        public var verbs: [String]

        public init(apiGroups: [String], resources: [String], resourceNames: [String]? = nil, verbs: [String]) {
            self.apiGroups = apiGroups
            self.resources = resources
            self.resourceNames = resourceNames
            self.verbs = verbs
        }
    }
}

public struct RoleBinding: NamespacedObject, Hashable {
    public static let resource = ResourceDescriptor(
        group: "rbac.authorization.k8s.io", version: "v1", plural: "rolebindings", kind: "RoleBinding",
        namespaced: true)
    public var apiVersion: String? = "rbac.authorization.k8s.io/v1"
    public var kind: String? = "RoleBinding"
    public var metadata: ObjectMeta
    public var roleRef: RoleRef
    public var subjects: [Subject]?

    public init(metadata: ObjectMeta, roleRef: RoleRef, subjects: [Subject]? = nil) {
        self.metadata = metadata
        self.roleRef = roleRef
        self.subjects = subjects
    }

    public struct RoleRef: Sendable, Hashable, Codable {
        public var apiGroup: String
        /// `Role` or `ClusterRole`.
        public var kind: String
        public var name: String

        public init(apiGroup: String = "rbac.authorization.k8s.io", kind: String, name: String) {
            self.apiGroup = apiGroup
            self.kind = kind
            self.name = name
        }
    }

    public struct Subject: Sendable, Hashable, Codable {
        /// `ServiceAccount`, `User` or `Group`.
        public var kind: String
        public var name: String
        public var namespace: String?
        public var apiGroup: String?

        public init(kind: String, name: String, namespace: String? = nil, apiGroup: String? = nil) {
            self.kind = kind
            self.name = name
            self.namespace = namespace
            self.apiGroup = apiGroup
        }
    }
}

/// `monitoring.coreos.com/v1` ServiceMonitor (Prometheus Operator).
public struct ServiceMonitor: NamespacedObject, Hashable {
    public static let resource = ResourceDescriptor(
        group: "monitoring.coreos.com", version: "v1", plural: "servicemonitors", kind: "ServiceMonitor",
        namespaced: true)
    public var apiVersion: String? = "monitoring.coreos.com/v1"
    public var kind: String? = "ServiceMonitor"
    public var metadata: ObjectMeta
    public var spec: Spec

    public init(metadata: ObjectMeta, spec: Spec) {
        self.metadata = metadata
        self.spec = spec
    }

    public struct Spec: Sendable, Hashable, Codable {
        public var selector: LabelSelector
        public var endpoints: [Endpoint]

        public init(selector: LabelSelector, endpoints: [Endpoint]) {
            self.selector = selector
            self.endpoints = endpoints
        }
    }

    public struct Endpoint: Sendable, Hashable, Codable {
        /// The Service port name to scrape.
        public var port: String?
        public var path: String?
        /// Prometheus duration, e.g. `15s`.
        public var interval: String?
        public var scheme: String?

        public init(port: String? = nil, path: String? = nil, interval: String? = nil, scheme: String? = nil) {
            self.port = port
            self.path = path
            self.interval = interval
            self.scheme = scheme
        }
    }
}

/// `autoscaling/v1` Scale: what the `scale` subresource reads and writes.
public struct Scale: Sendable, Hashable, Codable {
    public var apiVersion: String? = "autoscaling/v1"
    public var kind: String? = "Scale"
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?

    public init(metadata: ObjectMeta, spec: Spec, status: Status? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public struct Spec: Sendable, Hashable, Codable {
        public var replicas: Int32?
        public init(replicas: Int32?) { self.replicas = replicas }
    }

    public struct Status: Sendable, Hashable, Codable {
        public var replicas: Int32
        /// The label selector of the scaled pods, in query-string form.
        public var selector: String?

        public init(replicas: Int32, selector: String? = nil) {
            self.replicas = replicas
            self.selector = selector
        }
    }
}

/// `coordination.k8s.io/v1` Lease, used for leader election.
public struct Lease: NamespacedObject, Hashable {
    public static let resource = ResourceDescriptor(
        group: "coordination.k8s.io", version: "v1", plural: "leases", kind: "Lease", namespaced: true)
    public var apiVersion: String? = "coordination.k8s.io/v1"
    public var kind: String? = "Lease"
    public var metadata: ObjectMeta
    public var spec: Spec?

    public init(metadata: ObjectMeta, spec: Spec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }

    public struct Spec: Sendable, Hashable, Codable {
        public var holderIdentity: String?
        public var leaseDurationSeconds: Int32?
        public var acquireTime: MicroTime?
        public var renewTime: MicroTime?
        public var leaseTransitions: Int32?

        public init(
            holderIdentity: String? = nil, leaseDurationSeconds: Int32? = nil, acquireTime: MicroTime? = nil,
            renewTime: MicroTime? = nil, leaseTransitions: Int32? = nil
        ) {
            self.holderIdentity = holderIdentity
            self.leaseDurationSeconds = leaseDurationSeconds
            self.acquireTime = acquireTime
            self.renewTime = renewTime
            self.leaseTransitions = leaseTransitions
        }
    }
}

/// `events.k8s.io/v1` Event: what `kubectl describe` shows under Events.
public struct Event: NamespacedObject, Hashable {
    public static let resource = ResourceDescriptor(
        group: "events.k8s.io", version: "v1", plural: "events", kind: "Event", namespaced: true)
    public var apiVersion: String? = "events.k8s.io/v1"
    public var kind: String? = "Event"
    public var metadata: ObjectMeta
    public var eventTime: MicroTime
    public var series: Series?
    public var reportingController: String?
    public var reportingInstance: String?
    public var action: String?
    public var reason: String?
    public var regarding: ObjectReference?
    public var note: String?
    /// `Normal` or `Warning`.
    public var type: String?

    public init(
        metadata: ObjectMeta, eventTime: MicroTime, reportingController: String, reportingInstance: String,
        action: String, reason: String, regarding: ObjectReference, note: String, type: String
    ) {
        self.metadata = metadata
        self.eventTime = eventTime
        self.reportingController = reportingController
        self.reportingInstance = reportingInstance
        self.action = action
        self.reason = reason
        self.regarding = regarding
        self.note = note
        self.type = type
    }

    /// Repeats of the same event, folded into one object.
    public struct Series: Sendable, Hashable, Codable {
        public var count: Int32
        public var lastObservedTime: MicroTime

        public init(count: Int32, lastObservedTime: MicroTime) {
            self.count = count
            self.lastObservedTime = lastObservedTime
        }
    }
}

/// `apiextensions.k8s.io/v1` CustomResourceDefinition: names, versions and
/// subresources; schemas are kept as raw JSON.
public struct CustomResourceDefinition: ClusterScopedObject, Hashable {
    public static let resource = ResourceDescriptor(
        group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions",
        kind: "CustomResourceDefinition", namespaced: false)
    public var apiVersion: String? = "apiextensions.k8s.io/v1"
    public var kind: String? = "CustomResourceDefinition"
    public var metadata: ObjectMeta
    public var spec: Spec

    public init(metadata: ObjectMeta, spec: Spec) {
        self.metadata = metadata
        self.spec = spec
    }

    public struct Spec: Sendable, Hashable, Codable {
        public var group: String
        public var names: Names
        /// `Namespaced` or `Cluster`.
        public var scope: String
        public var versions: [Version]

        public init(group: String, names: Names, scope: String, versions: [Version]) {
            self.group = group
            self.names = names
            self.scope = scope
            self.versions = versions
        }
    }

    public struct Names: Sendable, Hashable, Codable {
        public var plural: String
        public var singular: String?
        public var kind: String
        public var listKind: String?
        public var shortNames: [String]?
        public var categories: [String]?

        public init(
            plural: String, singular: String? = nil, kind: String, listKind: String? = nil,
            shortNames: [String]? = nil, categories: [String]? = nil
        ) {
            self.plural = plural
            self.singular = singular
            self.kind = kind
            self.listKind = listKind
            self.shortNames = shortNames
            self.categories = categories
        }
    }

    public struct Version: Sendable, Hashable, Codable {
        public var name: String
        public var served: Bool
        public var storage: Bool
        public var schema: Schema?
        public var subresources: Subresources?
        public var additionalPrinterColumns: [JSONValue]?

        public init(
            name: String, served: Bool = true, storage: Bool = true, schema: Schema? = nil,
            subresources: Subresources? = nil
        ) {
            self.name = name
            self.served = served
            self.storage = storage
            self.schema = schema
            self.subresources = subresources
        }
    }

    public struct Schema: Sendable, Hashable, Codable {
        public var openAPIV3Schema: JSONValue?
        public init(openAPIV3Schema: JSONValue?) { self.openAPIV3Schema = openAPIV3Schema }
    }

    public struct Subresources: Sendable, Hashable, Codable {
        /// Present (as an empty object) when the status subresource is enabled.
        public var status: JSONValue?
        public var scale: ScaleSubresource?

        public init(status: JSONValue? = nil, scale: ScaleSubresource? = nil) {
            self.status = status
            self.scale = scale
        }
    }

    public struct ScaleSubresource: Sendable, Hashable, Codable {
        public var specReplicasPath: String
        public var statusReplicasPath: String
        public var labelSelectorPath: String?

        public init(specReplicasPath: String, statusReplicasPath: String, labelSelectorPath: String? = nil) {
            self.specReplicasPath = specReplicasPath
            self.statusReplicasPath = statusReplicasPath
            self.labelSelectorPath = labelSelectorPath
        }
    }
}

extension Deployment {
    /// Shares the metadata's, the selector's, the pod template's and the conditions'
    /// strings (see ``StringInterner``).
    public mutating func internStrings(_ interner: StringInterner) {
        internMetadataStrings(interner)
        spec?.selector.internStrings(interner)
        spec?.template.internStrings(interner)
        if let conditions = status?.conditions {
            status?.conditions = conditions.map { condition in
                var condition = condition
                condition.type = interner.intern(condition.type)
                condition.reason = condition.reason.map(interner.intern)
                condition.message = condition.message.map(interner.intern)
                return condition
            }
        }
    }
}

extension CronJob {
    /// Shares the metadata's and the job template's strings (see ``StringInterner``).
    public mutating func internStrings(_ interner: StringInterner) {
        internMetadataStrings(interner)
        spec?.jobTemplate.metadata?.internStrings(interner)
        spec?.jobTemplate.spec.template.internStrings(interner)
    }
}
