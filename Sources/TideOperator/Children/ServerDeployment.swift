import KubeAPI
import KubeAPIExtensions
import TideAPI

/// The Deployment that runs the Application's image: always wanted, with the
/// Application's replicas (what its scaler, or in mode HPA its HorizontalPodAutoscaler,
/// writes through the Application's `/scale`).
enum ServerDeployment: ChildPart {
    static func isWanted(by application: Application, serviceMonitors: Bool) -> Bool { true }

    static func desired(for application: Application, settings: OperatorSettings) throws -> DesiredChild {
        try DesiredChild(Children.deployment(for: application), part: self)
    }
}

extension Children {
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
                replicas: spec.effectiveReplicas, selector: LabelSelector(matchLabels: selector(for: application)),
                template: PodTemplateSpec(metadata: podMetadata, spec: podSpec)))
    }
}
