import KubeAPI
import KubeAPIExtensions
import TideAPI

/// Settings of the operator that shape children: the scaler image and how the
/// scaler's pods run.
public struct OperatorSettings: Sendable, Hashable {
    /// Image with the `tide-scaler` binary.
    public var scalerImage: String
    public var fieldManager: String = "tide-operator"
    /// Labels every generated ServiceMonitor carries (`--service-monitor-labels`), under
    /// an Application's own `spec.metrics.labels`.
    public var serviceMonitorLabels: [String: String] = [:]

    public init(scalerImage: String = "ghcr.io/tide-dev/tide:0.1.0", serviceMonitorLabels: [String: String] = [:]) {
        self.scalerImage = scalerImage
        self.serviceMonitorLabels = serviceMonitorLabels
    }
}

/// One child object Tide wants to exist, in the form it server-side applies.
public struct DesiredChild: Sendable, Hashable {
    public var resource: ResourceDescriptor
    public var name: String
    /// The apply body: exactly the fields Tide owns.
    public var body: JSONValue
    /// The body leaves `spec.replicas` to a HorizontalPodAutoscaler (mode HPA): before
    /// such a body is applied over a live object, the live count is handed to a
    /// separate field manager, so that releasing the field does not reset it.
    public var handsReplicasToAutoscaler = false

    public init(_ object: some KubernetesObject) throws {
        resource = type(of: object).resource
        name = object.name
        var typed = object
        typed.setTypeMeta()
        body = try JSONValue(encoding: typed)
    }

    /// `Deployment hello`, for messages.
    public var description: String { "\(resource.kind) \(name)" }
}

/// Pure builders: Application → the children it should have (docs/architecture.md).
public enum Children {
    /// Labels on every child and on the pods.
    public static func labels(for application: Application) -> [String: String] {
        [
            "app.kubernetes.io/name": application.name,
            "app.kubernetes.io/instance": application.name,
            "app.kubernetes.io/managed-by": "tide",
        ]
    }

    /// The pod selector of the Deployment and Service.
    public static func selector(for application: Application) -> [String: String] {
        ["app.kubernetes.io/name": application.name, "app.kubernetes.io/instance": application.name]
    }

    /// The selector in query form, as `status.selector` reports it.
    public static func selectorString(for application: Application) -> String {
        LabelSelector(matchLabels: selector(for: application)).queryString
    }

    public static func ownerReference(for application: Application) -> OwnerReference {
        OwnerReference(
            apiVersion: Application.resource.apiVersion, kind: Application.resource.kind, name: application.name,
            uid: application.metadata.uid ?? "", controller: true, blockOwnerDeletion: true)
    }

    static func metadata(_ name: String, for application: Application, component: String? = nil) -> ObjectMeta {
        var labels = labels(for: application)
        if let component { labels["app.kubernetes.io/component"] = component }
        return ObjectMeta(name: name, namespace: application.namespace, labels: labels, ownerReferences: [ownerReference(for: application)])
    }

    /// The restricted Pod Security Standard, at container level. The root filesystem
    /// stays writable for the user's container (the standard does not require
    /// otherwise, and many services write temporary files).
    static let restrictedContainer = SecurityContext(
        runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: .init(drop: ["ALL"]),
        seccompProfile: SeccompProfile(type: "RuntimeDefault"))

    /// The scaler writes nothing to disk: its root filesystem is read-only as well.
    static let scalerContainer: SecurityContext = {
        var context = restrictedContainer
        context.readOnlyRootFilesystem = true
        return context
    }()

    /// The restricted Pod Security Standard, at pod level.
    static let restrictedPod = PodSecurityContext(runAsNonRoot: true, seccompProfile: SeccompProfile(type: "RuntimeDefault"))

    /// Every child, given a defaulted, valid spec. The ServiceMonitor is included only
    /// when `serviceMonitors` is true (its CRD is installed).
    /// In mode HPA there is no scaler: a HorizontalPodAutoscaler (none while
    /// `paused`, which leaves the replicas where they are) scales the Deployment, whose
    /// `spec.replicas` Tide then leaves alone.
    public static func desired(for application: Application, settings: OperatorSettings, serviceMonitors: Bool) throws -> [DesiredChild] {
        var deployment = try DesiredChild(deployment(for: application))
        deployment.handsReplicasToAutoscaler = application.spec.scaling?.mode == .hpa
        var children = [deployment, try DesiredChild(service(for: application))]
        if serviceMonitors { children.append(try DesiredChild(serviceMonitor(for: application, defaultLabels: settings.serviceMonitorLabels))) }
        if let scaling = application.spec.scaling {
            let mode = scaling.mode ?? .cronJob
            if mode == .hpa {
                if scaling.paused != true { children.append(try DesiredChild(horizontalPodAutoscaler(for: application))) }
                return children
            }
            children.append(try DesiredChild(scalerServiceAccount(for: application)))
            children.append(try DesiredChild(scalerRole(for: application)))
            children.append(try DesiredChild(scalerRoleBinding(for: application)))
            switch mode {
            case .cronJob: children.append(try DesiredChild(scalerCronJob(for: application, settings: settings)))
            case .continuous: children.append(try DesiredChild(scalerDeployment(for: application, settings: settings)))
            case .hpa: break
            }
        }
        return children
    }

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
            let target: HorizontalPodAutoscaler.MetricTarget = switch metric.target.type {
            case .perReplica: .init(type: "AverageValue", averageValue: metric.target.value)
            case .total: .init(type: "Value", value: metric.target.value)
            }
            switch scaling?.hpaMetricType ?? .external {
            case .external:
                return HorizontalPodAutoscaler.MetricSpec(external: .init(metric: .init(name: externalMetricName(metric, of: application)), target: target))
            case .object:
                let described = HorizontalPodAutoscaler.CrossVersionObjectReference(
                    apiVersion: Application.resource.apiVersion, kind: Application.resource.kind, name: application.name)
                return HorizontalPodAutoscaler.MetricSpec(object: .init(describedObject: described, metric: .init(name: metric.name), target: target))
            }
        }
        func rules(_ rules: ScalingRules?) -> HorizontalPodAutoscaler.Rules? {
            rules.map {
                .init(
                    stabilizationWindowSeconds: $0.stabilizationWindowSeconds, selectPolicy: $0.selectPolicy?.rawValue,
                    policies: $0.policies?.map { .init(type: $0.type.rawValue, value: $0.value, periodSeconds: $0.periodSeconds) })
            }
        }
        let behavior = scaling?.behavior.map { HorizontalPodAutoscaler.Behavior(scaleUp: rules($0.scaleUp), scaleDown: rules($0.scaleDown)) }
        return HorizontalPodAutoscaler(
            metadata: metadata(application.name, for: application, component: "autoscaler"),
            spec: .init(
                scaleTargetRef: .init(apiVersion: Deployment.resource.apiVersion, kind: Deployment.resource.kind, name: application.name),
                minReplicas: max(scaling?.minReplicas ?? Defaults.minReplicas, 1), maxReplicas: scaling?.maxReplicas ?? 1,
                metrics: metrics, behavior: behavior))
    }

    public static func deployment(for application: Application) -> Deployment {
        let spec = application.spec
        let port = spec.port ?? Defaults.port
        let metrics = spec.metrics ?? MetricsEndpoint()
        let probe = Probe(httpGet: .init(path: "/healthz", port: .string("http")), periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3)
        let container = Container(
            name: "app", image: spec.image, ports: [ContainerPort(name: "http", containerPort: port, protocol: "TCP")],
            env: spec.env?.isEmpty == false ? spec.env : nil,
            resources: spec.resources.map {
                ResourceRequirements(limits: CanonicalQuantity.canonical($0.limits), requests: CanonicalQuantity.canonical($0.requests))
            },
            livenessProbe: probe,
            readinessProbe: Probe(httpGet: .init(path: "/healthz", port: .string("http")), periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 3),
            securityContext: restrictedContainer)
        var podMetadata = ObjectMeta(labels: labels(for: application))
        podMetadata.annotations = [
            "prometheus.io/scrape": "true", "prometheus.io/port": String(port),
            "prometheus.io/path": metrics.path ?? Defaults.metricsPath,
        ]
        var podSpec = PodSpec(containers: [container], securityContext: restrictedPod)
        podSpec.automountServiceAccountToken = false
        return Deployment(
            metadata: metadata(application.name, for: application, component: "server"),
            spec: .init(
                // Mode HPA: the HorizontalPodAutoscaler owns the count.
                replicas: spec.scaling?.mode == .hpa ? nil : spec.effectiveReplicas, selector: LabelSelector(matchLabels: selector(for: application)),
                template: PodTemplateSpec(metadata: podMetadata, spec: podSpec)))
    }

    public static func service(for application: Application) -> Service {
        Service(
            metadata: metadata(application.name, for: application, component: "server"),
            spec: .init(
                type: "ClusterIP", selector: selector(for: application),
                ports: [ServicePort(name: "http", port: application.spec.port ?? Defaults.port, targetPort: .string("http"), protocol: "TCP")]))
    }

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

    public static func scalerName(for application: Application) -> String { "\(application.name)-scaler" }

    public static func scalerServiceAccount(for application: Application) -> ServiceAccount {
        ServiceAccount(metadata: metadata(scalerName(for: application), for: application, component: "scaler"))
    }

    /// What the scaler may do, and only to its own Application: read it, write its
    /// `/scale` and `/status`, and record (and fold repeated) Events. No Secret: the
    /// credentials its metric needs are mounted as files.
    ///
    /// The operator holds every one of these permissions itself (RBAC lets it grant
    /// only what it has), so it needs no `escalate` or `bind`.
    public static func scalerRole(for application: Application) -> Role {
        Role(
            metadata: metadata(scalerName(for: application), for: application, component: "scaler"),
            rules: [
                .init(apiGroups: ["tide.dev"], resources: ["applications"], resourceNames: [application.name], verbs: ["get"]),
                .init(
                    apiGroups: ["tide.dev"], resources: ["applications/scale", "applications/status"], resourceNames: [application.name],
                    verbs: ["get", "patch", "update"]),
                .init(apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "get", "patch"]),
            ])
    }

    public static func scalerRoleBinding(for application: Application) -> RoleBinding {
        RoleBinding(
            metadata: metadata(scalerName(for: application), for: application, component: "scaler"),
            roleRef: .init(kind: "Role", name: scalerName(for: application)),
            subjects: [.init(kind: "ServiceAccount", name: scalerName(for: application), namespace: application.namespace)])
    }

    /// Where the scaler pod finds the credentials its metrics' sources name: one
    /// folder per metric, with the files ``MetricCredentialFiles`` names.
    public static let credentialsDirectory = "/var/run/secrets/tide.dev/metrics"

    /// The scaler's arguments: which Application to scale, and where its credentials are.
    public static func scalerArguments(for application: Application) -> [String] {
        var arguments = ["--namespace", application.namespace ?? "default", "--application", application.name]
        if credentialsVolume(for: application) != nil { arguments += ["--credentials-dir", credentialsDirectory] }
        return arguments
    }

    /// The Secret keys each metric's source names (auth and header values), projected
    /// into one volume as `<metric>/<file>`. Optional, so a missing Secret lets the
    /// scaler start and say so (MetricUnavailable) instead of a pod stuck in
    /// ContainerCreating.
    public static func credentialsVolume(for application: Application) -> Volume? {
        var sources: [ProjectedVolumeSource.Source] = []
        for metric in application.spec.scaling?.resolvedMetrics ?? [] {
            func project(_ secret: String, _ items: [(key: String, file: String)]) {
                sources.append(.init(secret: .init(
                    name: secret, items: items.map { .init(key: $0.key, path: "\(metric.name)/\($0.file)") }, optional: true)))
            }
            if let auth = metric.auth {
                if let token = auth.bearerTokenSecretRef { project(token.name, [(token.key, MetricCredentialFiles.token)]) }
                if let basic = auth.basicAuthSecretRef {
                    project(basic.name, [
                        (basic.usernameKey ?? "username", MetricCredentialFiles.username),
                        (basic.passwordKey ?? "password", MetricCredentialFiles.password),
                    ])
                }
                if let ca = auth.caSecretRef { project(ca.name, [(ca.key, MetricCredentialFiles.certificateAuthority)]) }
            }
            for header in metric.http?.headers ?? [] {
                if let reference = header.valueFrom?.secretKeyRef {
                    project(reference.name, [(reference.key, MetricCredentialFiles.header(header.name))])
                }
            }
        }
        guard !sources.isEmpty else { return nil }
        return Volume(name: "metric-credentials", projected: .init(sources: sources))
    }

    static func scalerPod(for application: Application, settings: OperatorSettings, arguments: [String], restartPolicy: String) -> PodTemplateSpec {
        var labels = labels(for: application)
        labels["app.kubernetes.io/name"] = scalerName(for: application)
        labels["app.kubernetes.io/component"] = "scaler"
        let container = Container(
            name: "scaler", image: settings.scalerImage, command: ["tide-scaler"], args: arguments,
            resources: ResourceRequirements(limits: ["memory": "64Mi"], requests: ["cpu": "10m", "memory": "32Mi"]),
            securityContext: scalerContainer)
        var spec = PodSpec(
            containers: [container], serviceAccountName: scalerName(for: application), restartPolicy: restartPolicy,
            securityContext: restrictedPod)
        spec.automountServiceAccountToken = true
        if let volume = credentialsVolume(for: application) {
            spec.volumes = [volume]
            spec.containers[0].volumeMounts = [VolumeMount(name: volume.name, mountPath: credentialsDirectory, readOnly: true)]
        }
        return PodTemplateSpec(metadata: ObjectMeta(labels: labels), spec: spec)
    }

    public static func scalerCronJob(for application: Application, settings: OperatorSettings) -> CronJob {
        let scaling = application.spec.scaling
        return CronJob(
            metadata: metadata(scalerName(for: application), for: application, component: "scaler"),
            spec: .init(
                schedule: scaling?.schedule ?? Defaults.schedule, concurrencyPolicy: "Forbid", suspend: false,
                startingDeadlineSeconds: 60, successfulJobsHistoryLimit: 1, failedJobsHistoryLimit: 1,
                // A run that decided, or recorded why it could not, exits 0: the Job neither
                // retries it (which would count a failure twice) nor warns every tick.
                // backoffLimit 1 retries only a run that could not record anything.
                jobTemplate: .init(spec: .init(
                    backoffLimit: 1, activeDeadlineSeconds: 120, ttlSecondsAfterFinished: 600,
                    template: scalerPod(
                        for: application, settings: settings, arguments: scalerArguments(for: application) + ["--exit-zero-when-recorded"],
                        restartPolicy: "Never")))))
    }

    /// `mode: Continuous`: one scaler pod that loops every `interval`.
    public static func scalerDeployment(for application: Application, settings: OperatorSettings) -> Deployment {
        let interval = application.spec.scaling?.interval ?? Defaults.continuousInterval
        let template = scalerPod(
            for: application, settings: settings, arguments: scalerArguments(for: application) + ["--interval", interval],
            restartPolicy: "Always")
        var selector = selector(for: application)
        selector["app.kubernetes.io/name"] = scalerName(for: application)
        return Deployment(
            metadata: metadata(scalerName(for: application), for: application, component: "scaler"),
            // Recreate: never two scalers at once, not even during a rollout.
            spec: .init(replicas: 1, selector: LabelSelector(matchLabels: selector), template: template, strategy: .init(type: "Recreate")))
    }
}

extension Children {
    /// Whether the live child cannot take the desired one in place and must be deleted
    /// and created again: a RoleBinding's `roleRef` is immutable, and a Deployment
    /// whose server-defaulted `rollingUpdate` stays behind cannot switch to `Recreate`.
    public static func requiresReplacement(_ desired: DesiredChild, live: JSONValue) -> Bool {
        switch desired.resource {
        case RoleBinding.resource:
            guard let roleRef = desired.body["roleRef"] else { return false }
            return live["roleRef"] != nil && live["roleRef"] != roleRef
        case Deployment.resource:
            let wanted = desired.body["spec"]?["strategy"]?["type"]?.stringValue
            let current = live["spec"]?["strategy"]?["type"]?.stringValue
            return wanted == "Recreate" && current != nil && current != "Recreate"
        default:
            return false
        }
    }
}
