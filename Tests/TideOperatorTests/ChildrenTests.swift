import Foundation
import KubeAPI
import TideAPI
import TideOperator
import LocalKube
import Testing
import TideTestSupport

func application(_ name: String = "hello", namespace: String = "demo", spec: ApplicationSpec) -> Application {
    var metadata = ObjectMeta(name: name, namespace: namespace)
    metadata.uid = "uid-\(name)"
    metadata.generation = 1
    var application = Application(metadata: metadata, spec: spec)
    application.spec = application.spec.withDefaults
    return application
}

func scaled(_ mode: ScalingMode = .cronJob) -> ApplicationSpec {
    var scaling = Scaling(
        maxReplicas: 10, mode: mode,
        prometheus: PrometheusSource(address: "http://prometheus:9090", query: "sum(rate(hello_requests_total[1m]))"),
        target: MetricTarget(type: .perReplica, value: "5"))
    scaling.schedule = "*/2 * * * *"
    return ApplicationSpec(image: "hello:1", scaling: scaling)
}

@Suite("Desired children")
struct ChildrenTests {
    let settings = OperatorSettings(scalerImage: "tide:test")

    @Test("a fixed Application gets a Deployment and a Service; with the CRD, a ServiceMonitor")
    func fixedChildren() throws {
        let app = application(spec: ApplicationSpec(image: "hello:1", replicas: 3))
        let without = try Children.desired(for: app, settings: settings, serviceMonitors: false)
        #expect(without.map(\.description) == ["Deployment hello", "Service hello"])
        let with = try Children.desired(for: app, settings: settings, serviceMonitors: true)
        #expect(with.map(\.description) == ["Deployment hello", "Service hello", "ServiceMonitor hello"])
        for child in with {
            #expect(child.body.value(atPath: ["metadata", "namespace"]) == "demo")
            let owner = child.body.value(atPath: ["metadata", "ownerReferences"])?.arrayValue?.first
            #expect(owner?["kind"] == "Application")
            #expect(owner?["uid"] == "uid-hello")
            #expect(owner?["controller"] == true)
            #expect(child.body.value(atPath: ["metadata", "labels", "app.kubernetes.io/managed-by"]) == "tide")
            #expect(child.body.value(atPath: ["metadata", "labels", "app.kubernetes.io/instance"]) == "hello")
            #expect(child.body.value(atPath: ["metadata", "labels", "app.kubernetes.io/name"]) == "hello")
        }
    }

    @Test("the Deployment: replicas, port, probes on /healthz, env and resources passed through, restricted security")
    func deployment() {
        var spec = ApplicationSpec(image: "hello:2", replicas: 4, port: 9000, env: [EnvVar(name: "GREETING", value: "Hi")])
        spec.resources = ResourceRequirements(limits: ["memory": "64Mi"], requests: ["cpu": "10m"])
        let deployment = Children.deployment(for: application(spec: spec))
        #expect(deployment.spec?.replicas == 4)
        #expect(deployment.spec?.selector.matchLabels == ["app.kubernetes.io/name": "hello", "app.kubernetes.io/instance": "hello"])
        let pod = deployment.spec!.template
        #expect(pod.metadata?.labels?["app.kubernetes.io/name"] == "hello")
        #expect(pod.metadata?.annotations?["prometheus.io/port"] == "9000")
        let container = pod.spec!.containers[0]
        #expect(container.image == "hello:2")
        #expect(container.ports == [ContainerPort(name: "http", containerPort: 9000, protocol: "TCP")])
        #expect(container.env == [EnvVar(name: "GREETING", value: "Hi")])
        #expect(container.resources == spec.resources)
        #expect(container.readinessProbe?.httpGet == .init(path: "/healthz", port: .string("http")))
        #expect(container.livenessProbe?.httpGet?.path == "/healthz")
        // Restricted Pod Security Standard.
        #expect(container.securityContext?.runAsNonRoot == true)
        #expect(container.securityContext?.allowPrivilegeEscalation == false)
        #expect(container.securityContext?.capabilities?.drop == ["ALL"])
        #expect(container.securityContext?.seccompProfile?.type == "RuntimeDefault")
        #expect(pod.spec?.securityContext?.runAsNonRoot == true)
        #expect(pod.spec?.securityContext?.seccompProfile?.type == "RuntimeDefault")
    }

    @Test("the Service and ServiceMonitor expose the named port http and the metrics path")
    func serviceAndMonitor() {
        let app = application(spec: ApplicationSpec(image: "x", port: 9000, metrics: MetricsEndpoint(path: "/q/metrics", interval: "30s")))
        let service = Children.service(for: app)
        #expect(service.spec?.type == "ClusterIP")
        #expect(service.spec?.ports == [ServicePort(name: "http", port: 9000, targetPort: .string("http"), protocol: "TCP")])
        #expect(service.spec?.selector == Children.selector(for: app))
        let monitor = Children.serviceMonitor(for: app)
        #expect(monitor.spec.endpoints == [.init(port: "http", path: "/q/metrics", interval: "30s")])
        #expect(monitor.spec.selector.matchLabels == Children.selector(for: app))
    }

    @Test("the ServiceMonitor carries the operator's default labels under the Application's own, and Tide's labels over both")
    func serviceMonitorLabels() throws {
        let app = application(spec: ApplicationSpec(
            image: "x", metrics: MetricsEndpoint(labels: ["release": "monitoring", "team": "shop", "app.kubernetes.io/managed-by": "me"])))
        var settings = OperatorSettings()
        settings.serviceMonitorLabels = ["release": "kube-prometheus-stack", "scrape": "yes"]
        let children = try Children.desired(for: app, settings: settings, serviceMonitors: true)
        let monitor = try #require(children.first { $0.resource == ServiceMonitor.resource })
        let labels = monitor.body["metadata"]?["labels"]
        #expect(labels?["release"] == "monitoring", "the Application's label wins over the operator's default")
        #expect(labels?["scrape"] == "yes" && labels?["team"] == "shop")
        #expect(labels?["app.kubernetes.io/managed-by"] == .string(Children.labels(for: app)["app.kubernetes.io/managed-by"] ?? ""), "Tide's own labels are kept")
        let plain = application(spec: ApplicationSpec(image: "x"))
        var expected = Children.labels(for: plain)
        expected["app.kubernetes.io/component"] = "server"
        #expect(Children.serviceMonitor(for: plain).metadata.labels == expected, "without labels, only Tide's")
    }

    @Test("--service-monitor-labels that are not key=value are refused before the operator starts, naming the pair")
    func serviceMonitorLabelsFlag() async throws {
        let refused = try await runProcess("\(binariesDirectory)/tide-operator", ["--service-monitor-labels", "release=kps,novalue"])
        #expect(refused.status == 64 && refused.errors.contains("--service-monitor-labels: 'novalue' is not key=value"), "\(refused.errors)")
    }

    @Test("scaling adds the Application's own Autoscaler, which targets the Application; its children are the scaler's ServiceAccount, Role, RoleBinding and CronJob")
    func scalerCronJob() throws {
        let app = application(spec: scaled())
        let children = try Children.desired(for: app, settings: settings, serviceMonitors: false)
        #expect(children.map(\.description) == ["Deployment hello", "Service hello", "Autoscaler hello"])
        let own = try #require(app.scalingAutoscaler)
        #expect(own.spec.scaleTargetRef == ScaleTargetReference(apiVersion: "tide.dev/v1alpha1", kind: "Application", name: "hello"))
        #expect(own.spec.scaling == app.spec.scaling, "the Application's scaling spec, as it is")
        #expect(own.metadata.ownerReferences == [Children.ownerReference(for: app)], "controlled by the Application")
        #expect(own.owningApplication == "hello")
        #expect(try children.last?.body.decode(as: Autoscaler.self).spec == own.spec)

        let scaler = try scalerChildren(for: app)
        #expect(scaler.map(\.description) == ["ServiceAccount hello-scaler", "Role hello-scaler", "RoleBinding hello-scaler", "CronJob hello-scaler"])
        let binding = Children.scalerRoleBinding(for: ScalerOwner(own))
        #expect(binding.roleRef == .init(kind: "Role", name: "hello-scaler"))
        #expect(binding.subjects == [.init(kind: "ServiceAccount", name: "hello-scaler", namespace: "demo")])
        let role = Children.scalerRole(for: own, target: Self.applicationTarget)
        #expect(role.rules?.allSatisfy { !($0.resources ?? []).contains("secrets") } == true, "the scaler reads no Secret")
        for rule in role.rules ?? [] where rule.apiGroups == ["tide.dev"] {
            #expect(rule.resourceNames == ["hello"], "only its own Autoscaler and Application: \(rule)")
        }
        #expect(Set(role.rules?.flatMap { $0.resources ?? [] } ?? []) == ["autoscalers", "autoscalers/status", "applications/scale", "applications", "events"])
        #expect(!(role.rules ?? []).contains { $0.resources == ["applications"] && $0.verbs != ["get"] }, "the Application itself: get only")
        let cronJob = Children.scalerCronJob(for: ScalerOwner(own), settings: settings)
        #expect(cronJob.spec?.schedule == "*/2 * * * *")
        #expect(cronJob.spec?.concurrencyPolicy == "Forbid")
        #expect(cronJob.spec?.successfulJobsHistoryLimit == 1)
        #expect(cronJob.spec?.jobTemplate.spec.backoffLimit == 1)
        let pod = cronJob.spec!.jobTemplate.spec.template
        #expect(pod.spec?.serviceAccountName == "hello-scaler")
        #expect(pod.spec?.restartPolicy == "Never")
        #expect(pod.spec?.containers[0].image == "tide:test")
        #expect(pod.spec?.containers[0].args == ["--namespace", "demo", "--autoscaler", "hello", "--exit-zero-when-recorded"])
        #expect(pod.spec?.volumes == nil, "no credentials named, nothing mounted")
        #expect(pod.spec?.containers[0].securityContext?.capabilities?.drop == ["ALL"])
        #expect(Children.deployment(for: app).spec?.replicas == 1, "minReplicas until the scaler sets replicas")
    }

    @Test("Continuous mode runs the scaler as a one-replica Deployment that loops; in mode HPA the Application's Autoscaler has a HorizontalPodAutoscaler instead")
    func continuous() throws {
        let app = application(spec: scaled(.continuous))
        let children = try scalerChildren(for: app)
        #expect(children.last?.description == "Deployment hello-scaler")
        let own = try #require(app.scalingAutoscaler)
        let scaler = Children.scalerDeployment(for: ScalerOwner(own), settings: settings)
        #expect(scaler.spec?.replicas == 1)
        #expect(scaler.spec?.strategy?.type == "Recreate", "never two scalers at once")
        #expect(scaler.spec?.template.spec?.containers[0].args == ["--namespace", "demo", "--autoscaler", "hello", "--interval", "10s"])
        #expect(scaler.spec?.selector.matchLabels != Children.deployment(for: app).spec?.selector.matchLabels, "scaler pods are not the app's pods")
        let hpa = application(spec: scaled(.hpa))
        #expect(try Children.desired(for: hpa, settings: settings, serviceMonitors: false).map(\.description) == [
            "Deployment hello", "Service hello", "Autoscaler hello",
        ])
        #expect(try scalerChildren(for: hpa).map(\.description) == ["HorizontalPodAutoscaler hello-scaler"])
    }

    static let applicationTarget = AutoscalerChildren.Target(group: "tide.dev", plural: "applications", name: "hello")
}

/// The scaler children of an Application's own Autoscaler, as the operator builds them
/// once discovery has found the Application's resource.
func scalerChildren(for app: Application, settings: OperatorSettings = OperatorSettings(scalerImage: "tide:test")) throws -> [DesiredChild] {
    let own = try #require(app.scalingAutoscaler)
    return try AutoscalerChildren.desired(
        for: own, target: AutoscalerChildren.Target(group: "tide.dev", plural: "applications", name: app.name), settings: settings)
}

@Suite("The scaler's credentials, replaced children and the operator's RBAC")
struct ScalerPrivilegeTests {
    let settings = OperatorSettings(scalerImage: "tide:test")

    @Test("the Secrets a metric's source names are projected as files under <metric>/<fixed name>, optional, and the scaler is told where")
    func credentialsVolume() throws {
        var spec = scaled()
        spec.scaling?.prometheus?.auth = PrometheusAuth(
            bearerTokenSecretRef: SecretKeyReference(name: "prom", key: "bearer"), caSecretRef: SecretKeyReference(name: "prom-ca", key: "tls.crt"))
        let app = application(spec: spec)
        let own = try #require(app.scalingAutoscaler)
        let pod = try #require(Children.scalerCronJob(for: ScalerOwner(own), settings: settings).spec?.jobTemplate.spec.template.spec)
        let sources = try #require(pod.volumes?.first?.projected?.sources)
        #expect(sources.map { $0.secret?.name } == ["prom", "prom-ca"])
        #expect(sources.first?.secret?.items == [.init(key: "bearer", path: "prometheus/token")])
        #expect(sources.last?.secret?.items == [.init(key: "tls.crt", path: "prometheus/ca.crt")])
        #expect(sources.allSatisfy { $0.secret?.optional == true }, "a missing Secret is reported by the scaler, not a stuck pod")
        #expect(pod.containers[0].volumeMounts == [VolumeMount(name: "metric-credentials", mountPath: Children.credentialsDirectory, readOnly: true)])
        #expect(pod.containers[0].args?.contains(Children.credentialsDirectory) == true)
        var basic = scaled(.continuous)
        basic.scaling?.prometheus?.auth = PrometheusAuth(basicAuthSecretRef: BasicAuthSecretReference(name: "login"))
        let basicOwn = try #require(application(spec: basic).scalingAutoscaler)
        let continuous = Children.scalerDeployment(for: ScalerOwner(basicOwn), settings: settings)
        #expect(continuous.spec?.template.spec?.volumes?.first?.projected?.sources.first?.secret?.items
            == [.init(key: "username", path: "prometheus/username"), .init(key: "password", path: "prometheus/password")])

        // Several metrics: each under its own folder, header values from Secrets too.
        var several = scaled()
        several.scaling?.prometheus = nil
        several.scaling?.target = nil
        several.scaling?.metrics = [
            ScalingMetric(
                name: "orders",
                http: HTTPSource(
                    url: "https://orders:8443/stats", valueLocation: "orders",
                    headers: [
                        HTTPHeaderSource(name: "X-Api-Key", valueFrom: .init(secretKeyRef: SecretKeyReference(name: "orders-key", key: "key"))),
                        HTTPHeaderSource(name: "X-Tenant", value: "demo"),
                    ],
                    auth: MetricSourceAuth(caSecretRef: SecretKeyReference(name: "orders-ca", key: "ca.crt"))),
                target: MetricTarget(type: .perReplica, value: "5")),
            ScalingMetric(
                name: "rps", prometheus: PrometheusSource(address: "http://p:9090", query: "q", auth: PrometheusAuth(
                    bearerTokenSecretRef: SecretKeyReference(name: "prom", key: "token"))),
                target: MetricTarget(type: .perReplica, value: "5")),
        ]
        let items = Children.credentialsVolume(for: several.scaling)?.projected?.sources.compactMap(\.secret).map {
            "\($0.name): " + ($0.items ?? []).map { "\($0.key)→\($0.path)" }.joined(separator: ",")
        }
        #expect(items == ["orders-ca: ca.crt→orders/ca.crt", "orders-key: key→orders/headers/X-Api-Key", "prom: token→rps/token"])
    }

    @Test("immutable differences need a replacement: a RoleBinding's roleRef, a Deployment going to Recreate", arguments: [
        (#"{"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"tide-scaler"}}"#, "RoleBinding", true),
        (#"{"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"hello-scaler"}}"#, "RoleBinding", false),
        (#"{"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%"}}}}"#, "Deployment", true),
        (#"{"spec":{"strategy":{"type":"Recreate"}}}"#, "Deployment", false),
        (#"{"spec":{}}"#, "Deployment", false),
    ])
    func replacement(live: String, kind: String, replace: Bool) throws {
        let app = application(spec: scaled(.continuous))
        // As the reconciler gets it: from the children the Application's Autoscaler should have.
        let children = try scalerChildren(for: app)
        let desired = try #require(children.first { $0.resource.kind == kind && $0.name == "hello-scaler" })
        let liveJSON = try KubeJSON.decoder.decode(JSONValue.self, from: Data(live.utf8))
        #expect(Children.requiresReplacement(desired, live: liveJSON) == replace)
    }

    @Test("config/rbac grants the operator every verb it uses on every child kind, and no Secret, escalate or bind")
    func operatorRole() throws {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("config/rbac/operator_role.yaml"), encoding: .utf8)
        let role = try #require(try ManifestLoader.objects(in: text).first)
        let rules = role["rules"]?.arrayValue ?? []
        func granted(_ group: String, _ resource: String, _ verb: String) -> Bool {
            rules.contains { rule in
                (rule["apiGroups"]?.arrayValue ?? []).contains(.string(group)) && (rule["resources"]?.arrayValue ?? []).contains(.string(resource))
                    && (rule["verbs"]?.arrayValue ?? []).contains(.string(verb)) && rule["resourceNames"] == nil
            }
        }
        for kind in ChildKind.resources {
            for verb in ["get", "list", "watch", "create", "patch", "delete"] {
                #expect(granted(kind.group, kind.plural, verb), "\(verb) \(kind.plural)")
            }
        }
        // What the operator grants each scaler, it must hold itself.
        let own = try #require(application(spec: scaled()).scalingAutoscaler)
        for rule in Children.scalerRole(for: own, target: ChildrenTests.applicationTarget).rules ?? [] {
            for group in rule.apiGroups ?? [] {
                for resource in rule.resources ?? [] {
                    for verb in rule.verbs { #expect(granted(group, resource, verb), "\(verb) \(resource) (granted to the scaler)") }
                }
            }
        }
        #expect(granted("tide.dev", "applications/finalizers", "update"))
        let everything = rules.flatMap { ($0["resources"]?.arrayValue ?? []) + ($0["verbs"]?.arrayValue ?? []) }
        for forbidden in ["secrets", "escalate", "bind", "*"] { #expect(!everything.contains(.string(forbidden)), "\(forbidden)") }
    }
}

@Suite("Status")
struct StatusTests {
    func available(_ replicas: Int32) -> Deployment {
        var deployment = Children.deployment(for: application(spec: ApplicationSpec(image: "x", replicas: replicas)))
        deployment.metadata.generation = 1
        deployment.status = .init(observedGeneration: 1, replicas: replicas, updatedReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas)
        return deployment
    }

    @Test("Ready when the Deployment is available; Progressing while it rolls out; transition times only move on change")
    func readiness() {
        var app = application(spec: ApplicationSpec(image: "x", replicas: 2))
        var observation = Observation()
        observation.deployment = available(2)
        observation.deployment?.status?.availableReplicas = 1
        let t0 = Time(Date(timeIntervalSince1970: 1_000))
        let rolling = StatusBuilder.status(for: app, observation: observation, now: t0)
        #expect(rolling.conditions?[type: "Ready"]?.status == "False")
        #expect(rolling.conditions?[type: "Progressing"]?.status == "True")
        #expect(rolling.conditions?[type: "Degraded"]?.status == "False")
        #expect(rolling.selector == "app.kubernetes.io/instance=x,app.kubernetes.io/name=x".replacingOccurrences(of: "=x", with: "=hello"))
        app.status = rolling
        let t1 = Time(Date(timeIntervalSince1970: 2_000))
        observation.deployment = available(2)
        let ready = StatusBuilder.status(for: app, observation: observation, now: t1)
        #expect(ready.conditions?[type: "Ready"]?.status == "True")
        #expect(ready.conditions?[type: "Ready"]?.lastTransitionTime == t1)
        #expect(ready.conditions?[type: "Degraded"]?.lastTransitionTime == t0, "unchanged status keeps its time")
        #expect(ready.readyReplicas == 2)
        app.status = ready
        #expect(StatusBuilder.status(for: app, observation: observation, now: Time(Date(timeIntervalSince1970: 3_000))) == ready, "steady state: same status")
    }

    @Test("the moment the ready count reaches the scaler's pending scale-up is recorded once, when the operator sees it")
    func scaleUpReady() {
        var app = application(spec: ApplicationSpec(image: "x", replicas: 4))
        var scaling = ScalingStatus()
        let scaledAt = Time(Date(timeIntervalSince1970: 1_000))
        scaling.pendingScaleUp = .init(time: scaledAt, replicas: 4)
        app.status = ApplicationStatus()
        app.status?.scaling = scaling
        var observation = Observation()
        observation.deployment = available(4)
        observation.deployment?.status?.readyReplicas = 3
        let partly = StatusBuilder.status(for: app, observation: observation, now: Time(Date(timeIntervalSince1970: 1_010)))
        #expect(partly.scaleUpReady == nil, "3 of 4 ready: not yet")
        app.status = partly
        observation.deployment = available(4)
        let readyAt = Time(Date(timeIntervalSince1970: 1_020))
        let ready = StatusBuilder.status(for: app, observation: observation, now: readyAt)
        #expect(ready.scaleUpReady == .init(time: readyAt, replicas: 4))
        app.status = ready
        #expect(StatusBuilder.status(for: app, observation: observation, now: Time(Date(timeIntervalSince1970: 1_080))) == ready, "recorded once: steady state writes nothing")
        // A later scale-up is recorded afresh.
        app.status?.scaling?.pendingScaleUp = .init(time: Time(Date(timeIntervalSince1970: 2_000)), replicas: 4)
        let again = StatusBuilder.status(for: app, observation: observation, now: Time(Date(timeIntervalSince1970: 2_005)))
        #expect(again.scaleUpReady?.time == Time(Date(timeIntervalSince1970: 2_005)))
    }

    @Test("conflicts, missing ServiceMonitor CRD and invalid specs have their reasons; the scaler's conditions stay")
    func reasons() {
        var app = application(spec: ApplicationSpec(image: "x", replicas: 1))
        var status = ApplicationStatus()
        status.conditions = [Condition(type: "ScalingActive", status: "True", reason: "ValidMetricFound", message: "m")]
        status.scaling = ScalingStatus()
        status.scaling?.desiredReplicas = 3
        app.status = status
        var observation = Observation()
        observation.conflicts = ["Service hello"]
        var next = StatusBuilder.status(for: app, observation: observation)
        #expect(next.conditions?[type: "Ready"]?.reason == "ResourceConflict")
        #expect(next.conditions?[type: "Degraded"]?.reason == "ResourceConflict")
        #expect(next.conditions?[type: "ScalingActive"]?.reason == "ValidMetricFound")
        #expect(next.scaling?.desiredReplicas == 3)
        observation = Observation()
        observation.serviceMonitorsAvailable = false
        next = StatusBuilder.status(for: app, observation: observation)
        #expect(next.conditions?[type: "Degraded"]?.reason == "ServiceMonitorCRDMissing")
        observation = Observation()
        observation.invalid = [ValidationIssue(field: "spec.image", message: "must name a container image")]
        next = StatusBuilder.status(for: app, observation: observation)
        #expect(next.conditions?[type: "Ready"]?.reason == "InvalidSpec")
        #expect(next.conditions?[type: "Ready"]?.message == "spec.image: must name a container image")
    }

    @Test("a scaled Application shows its Autoscaler's memory and scaling conditions, not its Ready; keeps its own until the Autoscaler has some; is Degraded while the Autoscaler cannot scale it")
    func mirrorsItsAutoscaler() throws {
        var app = application(spec: scaled())
        app.metadata.generation = 4
        var old = ApplicationStatus()
        old.scaling = ScalingStatus()
        old.scaling?.desiredReplicas = 5
        old.conditions = [Condition(type: "ScalingActive", status: "True", reason: "ValidMetricFound", message: "from the previous version")]
        app.status = old
        var own = try #require(app.scalingAutoscaler)
        var observation = Observation()
        observation.scaler = own
        // The Autoscaler has no memory yet: the Application keeps what it has.
        var next = StatusBuilder.status(for: app, observation: observation)
        #expect(next.scaling?.desiredReplicas == 5)
        #expect(next.conditions?[type: "ScalingActive"]?.message == "from the previous version")
        // It has decided: its memory and its scaling conditions, with the Application's generation.
        var decided = AutoscalerStatus()
        decided.scaling = ScalingStatus()
        decided.scaling?.desiredReplicas = 7
        decided.scaling?.summary = "rps=33"
        decided.conditions = [
            Condition(type: "Ready", status: "True", reason: "Scaling", message: "scaling Application/hello"),
            Condition(type: "ScalingActive", status: "True", reason: "ValidMetricFound", message: "metric 33"),
            Condition(type: "ForecastConfident", status: "False", reason: "InsufficientHistory", message: "m"),
        ]
        own.status = decided
        observation.scaler = own
        next = StatusBuilder.status(for: app, observation: observation)
        #expect(next.scaling == decided.scaling)
        #expect(next.conditions?[type: "ScalingActive"]?.message == "metric 33")
        #expect(next.conditions?[type: "ScalingActive"]?.observedGeneration == 4)
        #expect(next.conditions?[type: "ForecastConfident"]?.reason == "InsufficientHistory")
        #expect(next.conditions?[type: "Ready"]?.reason != "Scaling", "the Application's Ready is its own")
        #expect(next.conditions?[type: "Degraded"]?.reason == "AsExpected")
        // The Autoscaler cannot scale it: Degraded, naming why.
        own.status?.conditions?.set(Condition(type: "Ready", status: "False", reason: "TargetNotPermitted", message: "the operator may not update applications/scale"))
        observation.scaler = own
        next = StatusBuilder.status(for: app, observation: observation)
        #expect(next.conditions?[type: "Degraded"]?.reason == "ScalingBlocked")
        #expect(next.conditions?[type: "Degraded"]?.message == "Autoscaler hello: TargetNotPermitted: the operator may not update applications/scale")
    }
}

@Suite("Canonical quantities")
struct CanonicalQuantityTests {
    @Test(
        "quantities are written as the API server stores them",
        arguments: [
            ("0.5", "500m"), ("1.5", "1500m"), ("1000m", "1"), ("100m", "100m"), ("2000", "2k"), ("1", "1"), ("0", "0"),
            ("1.5Gi", "1536Mi"), ("0.5Gi", "512Mi"), ("64Mi", "64Mi"), ("1024Mi", "1Gi"), ("1500Ki", "1500Ki"),
            ("128974848", "128974848"), ("129M", "129M"), ("0.1", "100m"), ("250m", "250m"), ("1e3", "1e3"), ("lots", "lots"),
        ])
    func canonical(input: String, expected: String) {
        #expect(CanonicalQuantity.canonical(input) == expected)
    }

    @Test("the Deployment carries canonical resources")
    func deployment() {
        var spec = ApplicationSpec(image: "x")
        spec.resources = ResourceRequirements(limits: ["cpu": "0.5", "memory": "1.5Gi"], requests: ["cpu": "100m"])
        let container = Children.deployment(for: application(spec: spec)).spec!.template.spec!.containers[0]
        #expect(container.resources == ResourceRequirements(limits: ["cpu": "500m", "memory": "1536Mi"], requests: ["cpu": "100m"]))
    }
}
