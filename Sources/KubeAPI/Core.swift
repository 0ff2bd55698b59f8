#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `core/v1` Namespace.
public struct Namespace: ClusterScopedObject, Hashable {
    public static let resource = ResourceDescriptor(
        group: "", version: "v1", plural: "namespaces", kind: "Namespace", namespaced: false)
    public var apiVersion: String? = "v1"
    public var kind: String? = "Namespace"
    public var metadata: ObjectMeta

    public init(name: String, labels: [String: String]? = nil) {
        metadata = ObjectMeta(name: name, labels: labels)
    }
}

/// `core/v1` ServiceAccount.
public struct ServiceAccount: NamespacedObject, Hashable {
    public static let resource = ResourceDescriptor(
        group: "", version: "v1", plural: "serviceaccounts", kind: "ServiceAccount", namespaced: true)
    public var apiVersion: String? = "v1"
    public var kind: String? = "ServiceAccount"
    public var metadata: ObjectMeta
    public var automountServiceAccountToken: Bool?

    public init(metadata: ObjectMeta, automountServiceAccountToken: Bool? = nil) {
        self.metadata = metadata
        self.automountServiceAccountToken = automountServiceAccountToken
    }
}

/// `core/v1` Service.
public struct Service: NamespacedObject, Hashable {
    public static let resource = ResourceDescriptor(
        group: "", version: "v1", plural: "services", kind: "Service", namespaced: true)
    public var apiVersion: String? = "v1"
    public var kind: String? = "Service"
    public var metadata: ObjectMeta
    public var spec: Spec?

    public init(metadata: ObjectMeta, spec: Spec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }

    public struct Spec: Sendable, Hashable, Codable {
        /// `ClusterIP`, `NodePort`, `LoadBalancer` or `ExternalName`.
        public var type: String?
        public var selector: [String: String]?
        public var ports: [ServicePort]?
        public var clusterIP: String?

        public init(type: String? = nil, selector: [String: String]? = nil, ports: [ServicePort]? = nil) {
            self.type = type
            self.selector = selector
            self.ports = ports
        }
    }
}

/// `core/v1` ServicePort.
public struct ServicePort: Sendable, Hashable, Codable {
    public var name: String?
    public var port: Int32
    public var targetPort: IntOrString?
    public var `protocol`: String?

    public init(name: String? = nil, port: Int32, targetPort: IntOrString? = nil, protocol proto: String? = nil) {
        self.name = name
        self.port = port
        self.targetPort = targetPort
        self.protocol = proto
    }
}

/// `intstr.IntOrString`: a port number or a named port, a count or a percentage.
public enum IntOrString: Sendable, Hashable, Codable {
    case int(Int32)
    case string(String)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int32.self) {
            self = .int(value)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .int(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        }
    }
}

/// `core/v1` PodTemplateSpec.
public struct PodTemplateSpec: Sendable, Hashable, Codable {
    public var metadata: ObjectMeta?
    public var spec: PodSpec?

    public init(metadata: ObjectMeta? = nil, spec: PodSpec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }
}

/// `core/v1` PodSpec: the fields Tide sets.
public struct PodSpec: Sendable, Hashable, Codable {
    public var containers: [Container]
    public var serviceAccountName: String?
    public var automountServiceAccountToken: Bool?
    /// `Always`, `OnFailure` or `Never`.
    public var restartPolicy: String?
    public var securityContext: PodSecurityContext?
    public var terminationGracePeriodSeconds: Int64?
    public var volumes: [Volume]?

    public init(
        containers: [Container], serviceAccountName: String? = nil, restartPolicy: String? = nil,
        securityContext: PodSecurityContext? = nil
    ) {
        self.containers = containers
        self.serviceAccountName = serviceAccountName
        self.restartPolicy = restartPolicy
        self.securityContext = securityContext
    }
}

/// `core/v1` Container: the fields Tide sets.
public struct Container: Sendable, Hashable, Codable {
    public var name: String
    public var image: String?
    public var imagePullPolicy: String?
    public var command: [String]?
    public var args: [String]?
    public var ports: [ContainerPort]?
    public var env: [EnvVar]?
    public var resources: ResourceRequirements?
    public var livenessProbe: Probe?
    public var readinessProbe: Probe?
    public var securityContext: SecurityContext?
    public var volumeMounts: [VolumeMount]?

    public init(
        name: String, image: String? = nil, command: [String]? = nil, args: [String]? = nil,
        ports: [ContainerPort]? = nil, env: [EnvVar]? = nil, resources: ResourceRequirements? = nil,
        livenessProbe: Probe? = nil, readinessProbe: Probe? = nil, securityContext: SecurityContext? = nil
    ) {
        self.name = name
        self.image = image
        self.command = command
        self.args = args
        self.ports = ports
        self.env = env
        self.resources = resources
        self.livenessProbe = livenessProbe
        self.readinessProbe = readinessProbe
        self.securityContext = securityContext
    }
}

/// `core/v1` Volume: the projected kind Tide uses (Secret keys as files).
public struct Volume: Sendable, Hashable, Codable {
    public var name: String
    public var projected: ProjectedVolumeSource?

    public init(name: String, projected: ProjectedVolumeSource? = nil) {
        self.name = name
        self.projected = projected
    }
}

/// `core/v1` ProjectedVolumeSource with Secret sources.
public struct ProjectedVolumeSource: Sendable, Hashable, Codable {
    public var sources: [Source]
    /// File mode bits (decimal in JSON: 0o440 is 288).
    public var defaultMode: Int32?

    public init(sources: [Source], defaultMode: Int32? = nil) {
        self.sources = sources
        self.defaultMode = defaultMode
    }

    public struct Source: Sendable, Hashable, Codable {
        public var secret: SecretProjection?
        public init(secret: SecretProjection) { self.secret = secret }
    }

    public struct SecretProjection: Sendable, Hashable, Codable {
        public var name: String
        public var items: [KeyToPath]?
        public var optional: Bool?
        public init(name: String, items: [KeyToPath]? = nil, optional: Bool? = nil) {
            self.name = name
            self.items = items
            self.optional = optional
        }
    }

    public struct KeyToPath: Sendable, Hashable, Codable {
        public var key: String
        public var path: String
        public init(key: String, path: String) {
            self.key = key
            self.path = path
        }
    }
}

/// `core/v1` VolumeMount.
public struct VolumeMount: Sendable, Hashable, Codable {
    public var name: String
    public var mountPath: String
    public var readOnly: Bool?

    public init(name: String, mountPath: String, readOnly: Bool? = nil) {
        self.name = name
        self.mountPath = mountPath
        self.readOnly = readOnly
    }
}

/// `core/v1` ContainerPort.
public struct ContainerPort: Sendable, Hashable, Codable {
    public var name: String?
    public var containerPort: Int32
    public var `protocol`: String?

    public init(name: String? = nil, containerPort: Int32, protocol proto: String? = nil) {
        self.name = name
        self.containerPort = containerPort
        self.protocol = proto
    }
}

/// `core/v1` EnvVar: a literal value or a reference to a Secret or ConfigMap key.
public struct EnvVar: Sendable, Hashable, Codable {
    public var name: String
    public var value: String?
    public var valueFrom: EnvVarSource?

    public init(name: String, value: String? = nil, valueFrom: EnvVarSource? = nil) {
        self.name = name
        self.value = value
        self.valueFrom = valueFrom
    }
}

/// `core/v1` EnvVarSource (secret and config map keys).
public struct EnvVarSource: Sendable, Hashable, Codable {
    public var secretKeyRef: KeySelector?
    public var configMapKeyRef: KeySelector?

    public init(secretKeyRef: KeySelector? = nil, configMapKeyRef: KeySelector? = nil) {
        self.secretKeyRef = secretKeyRef
        self.configMapKeyRef = configMapKeyRef
    }

    public struct KeySelector: Sendable, Hashable, Codable {
        public var name: String
        public var key: String
        public var optional: Bool?

        public init(name: String, key: String, optional: Bool? = nil) {
            self.name = name
            self.key = key
            self.optional = optional
        }
    }
}

/// `core/v1` ResourceRequirements; quantities are kept as the user wrote them.
public struct ResourceRequirements: Sendable, Hashable, Codable {
    public var limits: [String: ResourceQuantity]?
    public var requests: [String: ResourceQuantity]?

    public init(limits: [String: ResourceQuantity]? = nil, requests: [String: ResourceQuantity]? = nil) {
        self.limits = limits
        self.requests = requests
    }
}

/// A `resource.Quantity` (`500m`, `1Gi`, `2`), which the API admits as a string or
/// a number (`cpu: 1`, `memory: 1073741824`). Decodes both, keeps the text exactly
/// (a number becomes its decimal digits, never a rounded double) and encodes it as
/// the string the API server stores.
public struct ResourceQuantity: Sendable, Hashable, Codable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var text: String

    public init(_ text: String) { self.text = text }
    public init(stringLiteral value: String) { self.text = value }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self.text = text
        } else if let integer = try? container.decode(Int64.self) {
            self.text = String(integer)
        } else if let number = try? container.decode(Decimal.self), number.isFinite {
            self.text = number.description
        } else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "a quantity must be a string such as \"500m\" or a number")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }

    public var description: String { text }
}

/// `core/v1` Probe with an HTTP GET handler.
public struct Probe: Sendable, Hashable, Codable {
    public var httpGet: HTTPGetAction?
    public var initialDelaySeconds: Int32?
    public var periodSeconds: Int32?
    public var timeoutSeconds: Int32?
    public var failureThreshold: Int32?

    public init(
        httpGet: HTTPGetAction? = nil, initialDelaySeconds: Int32? = nil, periodSeconds: Int32? = nil,
        timeoutSeconds: Int32? = nil, failureThreshold: Int32? = nil
    ) {
        self.httpGet = httpGet
        self.initialDelaySeconds = initialDelaySeconds
        self.periodSeconds = periodSeconds
        self.timeoutSeconds = timeoutSeconds
        self.failureThreshold = failureThreshold
    }

    public struct HTTPGetAction: Sendable, Hashable, Codable {
        public var path: String?
        public var port: IntOrString

        public init(path: String? = nil, port: IntOrString) {
            self.path = path
            self.port = port
        }
    }
}

/// `core/v1` SecurityContext (container level).
public struct SecurityContext: Sendable, Hashable, Codable {
    public var runAsNonRoot: Bool?
    public var runAsUser: Int64?
    public var allowPrivilegeEscalation: Bool?
    public var readOnlyRootFilesystem: Bool?
    public var capabilities: Capabilities?
    public var seccompProfile: SeccompProfile?

    public init(
        runAsNonRoot: Bool? = nil, runAsUser: Int64? = nil, allowPrivilegeEscalation: Bool? = nil,
        readOnlyRootFilesystem: Bool? = nil, capabilities: Capabilities? = nil, seccompProfile: SeccompProfile? = nil
    ) {
        self.runAsNonRoot = runAsNonRoot
        self.runAsUser = runAsUser
        self.allowPrivilegeEscalation = allowPrivilegeEscalation
        self.readOnlyRootFilesystem = readOnlyRootFilesystem
        self.capabilities = capabilities
        self.seccompProfile = seccompProfile
    }

    public struct Capabilities: Sendable, Hashable, Codable {
        public var add: [String]?
        public var drop: [String]?

        public init(add: [String]? = nil, drop: [String]? = nil) {
            self.add = add
            self.drop = drop
        }
    }
}

/// `core/v1` SeccompProfile.
public struct SeccompProfile: Sendable, Hashable, Codable {
    /// `RuntimeDefault`, `Localhost` or `Unconfined`.
    public var type: String

    public init(type: String) { self.type = type }
}

/// `core/v1` PodSecurityContext (pod level).
public struct PodSecurityContext: Sendable, Hashable, Codable {
    public var runAsNonRoot: Bool?
    public var runAsUser: Int64?
    public var fsGroup: Int64?
    public var seccompProfile: SeccompProfile?

    public init(
        runAsNonRoot: Bool? = nil, runAsUser: Int64? = nil, fsGroup: Int64? = nil,
        seccompProfile: SeccompProfile? = nil
    ) {
        self.runAsNonRoot = runAsNonRoot
        self.runAsUser = runAsUser
        self.fsGroup = fsGroup
        self.seccompProfile = seccompProfile
    }
}

/// `core/v1` ObjectReference, as used by events.
public struct ObjectReference: Sendable, Hashable, Codable {
    public var apiVersion: String?
    public var kind: String?
    public var name: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?

    public init(
        apiVersion: String? = nil, kind: String? = nil, name: String? = nil, namespace: String? = nil,
        uid: String? = nil, resourceVersion: String? = nil
    ) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.uid = uid
        self.resourceVersion = resourceVersion
    }

    /// A reference to `object`.
    public init(to object: some KubernetesObject) {
        self.init(
            apiVersion: object.apiVersion ?? type(of: object).resource.apiVersion,
            kind: object.kind ?? type(of: object).resource.kind, name: object.metadata.name,
            namespace: object.metadata.namespace, uid: object.metadata.uid,
            resourceVersion: object.metadata.resourceVersion)
    }
}

/// `core/v1` Secret. `data` values are base64 as on the wire; use ``value(forKey:)``.
/// Its description never shows the values.
public struct Secret: NamespacedObject, Hashable, CustomStringConvertible {
    public static let resource = ResourceDescriptor(group: "", version: "v1", plural: "secrets", kind: "Secret", namespaced: true)
    public var apiVersion: String? = "v1"
    public var kind: String? = "Secret"
    public var metadata: ObjectMeta
    public var data: [String: String]?
    public var type: String?

    public init(metadata: ObjectMeta, data: [String: String]? = nil, type: String? = nil) {
        self.metadata = metadata
        self.data = data
        self.type = type
    }

    /// The decoded value of `key`, or `nil` if absent or not valid base64.
    public func value(forKey key: String) -> [UInt8]? {
        guard let encoded = data?[key], let decoded = Data(base64Encoded: encoded) else { return nil }
        return Array(decoded)
    }

    public var description: String { "Secret \(metadata.namespace ?? "")/\(name) (keys: \((data ?? [:]).keys.sorted().joined(separator: ", ")))" }
}

import Foundation

/// `core/v1` ConfigMap (string data only).
public struct ConfigMap: NamespacedObject, Hashable {
    public static let resource = ResourceDescriptor(group: "", version: "v1", plural: "configmaps", kind: "ConfigMap", namespaced: true)
    public var apiVersion: String? = "v1"
    public var kind: String? = "ConfigMap"
    public var metadata: ObjectMeta
    public var data: [String: String]?

    public init(metadata: ObjectMeta, data: [String: String]? = nil) {
        self.metadata = metadata
        self.data = data
    }
}

extension Service {
    /// Shares the metadata's and the selector's strings (see ``StringInterner``).
    public mutating func internStrings(_ interner: StringInterner) {
        internMetadataStrings(interner)
        let selector = interner.intern(spec?.selector)
        spec?.selector = selector
    }
}
