import Foundation
import KubeAPI
import KubeClient
import LocalKube
import TideTestSupport
import Testing
import Yams
import KubeCertificates

/// The reference reading of a document: Yams (a full YAML implementation), every
/// scalar as text except YAML's nulls — what ``KubeConfigYAML`` promises.
private func reference(_ text: String) throws -> JSONValue {
    func convert(_ node: Node) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) { return .null }
            return .string(scalar.string)
        case .mapping(let mapping):
            var members: [String: JSONValue] = [:]
            for (key, value) in mapping { members[key.string ?? ""] = convert(value) }
            return .object(members)
        case .sequence(let sequence):
            return .array(sequence.map(convert))
        case .alias:
            // Yams' compose resolves aliases to their anchored node; none reach here.
            return .null
        }
    }
    guard let node = try Yams.compose(yaml: text) else { return .null }
    return convert(node)
}

@Suite("Kubeconfig YAML")
struct KubeConfigYAMLTests {
    /// Documents in the shapes kubeconfig writers produce, each read as Yams reads it.
    @Test(
        "reads what kubeconfig writers produce, as a full YAML parser does",
        arguments: [
            ("kubectl", """
            apiVersion: v1
            clusters:
            - cluster:
                certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
                server: https://127.0.0.1:6443
              name: kind-kind
            contexts:
            - context:
                cluster: kind-kind
                user: kind-kind
              name: kind-kind
            current-context: kind-kind
            kind: Config
            preferences: {}
            users:
            - name: kind-kind
              user:
                client-certificate-data: LS0tLS1CRUdJTg==
                client-key-data: LS0tLS1CRUdJTg==
            """),
            ("gcloud (GKE)", """
            apiVersion: v1
            clusters:
            - cluster:
                certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t
                server: https://34.118.10.20
              name: gke_shop-prod_europe-west1_main
            contexts:
            - context:
                cluster: gke_shop-prod_europe-west1_main
                user: gke_shop-prod_europe-west1_main
              name: gke_shop-prod_europe-west1_main
            current-context: gke_shop-prod_europe-west1_main
            kind: Config
            preferences: {}
            users:
            - name: gke_shop-prod_europe-west1_main
              user:
                exec:
                  apiVersion: client.authentication.k8s.io/v1beta1
                  command: gke-gcloud-auth-plugin
                  installHint: Install gke-gcloud-auth-plugin for use with kubectl by following
                    https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin
                  provideClusterInfo: true
            """),
            ("aws eks update-kubeconfig", """
            apiVersion: v1
            clusters:
            - cluster:
                certificate-authority-data: LS0tLS1CRUdJTg==
                server: https://0123456789ABCDEF.gr7.eu-west-1.eks.amazonaws.com
              name: arn:aws:eks:eu-west-1:111122223333:cluster/shop
            contexts:
            - context:
                cluster: arn:aws:eks:eu-west-1:111122223333:cluster/shop
                user: arn:aws:eks:eu-west-1:111122223333:cluster/shop
              name: arn:aws:eks:eu-west-1:111122223333:cluster/shop
            current-context: arn:aws:eks:eu-west-1:111122223333:cluster/shop
            kind: Config
            preferences: {}
            users:
            - name: arn:aws:eks:eu-west-1:111122223333:cluster/shop
              user:
                exec:
                  apiVersion: client.authentication.k8s.io/v1beta1
                  args:
                  - --region
                  - eu-west-1
                  - eks
                  - get-token
                  - --cluster-name
                  - shop
                  - --output
                  - json
                  command: aws
                  env:
                  - name: AWS_PROFILE
                    value: prod
                  interactiveMode: IfAvailable
                  provideClusterInfo: false
            """),
            ("az aks get-credentials with kubelogin", """
            apiVersion: v1
            clusters:
            - cluster:
                certificate-authority-data: LS0tLS1CRUdJTg==
                server: https://shop-dns-12345678.hcp.westeurope.azmk8s.io:443
              name: shop
            contexts:
            - context:
                cluster: shop
                user: clusterUser_rg_shop
              name: shop
            current-context: shop
            kind: Config
            preferences: {}
            users:
            - name: clusterUser_rg_shop
              user:
                exec:
                  apiVersion: client.authentication.k8s.io/v1beta1
                  args:
                  - get-token
                  - --environment
                  - AzurePublicCloud
                  - --server-id
                  - 6dae42f8-4368-4678-94ff-3960e28e3630
                  - --login
                  - devicecode
                  command: kubelogin
                  env: null
                  installHint: |2

                    kubelogin is not installed which is required to connect to AAD enabled cluster.

                    To learn more, please go to https://aka.ms/aks/kubelogin
                  provideClusterInfo: false
            """),
            ("exec plugin with args and env", """
            users:
            - name: gke
              user:
                exec:
                  apiVersion: client.authentication.k8s.io/v1beta1
                  args:
                  - --region
                  - "eu-west-1"
                  - 'it''s'
                  command: aws
                  env:
                    - name: AWS_PROFILE
                      value: prod   # trailing comment
                  interactiveMode: IfAvailable
                  provideClusterInfo: true
            """),
            ("comments, document markers, quoting", """
            # written by hand
            ---
            current-context: "dev # not a comment"
            clusters:   # inline comment
              - name: 'c1'
                cluster:
                  server: "https://example.com:443/path?a=b#frag"
                  insecure-skip-tls-verify: true
                  tls-server-name: ~
                  proxy-url:
            ...
            """),
            ("flow collections", """
            contexts: [{name: dev, context: {cluster: c1, user: u1, namespace: team-a}}, {name: other, context: {cluster: c1}}]
            preferences: {}
            users: []
            """),
            ("double-quoted escapes", #"""
            token: "a\tb\"c\\d\u00e9\x41\/"
            other: "line one\nline two"
            """#),
            ("literal and folded blocks", """
            users:
            - name: u
              user:
                token: |
                  first
                  # still text
                  third
                folded: >-
                  one
                  two

                  three
                kept: |+
                  tail

            after: x
            """),
            ("nested sequences and empty items", """
            matrix:
            - - a
              - b
            - -
            - c
            """),
            ("plain scalars over several lines", """
            description: one
              two
              three
            next: v
            """),
        ])
    func readsLikeYAML(name: String, text: String) throws {
        let ours = try KubeConfigYAML.parse(text)
        let expected = try reference(text)
        let render = { (value: JSONValue) in String(decoding: (try? JSONEncoder().encode(value)) ?? Data(), as: UTF8.self) }
        #expect(ours == expected, "\(name): read \(render(ours)), expected \(render(expected))")
    }

    @Test("JSON kubeconfigs (kubectl config view -o json) are read too")
    func json() throws {
        let text = """
            {
                "kind": "Config",
                "apiVersion": "v1",
                "clusters": [
                    {
                        "name": "c1",
                        "cluster": {"server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": true}
                    }
                ],
                "users": [{"name": "u1", "user": {"token": "t\\u00e9"}}],
                "contexts": [{"name": "dev", "context": {"cluster": "c1", "user": "u1"}}],
                "current-context": "dev"
            }
            """
        let file = try KubeConfigFile.parse(text)
        #expect(file.clusters.first?.cluster.server == "https://127.0.0.1:6443")
        #expect(file.clusters.first?.cluster.insecureSkipTLSVerify == true)
        #expect(file.currentContext == "dev")
        let value = try KubeConfigYAML.parse(text)
        #expect(value["users"] == .array([.object(["name": .string("u1"), "user": .object(["token": .string("té")])])]))
    }

    @Test("anchors, aliases, the merge key and tags read as YAML means them, through the whole loader")
    func anchorsAndTags() throws {
        let text = """
            apiVersion: v1
            kind: Config
            clusters:
            - name: prod
              cluster: &prod
                server: https://10.0.0.1:6443
                certificate-authority-data: LS0tLS1CRUdJTg==
            - name: prod-direct
              cluster:
                <<: *prod
                server: https://10.0.0.2:6443
            users:
            - name: robot
              user: {token: !!str 12345}
            contexts:
            - name: a
              context: &ctx {cluster: prod, user: robot, namespace: shop}
            - name: b
              context:
                <<: [*ctx, {namespace: ignored, extension: x}]
                cluster: prod-direct
            current-context: b
            """
        let value = try KubeConfigYAML.parse(text)
        let clusters = value["clusters"]?.arrayValue ?? []
        #expect(clusters.count == 2)
        #expect(clusters[1]["cluster"] == .object([
            "server": .string("https://10.0.0.2:6443"), "certificate-authority-data": .string("LS0tLS1CRUdJTg=="),
        ]), "a merge key brings the anchored members; the mapping's own win")
        #expect(value.value(atPath: ["users"])?.arrayValue?.first?.value(atPath: ["user", "token"]) == .string("12345"), "a tag is read as the text it tags")
        let second = value["contexts"]?.arrayValue?[1]["context"]
        #expect(second == .object([
            "cluster": .string("prod-direct"), "user": .string("robot"), "namespace": .string("shop"), "extension": .string("x"),
        ]), "the first mapping of a merged list wins over later ones")
        let file = try KubeConfigFile.parse(text)
        #expect(file.currentContext == "b")
        #expect(file.contexts.last?.context.cluster == "prod-direct")
        #expect(file.contexts.last?.context.namespace == "shop")
        #expect(file.clusters.last?.cluster.server == "https://10.0.0.2:6443")
        #expect(file.users.first.map { "\($0.user.token ?? "")" } == "12345")
    }

    /// What the reader refuses says which line and why, and never repeats the text.
    @Test(
        "refuses what is not one well-formed document, naming the line",
        arguments: [
            ("two documents", "a: secret-value\n---\nb: 2\n", 2, "one YAML document"),
            ("text after the end", "a: secret-value\n...\nb: 2\n", 3, "expected <document start>"),
            ("tab indentation", "a:\n\tb: secret-value\n", 2, "cannot start any token"),
            ("duplicate key", "a: 1\nb: secret-value\na: 3\n", 3, "appears twice"),
            ("unclosed flow", "users:\n- name: u\n  user: {token: secret-value\n", 4, "flow mapping"),
            ("unclosed quote", "token: \"secret-value\n", 2, "quoted scalar"),
            ("bad escape", "token: \"secret-value\\q\"\n", 1, "escape"),
            ("deeper after a value", "a: b\n  c: secret-value\n", 2, "mapping values are not allowed"),
            ("not a mapping entry", "a: b\nsecret-value\n", 3, "could not find expected ':'"),
            ("alias before its anchor", "a: *x\nb: &x secret-value\n", 1, "names no anchor"),
            ("a mapping as a key", "? {a: b}\n: secret-value\n", 1, "key must be a scalar"),
        ])
    func refuses(name: String, text: String, line: Int, reason: String) {
        #expect {
            _ = try KubeConfigYAML.parse(text)
        } throws: { error in
            guard let error = error as? KubeConfigYAML.SyntaxError else { return false }
            #expect(error.line == line, "\(name): \(error)")
            #expect(error.description.contains(reason), "\(name): \(error)")
            #expect(!error.description.contains("secret-value"), "\(name) quotes the document")
            return true
        }
    }

    /// The kubeconfig `kubectl` itself writes, through the whole loader: the same
    /// server, CA, credentials and namespace kubectl reads from it.
    @Test(
        "a kubeconfig written by kubectl loads as kubectl reads it",
        .enabled(if: kubectlPath != nil, "kubectl is not installed (scripts/test.sh installs it)"))
    func writtenByKubectl() async throws {
        let kubectl = try #require(kubectlPath)
        let dir = try FixtureDirectory()
        let config = dir.path + "/config"
        let ca = try dir.write("ca.pem", try CertificateAuthority().certificatePEM)
        let run = { (arguments: [String]) async throws in _ = try await runCommand(kubectl, ["--kubeconfig", config] + arguments) }
        try await run(["config", "set-cluster", "prod", "--server", "https://10.0.0.1:6443", "--certificate-authority", ca, "--embed-certs"])
        try await run(["config", "set-credentials", "robot", "--token", "s3cr3t:with#odd'chars\""])
        try await run(["config", "set-context", "prod-ctx", "--cluster", "prod", "--user", "robot", "--namespace", "shop"])
        try await run(["config", "use-context", "prod-ctx"])
        let connection = try KubeConfigLoader(
            kubeconfigPath: config, environment: [:], homeDirectory: "/nonexistent", serviceAccountDirectory: "/nonexistent"
        ).load()
        #expect(connection.server.absoluteString == "https://10.0.0.1:6443")
        #expect(connection.namespace == "shop")
        guard case .token(let token) = connection.credential else { Issue.record("expected a token"); return }
        #expect(token.value == "s3cr3t:with#odd'chars\"")
        #expect(connection.certificateAuthorityPEM.map { String(decoding: $0, as: UTF8.self) }?.contains("BEGIN CERTIFICATE") == true)
        // And the document as a whole matches kubectl's own JSON rendering of it.
        let json = try await runCommand(kubectl, ["--kubeconfig", config, "config", "view", "--raw", "-o", "json"])
        let viaKubectl = try KubeConfigFile.parse(json)
        let ours = try KubeConfigFile.parse(String(contentsOfFile: config, encoding: .utf8))
        #expect(ours == viaKubectl)
    }
}
