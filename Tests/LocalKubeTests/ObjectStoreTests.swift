import Foundation
import KubeAPI
import LocalKube
import Testing

@Suite("LocalKube object store")
struct ObjectStoreTests {
    let store = ObjectStore(historyLimit: 50)
    var accounts: ResourceType { store.type(group: "", version: "v1", plural: "serviceaccounts")! }
    var namespaces: ResourceType { store.type(group: "", version: "v1", plural: "namespaces")! }

    @Test("one global resourceVersion increases with every write")
    func resourceVersions() throws {
        let start = store.resourceVersion
        let a = try store.create(accounts, namespace: "default", body: ["metadata": ["name": "a"]])
        let b = try store.create(accounts, namespace: "default", body: ["metadata": ["name": "b"]])
        #expect(a.value(atPath: ["metadata", "resourceVersion"]) == .string(String(start + 1)))
        #expect(b.value(atPath: ["metadata", "resourceVersion"]) == .string(String(start + 2)))
    }

    @Test("finalizers hold a delete until they are removed")
    func finalizers() throws {
        _ = try store.create(accounts, namespace: "default", body: ["metadata": ["name": "held", "finalizers": ["tide.dev/cleanup"]]])
        let marked = try store.delete(accounts, namespace: "default", name: "held")
        #expect(marked.value(atPath: ["metadata", "deletionTimestamp"]) != nil)
        #expect((try? store.get(accounts, namespace: "default", name: "held")) != nil)
        _ = try store.patch(accounts, namespace: "default", name: "held", patch: ["metadata": ["finalizers": nil]], kind: .merge)
        #expect(throws: APIError.self) { try store.get(accounts, namespace: "default", name: "held") }
    }

    @Test("a RoleBinding's roleRef cannot change, as on the real server; other fields can")
    func immutableRoleRef() throws {
        let bindings = try #require(store.type(group: "rbac.authorization.k8s.io", version: "v1", plural: "rolebindings"))
        let body: JSONValue = ["metadata": ["name": "b"], "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "old"]]
        _ = try store.create(bindings, namespace: "default", body: body)
        #expect(throws: APIError.self) {
            try store.patch(bindings, namespace: "default", name: "b", patch: ["roleRef": ["kind": "Role", "name": "new"]], kind: .merge)
        }
        _ = try store.patch(bindings, namespace: "default", name: "b", patch: ["metadata": ["labels": ["x": "y"]]], kind: .merge)
        let live = try store.get(bindings, namespace: "default", name: "b")
        #expect(live.value(atPath: ["roleRef", "name"]) == "old")
    }

    @Test("schema patterns are checked, as on the real server")
    func patterns() throws {
        let crd: JSONValue = [
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": ["name": "widgets.example.com"],
            "spec": [
                "group": "example.com", "scope": "Namespaced", "names": ["plural": "widgets", "kind": "Widget"],
                "versions": [["name": "v1", "served": true, "storage": true, "schema": ["openAPIV3Schema": [
                    "type": "object", "properties": ["spec": ["type": "object", "properties": ["code": ["type": "string", "pattern": "^[a-z]+$"]]]],
                ]]]],
            ],
        ]
        let crds = try #require(store.type(group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions"))
        _ = try store.create(crds, namespace: nil, body: crd)
        let widgets = try #require(store.type(group: "example.com", version: "v1", plural: "widgets"))
        _ = try store.create(widgets, namespace: "default", body: ["metadata": ["name": "ok"], "spec": ["code": "abc"]])
        #expect(throws: APIError.self) { try store.create(widgets, namespace: "default", body: ["metadata": ["name": "bad"], "spec": ["code": "ÄBC"]]) }
    }

    @Test("deleting a namespace deletes what is in it")
    func namespaceDeletion() throws {
        _ = try store.create(namespaces, namespace: nil, body: ["metadata": ["name": "team"]])
        _ = try store.create(accounts, namespace: "team", body: ["metadata": ["name": "x"]])
        _ = try store.create(accounts, namespace: "default", body: ["metadata": ["name": "y"]])
        _ = try store.delete(namespaces, namespace: nil, name: "team")
        let left = try store.list(accounts, namespace: nil, selector: LabelSelector(), limit: nil, continueToken: nil).items
        #expect(left.compactMap { $0.value(atPath: ["metadata", "name"])?.stringValue } == ["y"])
    }

    @Test("later pages show the list as of the first page; an evicted snapshot is 410 Expired")
    func consistentPages() throws {
        for index in 0..<5 { _ = try store.create(accounts, namespace: "default", body: ["metadata": ["name": .string("sa-\(index)")]]) }
        let page = try store.list(accounts, namespace: "default", selector: LabelSelector(), limit: 2, continueToken: nil)
        #expect(page.continueToken != nil)
        _ = try store.patch(accounts, namespace: "default", name: "sa-4", patch: ["metadata": ["labels": ["changed": "yes"]]], kind: .merge)
        _ = try store.create(accounts, namespace: "default", body: ["metadata": ["name": "sa-5"]])
        let rest = try store.list(accounts, namespace: "default", selector: LabelSelector(), limit: 10, continueToken: page.continueToken)
        #expect(rest.resourceVersion == page.resourceVersion)
        #expect(rest.items.count == 3, "sa-5 came after the first page")
        #expect(rest.items.last?.value(atPath: ["metadata", "labels"]) == nil, "sa-4 as it was")
        var tokens: [String] = []
        for _ in 0..<40 {
            tokens.append(try store.list(accounts, namespace: "default", selector: LabelSelector(), limit: 1, continueToken: nil).continueToken!)
        }
        do {
            _ = try store.list(accounts, namespace: "default", selector: LabelSelector(), limit: 2, continueToken: tokens[0])
            Issue.record("expected 410")
        } catch let error as APIError {
            #expect(error.code == 410)
        }
        #expect(throws: APIError.self) {
            try store.list(accounts, namespace: "default", selector: LabelSelector(), limit: 2, continueToken: "garbage")
        }
    }

    @Test("a body that disagrees with the URL is a 400, and nothing is stored")
    func mismatches() throws {
        for body: JSONValue in [
            ["kind": "Namespace", "metadata": ["name": "a"]],
            ["apiVersion": "apps/v1", "metadata": ["name": "a"]],
            ["metadata": ["name": "a", "namespace": "other"]],
            ["metadata": "not an object"],
        ] {
            do {
                _ = try store.create(accounts, namespace: "default", body: body)
                Issue.record("\(body) must be rejected")
            } catch let error as APIError {
                #expect(error.code == 400)
            }
        }
        #expect(throws: APIError.self) { try store.create(accounts, namespace: "default", body: "text") }
        #expect(try store.list(accounts, namespace: "default", selector: LabelSelector(), limit: nil, continueToken: nil).items.isEmpty)
    }

    @Test("manifests load from multi-document YAML")
    func manifests() throws {
        let objects = try ManifestLoader.objects(in: """
            apiVersion: v1
            kind: ServiceAccount
            metadata: {name: one}
            ---
            apiVersion: v1
            kind: List
            items:
            - {apiVersion: v1, kind: ServiceAccount, metadata: {name: two}}
            """)
        #expect(objects.count == 2)
        for object in objects { _ = try ManifestLoader.apply(object, to: store) }
        #expect(try store.get(accounts, namespace: "default", name: "two").value(atPath: ["metadata", "name"]) == "two")
        #expect(throws: APIError.self) { try ManifestLoader.apply(["apiVersion": "nope/v9", "kind": "Thing", "metadata": ["name": "x"]], to: store) }
    }
}
