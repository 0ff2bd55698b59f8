import KubeAPI

/// What a request asks to do, as kube-apiserver's authorizers see it: a verb on a
/// resource (with its group, subresource, name and namespace) or on a non-resource path.
public struct AccessAttributes: Sendable, Hashable {
    public var verb: String
    public var group: String
    public var resource: String
    public var subresource: String?
    public var name: String?
    public var namespace: String?
    /// Set for a non-resource request (`/metrics`, `/healthz`); the resource fields are then empty.
    public var path: String?

    public init(verb: String, group: String, resource: String, subresource: String? = nil, name: String? = nil, namespace: String? = nil) {
        self.verb = verb
        self.group = group
        self.resource = resource
        self.subresource = subresource
        self.name = name
        self.namespace = namespace
    }

    public init(verb: String, path: String) {
        self.verb = verb
        self.group = ""
        self.resource = ""
        self.path = path
    }

    /// `deployments/scale`, as a rule's `resources` names it.
    var qualifiedResource: String { subresource.map { "\(resource)/\($0)" } ?? resource }
}

/// Kubernetes RBAC over the Roles, ClusterRoles and their bindings LocalKube stores,
/// answering as kube-apiserver's RBAC authorizer does: allowed with the binding that
/// allowed it, or not allowed (no reason), never an explicit deny.
///
/// `system:masters` may do anything. Aggregated ClusterRoles (`aggregationRule`) are
/// read as stored: LocalKube runs no controller that fills their rules in.
struct RBACAuthorizer {
    let store: ObjectStore

    struct Decision: Sendable, Hashable {
        var allowed: Bool
        var reason: String?
    }

    func authorize(_ requester: Requester, _ attributes: AccessAttributes) -> Decision {
        if requester.groups.contains("system:masters") { return Decision(allowed: true, reason: nil) }
        for binding in objects("clusterrolebindings", namespace: nil) {
            guard let subject = matchingSubject(binding, requester, bindingNamespace: nil),
                let roleName = binding.value(atPath: ["roleRef", "name"])?.stringValue,
                let role = object("clusterroles", namespace: nil, name: roleName),
                rules(of: role).contains(where: { Self.rule($0, allows: attributes) })
            else { continue }
            let name = binding.value(atPath: ["metadata", "name"])?.stringValue ?? ""
            return Decision(allowed: true, reason: "RBAC: allowed by ClusterRoleBinding \"\(name)\" of ClusterRole \"\(roleName)\" to \(subject)")
        }
        guard attributes.path == nil, let namespace = attributes.namespace, !namespace.isEmpty else { return Decision(allowed: false) }
        for binding in objects("rolebindings", namespace: namespace) {
            guard let subject = matchingSubject(binding, requester, bindingNamespace: namespace),
                let roleKind = binding.value(atPath: ["roleRef", "kind"])?.stringValue,
                let roleName = binding.value(atPath: ["roleRef", "name"])?.stringValue,
                let role = roleKind == "ClusterRole"
                    ? object("clusterroles", namespace: nil, name: roleName) : object("roles", namespace: namespace, name: roleName),
                rules(of: role).contains(where: { Self.rule($0, allows: attributes) })
            else { continue }
            let name = binding.value(atPath: ["metadata", "name"])?.stringValue ?? ""
            return Decision(
                allowed: true, reason: "RBAC: allowed by RoleBinding \"\(name)/\(namespace)\" of \(roleKind) \"\(roleName)\" to \(subject)")
        }
        return Decision(allowed: false)
    }

    /// kube-apiserver's message for a request RBAC refused.
    static func forbiddenMessage(_ requester: Requester, _ attributes: AccessAttributes) -> String {
        if let path = attributes.path {
            return "forbidden: User \"\(requester.name)\" cannot \(attributes.verb) path \"\(path)\""
        }
        let qualified = attributes.group.isEmpty ? attributes.resource : "\(attributes.resource).\(attributes.group)"
        let object = attributes.name.map { "\(qualified) \"\($0)\"" } ?? qualified
        let scope = attributes.namespace.map { "in the namespace \"\($0)\"" } ?? "at the cluster scope"
        return "\(object) is forbidden: User \"\(requester.name)\" cannot \(attributes.verb) resource \"\(attributes.qualifiedResource)\" "
            + "in API group \"\(attributes.group)\" \(scope)"
    }

    // MARK: Matching

    /// How the upstream reason names the subject of `binding` that `requester` matches.
    func matchingSubject(_ binding: JSONValue, _ requester: Requester, bindingNamespace: String?) -> String? {
        for subject in binding["subjects"]?.arrayValue ?? [] {
            let kind = subject["kind"]?.stringValue ?? ""
            let name = subject["name"]?.stringValue ?? ""
            switch kind {
            case "User" where name == requester.name:
                return "User \"\(name)\""
            case "Group" where requester.groups.contains(name):
                return "Group \"\(name)\""
            case "ServiceAccount":
                let namespace = subject["namespace"]?.stringValue ?? bindingNamespace ?? ""
                if let account = requester.serviceAccount, account.namespace == namespace, account.name == name {
                    return "ServiceAccount \"\(name)/\(namespace)\""
                }
            default: continue
            }
        }
        return nil
    }

    static func rule(_ rule: JSONValue, allows attributes: AccessAttributes) -> Bool {
        let verbs = strings(rule["verbs"])
        guard verbs.contains("*") || verbs.contains(attributes.verb) else { return false }
        if let path = attributes.path {
            return strings(rule["nonResourceURLs"]).contains { pattern in
                pattern == "*" || pattern == path || (pattern.hasSuffix("*") && path.hasPrefix(String(pattern.dropLast())))
            }
        }
        let groups = strings(rule["apiGroups"])
        guard groups.contains("*") || groups.contains(attributes.group) else { return false }
        let resources = strings(rule["resources"])
        let wanted = attributes.qualifiedResource
        let resourceMatches =
            resources.contains("*") || resources.contains(wanted)
            || (attributes.subresource.map { resources.contains("*/\($0)") } ?? false)
        guard resourceMatches else { return false }
        let names = strings(rule["resourceNames"])
        guard !names.isEmpty else { return true }
        return attributes.name.map(names.contains) ?? false
    }

    static func strings(_ value: JSONValue?) -> [String] {
        (value?.arrayValue ?? []).compactMap(\.stringValue)
    }

    // MARK: Reading the store

    func objects(_ plural: String, namespace: String?) -> [JSONValue] {
        guard let type = store.type(group: "rbac.authorization.k8s.io", version: "v1", plural: plural),
            let page = try? store.list(type, namespace: namespace, selector: LabelSelector(), limit: nil, continueToken: nil)
        else { return [] }
        return page.items
    }

    func object(_ plural: String, namespace: String?, name: String) -> JSONValue? {
        guard let type = store.type(group: "rbac.authorization.k8s.io", version: "v1", plural: plural) else { return nil }
        return try? store.get(type, namespace: namespace, name: name)
    }

    func rules(of role: JSONValue) -> [JSONValue] { role["rules"]?.arrayValue ?? [] }
}
