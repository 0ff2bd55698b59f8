import AsyncHTTPClient
import Foundation
import KubeAPI
import LocalKube
import NIOCore
import NIOHTTP1
import Testing

/// LocalKube authenticates ServiceAccount tokens it issued and authorizes their requests
/// with RBAC, as kube-apiserver does, so a test can hold a Role Tide writes against what
/// its token can really do.
@Suite("LocalKube: ServiceAccount tokens and RBAC")
struct AuthorizationTests {
    struct Answer {
        var code: Int
        var body: JSONValue
    }

    static func send(_ http: HTTPClient, _ server: LocalKubeServer, _ method: HTTPMethod, _ path: String, token: String? = nil, body: JSONValue? = nil, contentType: String = "application/json") async throws -> Answer {
        var request = HTTPClientRequest(url: server.url.absoluteString + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        }
        let response = try await http.execute(request, timeout: .seconds(10))
        let bytes = Array(buffer: try await response.body.collect(upTo: 1 << 20))
        return Answer(code: Int(response.status.code), body: (try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))) ?? .string(String(decoding: bytes, as: UTF8.self)))
    }

    @Test("a token for a ServiceAccount whose Role allows deployments/scale of d1 scales d1 and is refused d2, Secrets and /metrics with kube-apiserver's words; garbage and a deleted account's token are 401")
    func serviceAccountToken() async throws {
        let server = try await LocalKubeServer.start()
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        var failure: (any Error)?
        do { try await serviceAccountToken(http, server) } catch { failure = error }
        try await http.shutdown()
        await server.stop()
        if let failure { throw failure }
    }

    func serviceAccountToken(_ http: HTTPClient, _ server: LocalKubeServer) async throws {
        func admin(_ method: HTTPMethod, _ path: String, _ body: JSONValue? = nil) async throws -> Answer {
            try await Self.send(http, server, method, path, body: body)
        }
        #expect(try await admin(.POST, "/api/v1/namespaces", ["metadata": ["name": "shop"]]).code == 201)
        #expect(try await admin(.POST, "/api/v1/namespaces/shop/serviceaccounts", ["metadata": ["name": "scaler"]]).code == 201)
        for name in ["d1", "d2"] {
            let deployment: JSONValue = [
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": .string(name)],
                "spec": ["replicas": 1, "selector": ["matchLabels": ["app": .string(name)]],
                         "template": ["metadata": ["labels": ["app": .string(name)]], "spec": ["containers": [["name": "c", "image": "x"]]]]],
            ]
            #expect(try await admin(.POST, "/apis/apps/v1/namespaces/shop/deployments", deployment).code == 201)
        }
        #expect(try await admin(.POST, "/apis/rbac.authorization.k8s.io/v1/namespaces/shop/roles", [
            "metadata": ["name": "d1-scaler"],
            "rules": [["apiGroups": ["apps"], "resources": ["deployments/scale"], "resourceNames": ["d1"], "verbs": ["get", "patch", "update"]]],
        ]).code == 201)
        #expect(try await admin(.POST, "/apis/rbac.authorization.k8s.io/v1/namespaces/shop/rolebindings", [
            "metadata": ["name": "d1-scaler"],
            "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "d1-scaler"],
            "subjects": [["kind": "ServiceAccount", "name": "scaler", "namespace": "shop"]],
        ]).code == 201)

        // Too short a token is refused as kube-apiserver refuses it.
        let short = try await admin(.POST, "/api/v1/namespaces/shop/serviceaccounts/scaler/token", ["spec": ["expirationSeconds": 60]])
        #expect(short.code == 422)
        let issued = try await admin(.POST, "/api/v1/namespaces/shop/serviceaccounts/scaler/token", ["spec": ["expirationSeconds": 3600]])
        #expect(issued.code == 201)
        let token = try #require(issued.body.value(atPath: ["status", "token"])?.stringValue)
        #expect(issued.body.value(atPath: ["status", "expirationTimestamp"])?.stringValue != nil)

        // What the Role allows.
        #expect(try await Self.send(http, server, .GET, "/apis/apps/v1/namespaces/shop/deployments/d1/scale", token: token).code == 200)
        let scaled = try await Self.send(
            http, server, .PATCH, "/apis/apps/v1/namespaces/shop/deployments/d1/scale", token: token, body: ["spec": ["replicas": 3]],
            contentType: "application/merge-patch+json")
        #expect(scaled.code == 200)
        #expect(scaled.body.value(atPath: ["spec", "replicas"])?.intValue == 3)

        // What it does not.
        let other = try await Self.send(
            http, server, .PATCH, "/apis/apps/v1/namespaces/shop/deployments/d2/scale", token: token, body: ["spec": ["replicas": 3]],
            contentType: "application/merge-patch+json")
        #expect(other.code == 403)
        #expect(other.body["reason"]?.stringValue == "Forbidden")
        #expect(other.body["message"]?.stringValue
            == #"deployments.apps "d2" is forbidden: User "system:serviceaccount:shop:scaler" cannot patch resource "deployments/scale" in API group "apps" in the namespace "shop""#)
        let secrets = try await Self.send(http, server, .GET, "/api/v1/namespaces/shop/secrets", token: token)
        #expect(secrets.code == 403)
        #expect(secrets.body["message"]?.stringValue
            == #"secrets is forbidden: User "system:serviceaccount:shop:scaler" cannot list resource "secrets" in API group "" in the namespace "shop""#)
        let clusterWide = try await Self.send(http, server, .GET, "/apis/apps/v1/deployments", token: token)
        #expect(clusterWide.body["message"]?.stringValue?.hasSuffix("at the cluster scope") == true, "\(clusterWide.body)")
        let metrics = try await Self.send(http, server, .GET, "/metrics", token: token)
        #expect(metrics.code == 403)
        #expect(metrics.body["message"]?.stringValue == #"forbidden: User "system:serviceaccount:shop:scaler" cannot get path "/metrics""#)
        // d2 was not touched.
        #expect(try await admin(.GET, "/apis/apps/v1/namespaces/shop/deployments/d2").body.value(atPath: ["spec", "replicas"])?.intValue == 1)
        // Discovery stays open to an authenticated user.
        #expect(try await Self.send(http, server, .GET, "/apis", token: token).code == 200)

        // A TokenReview names the account; a SubjectAccessReview agrees with what happened.
        let review = try await admin(.POST, "/apis/authentication.k8s.io/v1/tokenreviews", ["spec": ["token": .string(token)]])
        #expect(review.body.value(atPath: ["status", "authenticated"]) == .bool(true))
        #expect(review.body.value(atPath: ["status", "user", "username"])?.stringValue == "system:serviceaccount:shop:scaler")
        let access = try await admin(.POST, "/apis/authorization.k8s.io/v1/subjectaccessreviews", [
            "spec": ["user": "system:serviceaccount:shop:scaler", "resourceAttributes": [
                "namespace": "shop", "verb": "update", "group": "apps", "resource": "deployments", "subresource": "scale", "name": "d1"]],
        ])
        #expect(access.body.value(atPath: ["status", "allowed"]) == .bool(true))
        #expect(access.body.value(atPath: ["status", "reason"])?.stringValue
            == #"RBAC: allowed by RoleBinding "d1-scaler/shop" of Role "d1-scaler" to ServiceAccount "scaler/shop""#)

        // Garbage is 401; so is the token once its ServiceAccount is gone.
        #expect(try await Self.send(http, server, .GET, "/apis/apps/v1/namespaces/shop/deployments/d1/scale", token: "lk.garbage").code == 401)
        #expect(try await admin(.DELETE, "/api/v1/namespaces/shop/serviceaccounts/scaler").code == 200)
        #expect(try await Self.send(http, server, .GET, "/apis/apps/v1/namespaces/shop/deployments/d1/scale", token: token).code == 401)
        let gone = try await admin(.POST, "/apis/authentication.k8s.io/v1/tokenreviews", ["spec": ["token": .string(token)]])
        #expect(gone.body.value(atPath: ["status", "authenticated"]) == nil)
        #expect(gone.body.value(atPath: ["status", "error"])?.stringValue?.contains("invalid bearer token") == true)
    }
}
