import KubeAPI

/// The Autoscaler's CustomResourceDefinition, made from the Application's, so the
/// scaling spec and the scaler's status have one schema: `Application.spec.scaling`
/// becomes the Autoscaler's `spec` (beside `scaleTargetRef` and `observe`), and
/// `Application.status.scaling` and its conditions its status's. `crds/autoscaler.yaml`
/// is this function's output; a test fails when the two differ, and writes the file
/// with `TIDE_WRITE_CRDS=1`.
public enum AutoscalerCRD {
    /// The CRD, or `nil` when `application` is not the Application CRD as Tide ships it.
    public static func make(fromApplicationCRD application: JSONValue) -> JSONValue? {
        guard let version = application["spec"]?["versions"]?.arrayValue?.first,
            let schema = version["schema"]?["openAPIV3Schema"],
            var scaling = schema["properties"]?["spec"]?["properties"]?["scaling"],
            let status = schema["properties"]?["status"]?["properties"],
            let conditions = status["conditions"], let scalingStatus = status["scaling"]
        else { return nil }
        let required = (scaling["required"]?.arrayValue ?? []) + ["scaleTargetRef"]
        scaling["required"] = .array(required)
        scaling["description"] = "What to scale and how: the target, whether only to observe, and the fields of an Application's spec.scaling."
        var properties = scaling["properties"] ?? [:]
        properties["scaleTargetRef"] = [
            "type": "object",
            "description": "The workload to scale: any kind with a /scale subresource (Deployment, StatefulSet, Application, ...).",
            "required": ["apiVersion", "kind", "name"],
            "properties": [
                "apiVersion": ["type": "string", "minLength": 1],
                "kind": ["type": "string", "minLength": 1],
                "name": ["type": "string", "minLength": 1, "maxLength": 253],
            ],
        ]
        properties["observe"] = [
            "type": "boolean", "default": false,
            "description": "true: decide and record everything (status.observation, events worded 'would scale'), never write the target's /scale.",
        ]
        scaling["properties"] = properties
        let tally: JSONValue = [
            "type": "object",
            "properties": [
                "shortfall": ["type": "integer", "format": "int64"], "idle": ["type": "integer", "format": "int64"],
                "scaleChanges": ["type": "integer", "format": "int32"],
            ],
        ]
        let time: JSONValue = ["type": "string", "format": "date-time"]
        let replicas: JSONValue = ["type": "integer", "format": "int32"]
        let observation: JSONValue = [
            "type": "object",
            "description": "Observe mode: Tide's shadow replicas and the target's ready replicas, scored against the ideal since 'since'.",
            "required": ["since", "lastTime", "tide", "actual", "shadowReplicas", "shadowReady", "summary"],
            "properties": [
                "since": time, "lastTime": time, "tide": tally, "actual": tally, "shadowReplicas": replicas, "shadowReady": replicas,
                "shadowReadyAt": time, "lastIdeal": replicas, "lastActual": replicas, "summary": ["type": "string"], "lastReportTime": time,
            ],
        ]
        let crd: JSONValue = [
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": [
                "name": "autoscalers.tide.dev",
                "labels": application["metadata"]?["labels"] ?? [:],
            ],
            "spec": [
                "group": "tide.dev",
                "scope": "Namespaced",
                "names": [
                    "plural": "autoscalers", "singular": "autoscaler", "kind": "Autoscaler", "listKind": "AutoscalerList",
                    "shortNames": ["tas"], "categories": ["tide", "all"],
                ],
                "versions": [[
                    "name": version["name"] ?? "v1alpha1", "served": true, "storage": true,
                    "subresources": ["status": [:]],
                    "additionalPrinterColumns": [
                        ["name": "Target", "type": "string", "jsonPath": ".spec.scaleTargetRef.name"],
                        ["name": "Mode", "type": "string", "jsonPath": ".spec.mode"],
                        ["name": "Observe", "type": "boolean", "jsonPath": ".spec.observe"],
                        ["name": "Replicas", "type": "integer", "jsonPath": ".status.replicas"],
                        ["name": "Desired", "type": "integer", "jsonPath": ".status.scaling.desiredReplicas"],
                        ["name": "Metric", "type": "string", "jsonPath": ".status.scaling.summary"],
                        ["name": "Observation", "type": "string", "jsonPath": ".status.observation.summary", "priority": 0],
                        ["name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"],
                    ],
                    "schema": [
                        "openAPIV3Schema": [
                            "type": "object",
                            "description": "An Autoscaler scales a workload you already run (any kind with /scale) with Tide's scaler, or only observes it.",
                            "required": ["spec"],
                            "properties": [
                                "apiVersion": ["type": "string"], "kind": ["type": "string"], "metadata": ["type": "object"],
                                "spec": scaling,
                                "status": [
                                    "type": "object",
                                    "properties": [
                                        "observedGeneration": ["type": "integer", "format": "int64"],
                                        "conditions": conditions, "scaling": scalingStatus, "replicas": replicas, "readyReplicas": replicas,
                                        "observation": observation,
                                    ],
                                ],
                            ],
                        ],
                    ],
                ]],
            ],
        ]
        return crd
    }
}
