import KubeAPI
import KubeAPIExtensions
import TideAPI


extension Children {
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
}
