/// An object of any kind, kept as JSON apart from its metadata. Used for custom
/// resources Tide does not model and by tests.
public struct DynamicObject: KubernetesObject, HasStatusSubresource, HasScaleSubresource, Hashable {
    /// A placeholder: dynamic objects are always addressed with an explicit descriptor.
    public static let resource = ResourceDescriptor(group: "", version: "v1", plural: "", kind: "", namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    /// Every top-level field other than `apiVersion`, `kind` and `metadata`.
    public var fields: [String: JSONValue]

    public var status: JSONValue? {
        get { fields["status"] }
        set { fields["status"] = newValue }
    }

    public init(apiVersion: String? = nil, kind: String? = nil, metadata: ObjectMeta, fields: [String: JSONValue] = [:]) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.metadata = metadata
        self.fields = fields
    }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        apiVersion = try container.decodeIfPresent(String.self, forKey: Key("apiVersion"))
        kind = try container.decodeIfPresent(String.self, forKey: Key("kind"))
        metadata = try container.decodeIfPresent(ObjectMeta.self, forKey: Key("metadata")) ?? ObjectMeta()
        var fields: [String: JSONValue] = [:]
        for key in container.allKeys where !["apiVersion", "kind", "metadata"].contains(key.stringValue) {
            fields[key.stringValue] = try container.decode(JSONValue.self, forKey: key)
        }
        self.fields = fields
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encodeIfPresent(apiVersion, forKey: Key("apiVersion"))
        try container.encodeIfPresent(kind, forKey: Key("kind"))
        try container.encode(metadata, forKey: Key("metadata"))
        for (key, value) in fields {
            try container.encode(value, forKey: Key(key))
        }
    }
}
