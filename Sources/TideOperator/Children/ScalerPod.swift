import KubeAPI
import KubeAPIExtensions
import TideAPI

/// The Autoscaler a scaler works for, as its children need it (an Application's
/// scaler works for the Application's Autoscaler).
public struct ScalerOwner: Sendable {
    public var name: String
    public var namespace: String
    public var scaling: Scaling?
    public var ownerReference: OwnerReference
    /// The labels every child carries (Tide's `app.kubernetes.io/…`).
    public var labels: [String: String]
    public init(_ autoscaler: Autoscaler) {
        name = autoscaler.metadata.name ?? ""
        namespace = autoscaler.metadata.namespace ?? "default"
        scaling = autoscaler.spec.scaling
        ownerReference = OwnerReference(
            apiVersion: Autoscaler.resource.apiVersion, kind: Autoscaler.resource.kind, name: name, uid: autoscaler.metadata.uid ?? "",
            controller: true, blockOwnerDeletion: true)
        labels = [
            "app.kubernetes.io/name": "\(name)-scaler", "app.kubernetes.io/instance": name, "app.kubernetes.io/managed-by": "tide",
            "tide.dev/autoscaler": name,
        ]
    }

    /// The scaler's children's name.
    public var scalerName: String { "\(name)-scaler" }

    func metadata(component: String = "scaler") -> ObjectMeta {
        var labels = labels
        labels["app.kubernetes.io/component"] = component
        return ObjectMeta(name: scalerName, namespace: namespace, labels: labels, ownerReferences: [ownerReference])
    }
}

extension Children {
    /// Where the scaler pod finds the credentials its metrics' sources name: one
    /// folder per metric, with the files ``MetricCredentialFiles`` names.
    public static let credentialsDirectory = "/var/run/secrets/tide.dev/metrics"

    /// The scaler's arguments: whom it works for, and where its credentials are.
    public static func scalerArguments(for owner: ScalerOwner) -> [String] {
        var arguments = ["--namespace", owner.namespace, "--autoscaler", owner.name]
        if credentialsVolume(for: owner.scaling) != nil { arguments += ["--credentials-dir", credentialsDirectory] }
        return arguments
    }

    /// The Secret keys each metric's source names (auth and header values), projected
    /// into one volume as `<metric>/<file>`. Optional, so a missing Secret lets the
    /// scaler start and say so (MetricUnavailable) instead of a pod stuck in
    /// ContainerCreating.
    public static func credentialsVolume(for scaling: Scaling?) -> Volume? {
        var sources: [ProjectedVolumeSource.Source] = []
        for metric in scaling?.resolvedMetrics ?? [] {
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

    static func scalerPod(for owner: ScalerOwner, settings: OperatorSettings, arguments: [String], restartPolicy: String) -> PodTemplateSpec {
        var labels = owner.labels
        labels["app.kubernetes.io/name"] = owner.scalerName
        labels["app.kubernetes.io/component"] = "scaler"
        let container = Container(
            name: "scaler", image: settings.scalerImage, command: ["tide-scaler"], args: arguments,
            resources: ResourceRequirements(limits: ["memory": "64Mi"], requests: ["cpu": "10m", "memory": "32Mi"]),
            securityContext: scalerContainer)
        var spec = PodSpec(
            containers: [container], serviceAccountName: owner.scalerName, restartPolicy: restartPolicy,
            securityContext: restrictedPod)
        spec.automountServiceAccountToken = true
        if let volume = credentialsVolume(for: owner.scaling) {
            spec.volumes = [volume]
            spec.containers[0].volumeMounts = [VolumeMount(name: volume.name, mountPath: credentialsDirectory, readOnly: true)]
        }
        return PodTemplateSpec(metadata: ObjectMeta(labels: labels), spec: spec)
    }
}
