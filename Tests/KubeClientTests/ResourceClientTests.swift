import Foundation
import KubeAPI
import KubeClient
import LocalKube
import Testing

@Suite("KubeClient verbs against LocalKube over HTTP")
struct ResourceClientTests {
    @Test("create, get, update, delete; generation moves only on spec changes")
    func crud() async throws {
        try await withLocalKube { server, client in
            _ = try await client.clusterScoped(Namespace.self).create(Namespace(name: "demo"))
            let deployments = client.namespaced(Deployment.self, in: "demo")
            let created = try await deployments.create(sampleDeployment("hello"))
            #expect(created.metadata.uid?.isEmpty == false)
            #expect(created.metadata.generation == 1)
            #expect(created.metadata.creationTimestamp != nil)

            var fetched = try await deployments.get("hello")
            #expect(fetched.spec?.template.spec?.containers.first?.image == "hello:1")
            fetched.metadata.labels = ["team": "a"]
            let relabelled = try await deployments.update(fetched)
            #expect(relabelled.metadata.generation == 1, "metadata changes leave generation alone")
            var changed = relabelled
            changed.spec?.replicas = 3
            let updated = try await deployments.update(changed)
            #expect(updated.metadata.generation == 2)
            #expect(Int(updated.metadata.resourceVersion!)! > Int(relabelled.metadata.resourceVersion!)!)

            let result = try await deployments.delete("hello")
            guard case .object(let deleted) = result else { Issue.record("expected the deleted object"); return }
            #expect(deleted.name == "hello")
            await #expect(throws: KubeError.self) { try await deployments.get("hello") }
            #expect(try await deployments.getIfPresent("hello") == nil)
            #expect(server.requests.count(.delete, resource: "deployments") == 1)
        }
    }

    @Test("typed errors from real bad requests: already exists, conflict, not found, invalid with causes")
    func requestErrors() async throws {
        try await withLocalKube { _, client in
            let deployments = client.namespaced(Deployment.self, in: "default")
            let first = try await deployments.create(sampleDeployment("web", namespace: "default"))
            do {
                _ = try await deployments.create(sampleDeployment("web", namespace: "default"))
                Issue.record("duplicate create must fail")
            } catch KubeError.alreadyExists(let status) {
                #expect(status.reason == "AlreadyExists")
            }
            var stale = first
            stale.spec?.replicas = 5
            _ = try await deployments.update(stale)
            stale.spec?.replicas = 6
            do {
                _ = try await deployments.update(stale)
                Issue.record("stale update must fail")
            } catch KubeError.conflict(let status) {
                #expect(status.code == 409)
                #expect(status.message?.contains("the object has been modified") == true)
            }
            do {
                _ = try await client.namespaced(Deployment.self, in: "nowhere").create(sampleDeployment("x", namespace: "nowhere"))
                Issue.record("create in a missing namespace must fail")
            } catch KubeError.notFound(let status) {
                #expect(status.message == "namespaces \"nowhere\" not found")
            }
            var broken = sampleDeployment("Bad_Name", namespace: "default")
            broken.spec?.template.spec?.containers = []
            do {
                _ = try await deployments.create(broken)
                Issue.record("invalid object must fail")
            } catch let error as KubeError {
                guard case .invalid = error else { Issue.record("expected invalid, got \(error)"); return }
                let fields = Set(error.causes.compactMap(\.field))
                #expect(fields.contains("metadata.name"))
                #expect(fields.contains("spec.template.spec.containers"))
                #expect(error.description.contains("metadata.name"))
            }
            // Nothing was stored by the rejected requests.
            #expect(try await deployments.list().items.map(\.name) == ["web"])
        }
    }

    @Test("paging with limit and continue, and label selectors")
    func pagingAndSelectors() async throws {
        try await withLocalKube { _, client in
            let accounts = client.namespaced(ServiceAccount.self, in: "default")
            for index in 0..<25 {
                let tier = index % 3 == 0 ? "web" : "db"
                _ = try await accounts.create(ServiceAccount(metadata: ObjectMeta(name: String(format: "sa-%02d", index), labels: ["tier": tier])))
            }
            var names: [String] = []
            var token: String?
            var pages = 0
            repeat {
                let page = try await accounts.list(limit: 10, continueToken: token)
                names += page.items.map(\.name)
                token = page.metadata.continue
                pages += 1
                if token != nil { #expect(page.metadata.remainingItemCount == Int64(25 - names.count)) }
            } while token != nil
            #expect(pages == 3)
            #expect(names == (0..<25).map { String(format: "sa-%02d", $0) })
            #expect(try await accounts.listAll(pageSize: 7).items.count == 25)
            #expect(try await accounts.list(labelSelector: "tier=web").items.count == 9)
            #expect(try await accounts.list(labelSelector: "tier in (web,db),tier!=web").items.count == 16)
            #expect(try await client.allNamespaces(ServiceAccount.self).list(labelSelector: "tier").items.count == 25)
            do {
                _ = try await accounts.list(labelSelector: "tier in web")
                Issue.record("a malformed selector must fail")
            } catch KubeError.unexpectedStatus(let code, let status) {
                #expect(code == 400)
                #expect(status.message?.contains("tier in web") == true)
            }
        }
    }

    @Test("server-side apply creates, updates, releases dropped fields, and is a no-op when nothing changed")
    func apply() async throws {
        try await withLocalKube { server, client in
            let services = client.namespaced(Service.self, in: "default")
            var desired = Service(
                metadata: ObjectMeta(name: "hello", labels: ["a": "1", "b": "2"]),
                spec: .init(selector: ["app": "hello"], ports: [ServicePort(name: "http", port: 8080)]))
            let created = try await services.apply(desired, fieldManager: "tide-test")
            #expect(created.spec?.type == "ClusterIP", "server defaults are filled in")
            #expect(created.spec?.ports?.first?.targetPort == .int(8080))
            desired.metadata.labels = ["a": "1"]
            desired.spec?.ports = [ServicePort(name: "http", port: 9090)]
            let updated = try await services.apply(desired, fieldManager: "tide-test")
            #expect(updated.metadata.labels == ["a": "1"], "a label no longer applied is removed")
            #expect(updated.spec?.ports?.first?.port == 9090)
            let again = try await services.apply(desired, fieldManager: "tide-test")
            #expect(again.metadata.resourceVersion == updated.metadata.resourceVersion, "an unchanged apply writes nothing")
            let patched = try await services.mergePatch("hello", patch: ["metadata": ["labels": ["c": "3", "a": nil]]])
            #expect(patched.metadata.labels == ["c": "3"])
            #expect(server.requests.count(.patch, resource: "services") == 4)
        }
    }

    @Test("status and scale subresources are separate from the main resource")
    func subresources() async throws {
        try await withLocalKube { _, client in
            let deployments = client.namespaced(Deployment.self, in: "default")
            var deployment = try await deployments.create(sampleDeployment("web", namespace: "default", replicas: 2))
            deployment.status = .init(observedGeneration: 1, replicas: 2, readyReplicas: 2, availableReplicas: 2)
            deployment.spec?.replicas = 9
            let afterStatus = try await deployments.updateStatus(deployment)
            #expect(afterStatus.status?.readyReplicas == 2)
            #expect(afterStatus.spec?.replicas == 2, "a status write ignores spec")
            #expect(afterStatus.metadata.generation == 1)

            var main = afterStatus
            main.status = .init(replicas: 0)
            let afterMain = try await deployments.update(main)
            #expect(afterMain.status?.readyReplicas == 2, "a main write ignores status")

            let patchedStatus = try await deployments.patchStatus("web", patch: ["status": ["readyReplicas": 1]])
            #expect(patchedStatus.status?.readyReplicas == 1)

            let scale = try await deployments.scale("web", replicas: 4)
            #expect(scale.spec.replicas == 4)
            #expect(scale.status?.selector == "app=web")
            #expect(try await deployments.get("web").spec?.replicas == 4)
            #expect(try await deployments.get("web").metadata.generation == 2)
            var current = try await deployments.getScale("web")
            current.spec.replicas = 1
            _ = try await deployments.updateScale("web", scale: current)
            current.spec.replicas = 7
            await #expect(throws: KubeError.self, "a stale Scale conflicts") { try await deployments.updateScale("web", scale: current) }
        }
    }

    @Test("deleting an owner collects its dependents; Orphan keeps them")
    func garbageCollection() async throws {
        try await withLocalKube { _, client in
            let deployments = client.namespaced(Deployment.self, in: "default")
            let accounts = client.namespaced(ServiceAccount.self, in: "default")
            for name in ["a", "b"] {
                let owner = try await deployments.create(sampleDeployment(name, namespace: "default"))
                let reference = OwnerReference(apiVersion: "apps/v1", kind: "Deployment", name: name, uid: owner.metadata.uid!, controller: true)
                let child = try await accounts.create(ServiceAccount(metadata: ObjectMeta(name: "\(name)-child", ownerReferences: [reference])))
                _ = try await accounts.create(ServiceAccount(metadata: ObjectMeta(name: "\(name)-grandchild", ownerReferences: [
                    OwnerReference(apiVersion: "v1", kind: "ServiceAccount", name: child.name, uid: child.metadata.uid!)
                ])))
            }
            try await deployments.delete("a")
            #expect(try await accounts.list().items.map(\.name).sorted() == ["b-child", "b-grandchild"])
            try await deployments.delete("b", propagationPolicy: "Orphan")
            let left = try await accounts.list().items
            #expect(left.map(\.name).sorted() == ["b-child", "b-grandchild"])
            #expect(left.first { $0.name == "b-child" }?.metadata.ownerReferences == nil)
            await #expect(throws: KubeError.self, "a uid precondition that does not match") {
                try await accounts.delete("b-child", preconditionUID: "not-the-uid")
            }
        }
    }

    @Test("a CustomResourceDefinition becomes a served resource with schema, defaults, status and scale")
    func customResource() async throws {
        try await withLocalKube { _, client in
            #expect(try await client.serves(group: "example.com", version: "v1", plural: "widgets") == false)
            let crd = CustomResourceDefinition(
                metadata: ObjectMeta(name: "widgets.example.com"),
                spec: .init(
                    group: "example.com", names: .init(plural: "widgets", kind: "Widget", shortNames: ["wd"]),
                    scope: "Namespaced",
                    versions: [
                        .init(
                            name: "v1",
                            schema: .init(openAPIV3Schema: [
                                "type": "object",
                                "properties": [
                                    "spec": [
                                        "type": "object", "required": ["size"],
                                        "properties": [
                                            "size": ["type": "integer", "minimum": 1, "maximum": 10],
                                            "color": ["type": "string", "enum": ["red", "blue"], "default": "red"],
                                            "replicas": ["type": "integer"],
                                        ],
                                    ],
                                    "status": ["type": "object", "properties": ["replicas": ["type": "integer"], "selector": ["type": "string"]]],
                                ],
                            ]),
                            subresources: .init(
                                status: [:],
                                scale: .init(specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas", labelSelectorPath: ".status.selector")))
                    ]))
            let stored = try await client.clusterScoped(CustomResourceDefinition.self).create(crd)
            #expect(stored.metadata.name == "widgets.example.com")
            #expect(try await client.serves(group: "example.com", version: "v1", plural: "widgets"))

            let resource = ResourceDescriptor(group: "example.com", version: "v1", plural: "widgets", kind: "Widget", namespaced: true)
            let widgets = client.resource(DynamicObject.self, at: resource, namespace: "default")
            let widget = try await widgets.create(DynamicObject(metadata: ObjectMeta(name: "w1"), fields: ["spec": ["size": 3, "replicas": 1, "unknown": "x"]]))
            #expect(widget.fields["spec"]?["color"] == "red", "schema defaults are applied")
            #expect(widget.fields["spec"]?["unknown"] == nil, "unknown fields are pruned")
            do {
                _ = try await widgets.create(DynamicObject(metadata: ObjectMeta(name: "w2"), fields: ["spec": ["size": 11, "color": "green"]]))
                Issue.record("schema violations must be rejected")
            } catch let error as KubeError {
                let fields = Set(error.causes.compactMap(\.field))
                #expect(fields == ["spec.size", "spec.color"], "\(error)")
            }
            await #expect(throws: KubeError.self) {
                try await widgets.create(DynamicObject(metadata: ObjectMeta(name: "w3"), fields: ["spec": ["color": "red"]]))
            }
            var withStatus = widget
            withStatus.status = ["replicas": 1, "selector": "app=w1"]
            _ = try await widgets.updateStatus(withStatus)
            let scale = try await widgets.scale("w1", replicas: 5)
            #expect(scale.spec.replicas == 5)
            #expect(scale.status?.replicas == 1)
            #expect(scale.status?.selector == "app=w1")
            #expect(try await widgets.get("w1").fields["spec"]?["replicas"] == 5)

            try await client.clusterScoped(CustomResourceDefinition.self).delete("widgets.example.com")
            #expect(try await client.serves(group: "example.com", version: "v1", plural: "widgets") == false)
            await #expect(throws: KubeError.self) { try await widgets.get("w1") }
        }
    }

    @Test("a 2xx body of the wrong shape is an undecodable error naming the field")
    func undecodable() async throws {
        try await withLocalKube { _, client in
            do {
                _ = try await client.request(.GET, path: "/version", as: Deployment.self)
                Issue.record("expected a decoding failure")
            } catch KubeError.undecodable(let type, let reason) {
                #expect(type == "Deployment")
                #expect(reason.contains("metadata"))
            }
        }
    }

    @Test("reads make no writes, as the request counter shows")
    func requestCounter() async throws {
        try await withLocalKube { server, client in
            let accounts = client.namespaced(ServiceAccount.self, in: "default")
            _ = try await accounts.create(ServiceAccount(metadata: ObjectMeta(name: "one")))
            server.requests.reset()
            _ = try await accounts.get("one")
            _ = try await accounts.list()
            #expect(server.requests.writes == 0)
            #expect(server.requests.count(.get) == 1)
            #expect(server.requests.count(.list, resource: "serviceaccounts") == 1)
        }
    }
}
