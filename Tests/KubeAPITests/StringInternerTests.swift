import Foundation
import KubeAPI
import Testing

/// Where a native string's bytes live (nil for a small string stored inline).
private func storage(_ string: String) -> UnsafeRawPointer? {
    var copy = string
    return copy.withUTF8 { buffer in buffer.count > 15 ? UnsafeRawPointer(buffer.baseAddress) : nil }
}

/// A Deployment as a list from the server would give it: decoded from JSON, so each
/// object holds its own copy of every string.
private func decodedDeployment(_ name: String) throws -> Deployment {
    let json = """
        {"apiVersion":"apps/v1","kind":"Deployment",
         "metadata":{"name":"\(name)","namespace":"default","uid":"\(UUID().uuidString)","resourceVersion":"7",
           "labels":{"app.kubernetes.io/name":"\(name)","app.kubernetes.io/managed-by":"tide"},
           "ownerReferences":[{"apiVersion":"tide.dev/v1alpha1","kind":"Application","name":"\(name)","uid":"u-1","controller":true}]},
         "spec":{"replicas":2,"selector":{"matchLabels":{"app.kubernetes.io/name":"\(name)"}},
           "template":{"metadata":{"labels":{"app.kubernetes.io/name":"\(name)"},"annotations":{"prometheus.io/scrape":"true"}},
             "spec":{"containers":[{"name":"app","image":"registry.example.com/team/hello:1.2.3"}]}}},
         "status":{"replicas":2,"conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable",
           "message":"Deployment has minimum availability."}]}}
        """
    return try KubeJSON.decoder.decode(Deployment.self, from: Data(json.utf8))
}

@Suite("String interning")
struct StringInternerTests {
    @Test("An interned string equals its argument and shares the first copy's storage")
    func sharesStorage() {
        let interner = StringInterner()
        let first = String(decoding: Array("app.kubernetes.io/managed-by".utf8), as: UTF8.self)
        let second = String(decoding: Array("app.kubernetes.io/managed-by".utf8), as: UTF8.self)
        #expect(storage(first) != storage(second))
        let a = interner.intern(first)
        let b = interner.intern(second)
        #expect(a == "app.kubernetes.io/managed-by" && b == a)
        #expect(storage(b) == storage(first))
        #expect(interner.count == 1)
    }

    @Test("Short strings are not stored, and a full table returns new strings unchanged")
    func bounded() {
        let interner = StringInterner(capacity: 2)
        #expect(interner.intern("tide") == "tide")
        #expect(interner.count == 0)
        for index in 0..<5 { #expect(interner.intern("a-rather-long-label-key-\(index)") == "a-rather-long-label-key-\(index)") }
        #expect(interner.count == 2)
        let long = String(repeating: "x", count: 300)
        #expect(interner.intern(long) == long)
        #expect(interner.count == 2)
    }

    @Test("Interning a decoded object changes none of its values and shares its repeated strings")
    func objectsKeepTheirValue() throws {
        let interner = StringInterner()
        var first = try decodedDeployment("checkout-service-api")
        var second = try decodedDeployment("checkout-service-api")
        let before = (first, second)
        first.internStrings(interner)
        second.internStrings(interner)
        #expect(first == before.0 && second == before.1)
        let key = "app.kubernetes.io/managed-by"
        func keyStorage(_ deployment: Deployment) -> UnsafeRawPointer? {
            deployment.metadata.labels.flatMap { labels in labels.keys.first { $0 == key } }.flatMap(storage)
        }
        #expect(keyStorage(first) != nil && keyStorage(first) == keyStorage(second))
        #expect(storage(first.spec!.template.spec!.containers[0].image!) == storage(second.spec!.template.spec!.containers[0].image!))
        #expect(storage(first.status!.conditions![0].message!) == storage(second.status!.conditions![0].message!))
        // The application's name, repeated in labels, selector and owner reference, is one copy.
        #expect(storage(first.metadata.labels!["app.kubernetes.io/name"]!) == storage(second.spec!.selector.matchLabels!["app.kubernetes.io/name"]!))
        // What is unique per object stays the object's own.
        #expect(first.metadata.uid != second.metadata.uid)
    }
}
