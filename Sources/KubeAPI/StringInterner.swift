import Synchronization

/// One shared copy of the strings many cached objects repeat (label and annotation
/// keys such as `app.kubernetes.io/managed-by`, owner `apiVersion`s, an
/// application's name in each label and selector of its children).
///
/// A Swift string of up to 15 UTF-8 bytes is stored inline; a longer one decoded
/// from JSON gets its own allocation in every object that holds it. Passing it
/// through ``intern(_:)`` returns the first copy seen instead, so ten thousand
/// Deployments share one `app.kubernetes.io/instance` rather than carry ten
/// thousand.
///
/// Guarantees: ``intern(_:)`` always returns a string equal to its argument, so
/// interning never changes an object's value (only where its bytes live). The table
/// is bounded: it holds at most ``capacity`` strings of at most 253 bytes (the
/// longest object name), and once full it returns new strings unchanged rather than
/// grow; strings are never removed, so what it holds costs at most
/// `capacity × (253 + overhead)` bytes.
public final class StringInterner: Sendable {
    /// The table every ``ObjectCache`` uses unless given its own.
    public static let shared = StringInterner()

    /// The most strings the table holds.
    public let capacity: Int
    private let table: Mutex<Set<String>>

    public init(capacity: Int = 16_384) {
        self.capacity = capacity
        self.table = Mutex([])
    }

    /// How many strings the table holds.
    public var count: Int { table.withLock { $0.count } }

    /// The shared copy of `string`: the one in the table, or `string` itself, added
    /// to the table while it has room. Short strings (stored inline anyway) and
    /// strings longer than 253 bytes are returned as they are.
    public func intern(_ string: String) -> String {
        let length = string.utf8.count
        guard length > 15, length <= 253 else { return string }
        return table.withLock { table in
            if let index = table.firstIndex(of: string) { return table[index] }
            if table.count < capacity { table.insert(string) }
            return string
        }
    }

    /// `map` with every key and value interned.
    public func intern(_ map: [String: String]?) -> [String: String]? {
        guard let map, !map.isEmpty else { return map }
        var shared: [String: String] = [:]
        shared.reserveCapacity(map.count)
        for (key, value) in map { shared[intern(key)] = intern(value) }
        return shared
    }
}

extension ObjectMeta {
    /// Shares the strings the metadata of many objects repeat: name and namespace,
    /// label and annotation keys and values, owner references' `apiVersion`, `kind`
    /// and `name`, and finalizers. The value is unchanged.
    public mutating func internStrings(_ interner: StringInterner) {
        name = name.map(interner.intern)
        namespace = namespace.map(interner.intern)
        labels = interner.intern(labels)
        annotations = interner.intern(annotations)
        if let references = ownerReferences {
            ownerReferences = references.map { reference in
                var reference = reference
                reference.apiVersion = interner.intern(reference.apiVersion)
                reference.kind = interner.intern(reference.kind)
                reference.name = interner.intern(reference.name)
                return reference
            }
        }
        finalizers = finalizers?.map(interner.intern)
    }
}

extension Condition {
    /// Shares the condition's type, reason and message (see ``StringInterner``).
    public mutating func internStrings(_ interner: StringInterner) {
        type = interner.intern(type)
        reason = interner.intern(reason)
        message = interner.intern(message)
    }
}

extension LabelSelector {
    /// Shares the strings of `matchLabels` (see ``StringInterner``). The value is unchanged.
    public mutating func internStrings(_ interner: StringInterner) {
        matchLabels = interner.intern(matchLabels)
    }
}

extension PodTemplateSpec {
    /// Shares the strings of the pod metadata and the containers' images (see
    /// ``StringInterner``). The value is unchanged.
    public mutating func internStrings(_ interner: StringInterner) {
        metadata?.internStrings(interner)
        guard var pod = spec else { return }
        pod.containers = pod.containers.map { container in
            var container = container
            container.image = container.image.map(interner.intern)
            return container
        }
        spec = pod
    }
}

extension KubernetesObject {
    /// Shares the strings of `apiVersion` and the metadata (see ``StringInterner``).
    /// Kinds with label maps of their own (selectors, pod templates) share those too.
    public mutating func internStrings(_ interner: StringInterner) {
        internMetadataStrings(interner)
    }

    /// Shares the strings of `apiVersion` and the metadata: what every kind's
    /// ``internStrings(_:)`` does first.
    public mutating func internMetadataStrings(_ interner: StringInterner) {
        apiVersion = apiVersion.map(interner.intern)
        metadata.internStrings(interner)
    }
}
