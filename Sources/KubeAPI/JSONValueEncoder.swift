/// Encodes an `Encodable` value straight into a ``JSONValue`` tree, without writing
/// and re-parsing JSON text. Same result as encoding with ``KubeJSON/encoder`` and
/// decoding the bytes as a ``JSONValue``, at a fraction of the cost: the operator
/// builds every desired child and compares every live one this way on each reconcile.
///
/// Supports what Tide's types use: keyed, unkeyed and single-value containers, the
/// standard scalar types, `nil` (omitted by `encodeIfPresent`, `null` otherwise) and
/// nested ``JSONValue``s. Non-finite numbers throw, as `JSONEncoder` does.
public enum JSONValueEncoder {
    public static func encode(_ value: some Encodable) throws -> JSONValue {
        if let json = value as? JSONValue { return json }
        let slot = Slot()
        try value.encode(to: TreeEncoder(slot: slot, codingPath: []))
        return try slot.resolve(codingPath: [])
    }
}

/// One place a value will be written: unset, a finished leaf, or a container under
/// construction (containers are references so nested containers can fill them later).
private final class Slot {
    enum Content {
        case unset
        case leaf(JSONValue)
        case object(ObjectStorage)
        case array(ArrayStorage)
    }
    var content: Content = .unset

    func resolve(codingPath: [any CodingKey]) throws -> JSONValue {
        switch content {
        case .unset: return .object([:])
        case .leaf(let value): return value
        case .object(let storage):
            var fields: [String: JSONValue] = [:]
            fields.reserveCapacity(storage.fields.count)
            for (key, slot) in storage.fields { fields[key] = try slot.resolve(codingPath: codingPath) }
            return .object(fields)
        case .array(let storage):
            return .array(try storage.items.map { try $0.resolve(codingPath: codingPath) })
        }
    }

    var object: ObjectStorage {
        if case .object(let storage) = content { return storage }
        let storage = ObjectStorage()
        content = .object(storage)
        return storage
    }

    var array: ArrayStorage {
        if case .array(let storage) = content { return storage }
        let storage = ArrayStorage()
        content = .array(storage)
        return storage
    }
}

private final class ObjectStorage {
    var fields: [String: Slot] = [:]
    func slot(_ key: String) -> Slot {
        if let existing = fields[key] { return existing }
        let slot = Slot()
        fields[key] = slot
        return slot
    }
}

private final class ArrayStorage {
    var items: [Slot] = []
    func append() -> Slot {
        let slot = Slot()
        items.append(slot)
        return slot
    }
}

private struct TreeEncoder: Encoder {
    let slot: Slot
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(KeyedContainer<Key>(storage: slot.object, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        UnkeyedContainer(storage: slot.array, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleValueContainer(slot: slot, codingPath: codingPath)
    }
}

/// Writes one value into a slot: scalars directly, anything else through its own
/// `encode(to:)`.
private func write(_ value: some Encodable, into slot: Slot, codingPath: [any CodingKey]) throws {
    switch value {
    case let json as JSONValue: slot.content = .leaf(json)
    case let text as String: slot.content = .leaf(.string(text))
    case let flag as Bool: slot.content = .leaf(.bool(flag))
    case let number as Int: slot.content = .leaf(.int(Int64(number)))
    case let number as Int32: slot.content = .leaf(.int(Int64(number)))
    case let number as Int64: slot.content = .leaf(.int(number))
    case let number as Double: slot.content = .leaf(try finite(number, codingPath))
    default: try value.encode(to: TreeEncoder(slot: slot, codingPath: codingPath))
    }
}

private func finite(_ number: Double, _ codingPath: [any CodingKey]) throws -> JSONValue {
    guard number.isFinite else {
        throw EncodingError.invalidValue(number, .init(codingPath: codingPath, debugDescription: "\(number) is not a valid JSON number"))
    }
    // As through JSON text: a whole number reads back as an integer.
    if number == number.rounded(), abs(number) < 9.0e15 { return .int(Int64(number)) }
    return .double(number)
}

private func integer<T: BinaryInteger>(_ number: T, _ codingPath: [any CodingKey]) throws -> JSONValue {
    guard let value = Int64(exactly: number) else {
        throw EncodingError.invalidValue(number, .init(codingPath: codingPath, debugDescription: "\(number) does not fit a 64-bit integer"))
    }
    return .int(value)
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let storage: ObjectStorage
    let codingPath: [any CodingKey]

    func slot(_ key: Key) -> Slot { storage.slot(key.stringValue) }

    mutating func encodeNil(forKey key: Key) throws { slot(key).content = .leaf(.null) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { slot(key).content = .leaf(.bool(value)) }
    mutating func encode(_ value: String, forKey key: Key) throws { slot(key).content = .leaf(.string(value)) }
    mutating func encode(_ value: Double, forKey key: Key) throws { slot(key).content = .leaf(try finite(value, codingPath + [key])) }
    mutating func encode(_ value: Float, forKey key: Key) throws { slot(key).content = .leaf(try finite(Double(value), codingPath + [key])) }
    mutating func encode(_ value: Int, forKey key: Key) throws { slot(key).content = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { slot(key).content = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { slot(key).content = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { slot(key).content = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { slot(key).content = .leaf(.int(value)) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { slot(key).content = .leaf(try integer(value, codingPath + [key])) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { slot(key).content = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { slot(key).content = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { slot(key).content = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { slot(key).content = .leaf(try integer(value, codingPath + [key])) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try write(value, into: slot(key), codingPath: codingPath + [key]) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        KeyedEncodingContainer(KeyedContainer<NestedKey>(storage: slot(key).object, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        UnkeyedContainer(storage: slot(key).array, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { TreeEncoder(slot: storage.slot("super"), codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { TreeEncoder(slot: slot(key), codingPath: codingPath + [key]) }
}

private struct IndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String { "\(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let storage: ArrayStorage
    let codingPath: [any CodingKey]
    var count: Int { storage.items.count }

    var nextPath: [any CodingKey] { codingPath + [IndexKey(storage.items.count)] }

    mutating func encodeNil() throws { storage.append().content = .leaf(.null) }
    mutating func encode(_ value: Bool) throws { storage.append().content = .leaf(.bool(value)) }
    mutating func encode(_ value: String) throws { storage.append().content = .leaf(.string(value)) }
    mutating func encode(_ value: Double) throws { let leaf = try finite(value, nextPath); storage.append().content = .leaf(leaf) }
    mutating func encode(_ value: Float) throws { let leaf = try finite(Double(value), nextPath); storage.append().content = .leaf(leaf) }
    mutating func encode(_ value: Int) throws { storage.append().content = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: Int8) throws { storage.append().content = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: Int16) throws { storage.append().content = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: Int32) throws { storage.append().content = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: Int64) throws { storage.append().content = .leaf(.int(value)) }
    mutating func encode(_ value: UInt) throws { let leaf = try integer(value, nextPath); storage.append().content = .leaf(leaf) }
    mutating func encode(_ value: UInt8) throws { storage.append().content = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: UInt16) throws { storage.append().content = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: UInt32) throws { storage.append().content = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: UInt64) throws { let leaf = try integer(value, nextPath); storage.append().content = .leaf(leaf) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let path = nextPath
        try write(value, into: storage.append(), codingPath: path)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let path = nextPath
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(storage: storage.append().object, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let path = nextPath
        return UnkeyedContainer(storage: storage.append().array, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        let path = nextPath
        return TreeEncoder(slot: storage.append(), codingPath: path)
    }
}

private struct SingleValueContainer: SingleValueEncodingContainer {
    let slot: Slot
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { slot.content = .leaf(.null) }
    mutating func encode(_ value: Bool) throws { slot.content = .leaf(.bool(value)) }
    mutating func encode(_ value: String) throws { slot.content = .leaf(.string(value)) }
    mutating func encode(_ value: Double) throws { slot.content = .leaf(try finite(value, codingPath)) }
    mutating func encode(_ value: Float) throws { slot.content = .leaf(try finite(Double(value), codingPath)) }
    mutating func encode(_ value: Int) throws { slot.content = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: Int8) throws { slot.content = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: Int16) throws { slot.content = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: Int32) throws { slot.content = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: Int64) throws { slot.content = .leaf(.int(value)) }
    mutating func encode(_ value: UInt) throws { slot.content = .leaf(try integer(value, codingPath)) }
    mutating func encode(_ value: UInt8) throws { slot.content = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: UInt16) throws { slot.content = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: UInt32) throws { slot.content = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: UInt64) throws { slot.content = .leaf(try integer(value, codingPath)) }
    mutating func encode<T: Encodable>(_ value: T) throws { try write(value, into: slot, codingPath: codingPath) }
}
