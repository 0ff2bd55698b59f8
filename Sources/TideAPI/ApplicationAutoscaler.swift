import KubeAPI

extension Application {
    /// The labels every child of the Application carries (Tide's `app.kubernetes.io/…`).
    public var childLabels: [String: String] {
        ["app.kubernetes.io/name": name, "app.kubernetes.io/instance": name, "app.kubernetes.io/managed-by": "tide"]
    }

    /// The reference that makes the Application its children's controller, so the
    /// garbage collector removes them with it.
    public var controllerReference: OwnerReference {
        OwnerReference(
            apiVersion: Self.resource.apiVersion, kind: Self.resource.kind, name: name, uid: metadata.uid ?? "", controller: true,
            blockOwnerDeletion: true)
    }

    /// Whether the Application scales (has `spec.scaling`), which it does through its
    /// ``scalingAutoscaler``, in every mode.
    public var scalesThroughAutoscaler: Bool { spec.scaling != nil }

    /// Whether a Tide scaler decides for the Application (modes CronJob and
    /// Continuous); in mode HPA a HorizontalPodAutoscaler does.
    public var runsScaler: Bool {
        guard let scaling = spec.scaling else { return false }
        return (scaling.mode ?? .cronJob) != .hpa
    }

    /// The one scaling path: an Application that scales owns an Autoscaler of its own
    /// name whose target is the Application itself (its `/scale`, which is
    /// `spec.replicas`), with `spec.scaling` as its scaling spec (as given: the operator
    /// gives it the Application's defaulted spec, every default filled). The scaler (or
    /// in mode HPA the HorizontalPodAutoscaler), its RBAC, its conditions and its memory
    /// all belong to that Autoscaler; the Application shows them (`status.scaling` and
    /// the scaling conditions). `nil` without `spec.scaling`.
    public var scalingAutoscaler: Autoscaler? {
        guard let scaling = spec.scaling else { return nil }
        var labels = childLabels
        labels["app.kubernetes.io/component"] = "autoscaler"
        return Autoscaler(
            metadata: ObjectMeta(name: name, namespace: namespace, labels: labels, ownerReferences: [controllerReference]),
            spec: AutoscalerSpec(
                scaleTargetRef: ScaleTargetReference(apiVersion: Self.resource.apiVersion, kind: Self.resource.kind, name: name),
                scaling: scaling))
    }
}

extension Autoscaler {
    /// The name of the Application that owns this Autoscaler as its scaling path (see
    /// ``Application/scalingAutoscaler``): its controller is that Application and it
    /// targets it. `nil` for an Autoscaler a user made.
    public var owningApplication: String? {
        guard let owner = metadata.ownerReferences?.first(where: { $0.controller == true }),
            owner.kind == Application.resource.kind, owner.apiVersion == Application.resource.apiVersion,
            spec.scaleTargetRef.kind == Application.resource.kind, spec.scaleTargetRef.name == owner.name
        else { return nil }
        return owner.name
    }
}
