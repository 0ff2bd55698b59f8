import Foundation
import KubeClient
import LocalKube
import Testing
import KubeCertificates

/// A scratch directory with kubeconfig fixtures, removed at the end.
final class FixtureDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "tide-kubeconfig-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let file = (path as NSString).appendingPathComponent(name)
        try FileManager.default.createDirectory(
            atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }
}

func kubeconfig(server: String = "https://127.0.0.1:6443", cluster: String = "", user: String = "", context: String = "dev") -> String {
    """
    apiVersion: v1
    kind: Config
    current-context: \(context)
    clusters:
    - name: c1
      cluster:
        server: \(server)
    \(cluster)
    users:
    - name: u1
      user:
    \(user.isEmpty ? "    {}" : user)
    contexts:
    - name: dev
      context: {cluster: c1, user: u1, namespace: team-a}
    - name: other
      context: {cluster: c1, user: u1}
    """
}

@Suite("Kubeconfig loading")
struct KubeConfigTests {
    let ca: CertificateAuthority
    let client: CertificateAuthority.Identity

    init() throws {
        ca = try CertificateAuthority()
        client = try ca.issueClientCertificate(commonName: "tester")
    }

    func loader(_ path: String? = nil, context: String? = nil, env: [String: String] = [:], home: String = "/nonexistent") -> KubeConfigLoader {
        KubeConfigLoader(kubeconfigPath: path, context: context, environment: env, homeDirectory: home, serviceAccountDirectory: "/nonexistent")
    }

    @Test("a token user with inline CA data")
    func tokenAndCAData() throws {
        let dir = try FixtureDirectory()
        let caData = Data(ca.certificatePEM.utf8).base64EncodedString()
        let file = try dir.write("config", kubeconfig(cluster: "    certificate-authority-data: \(caData)", user: "    token: s3cr3t-token"))
        let connection = try loader(file).load()
        #expect(connection.server.absoluteString == "https://127.0.0.1:6443")
        #expect(connection.namespace == "team-a")
        #expect(connection.certificateAuthorityPEM != nil)
        #expect(!connection.insecureSkipTLSVerify)
        guard case .token(let token) = connection.credential else { Issue.record("expected a token"); return }
        #expect(token.value == "s3cr3t-token")
        #expect(!connection.description.contains("s3cr3t"))
        #expect(!"\(token)".contains("s3cr3t"))
    }

    @Test("client certificate and key files resolve relative to the kubeconfig")
    func clientCertificateFiles() throws {
        let dir = try FixtureDirectory()
        try dir.write("pki/ca.crt", ca.certificatePEM)
        try dir.write("pki/client.crt", client.certificatePEM)
        try dir.write("pki/client.key", client.keyPEM)
        let file = try dir.write("config", kubeconfig(
            cluster: "    certificate-authority: pki/ca.crt",
            user: "    client-certificate: pki/client.crt\n    client-key: pki/client.key"))
        let connection = try loader(file).load()
        #expect(connection.clientCertificate != nil)
        guard case .none = connection.credential else { Issue.record("no token expected"); return }
    }

    @Test("client certificate data, token file and insecure-skip-tls-verify")
    func dataTokenFileInsecure() throws {
        let dir = try FixtureDirectory()
        try dir.write("token", "file-token\n")
        let cert = Data(client.certificatePEM.utf8).base64EncodedString()
        let key = Data(client.keyPEM.utf8).base64EncodedString()
        let file = try dir.write("config", kubeconfig(
            cluster: "    insecure-skip-tls-verify: true",
            user: "    client-certificate-data: \(cert)\n    client-key-data: \(key)\n    tokenFile: token"))
        let connection = try loader(file).load()
        #expect(connection.insecureSkipTLSVerify)
        guard case .tokenFile(let tokenFile) = connection.credential else { Issue.record("expected a token file"); return }
        #expect(try tokenFile.token().value == "file-token")
    }

    @Test("KUBECONFIG merges files: the first to define a name wins, missing files are skipped")
    func mergedList() throws {
        let dir = try FixtureDirectory()
        let first = try dir.write("a", """
            current-context: second
            clusters:
            - name: c1
              cluster: {server: "https://first:6443"}
            """)
        let second = try dir.write("b", """
            current-context: ignored
            clusters:
            - name: c1
              cluster: {server: "https://second:6443"}
            users:
            - name: u1
              user: {token: t}
            contexts:
            - name: second
              context: {cluster: c1, user: u1}
            """)
        let connection = try loader(env: ["KUBECONFIG": "\(first):\(dir.path)/missing:\(second)"]).load()
        #expect(connection.server.host == "first")
        #expect(connection.namespace == "default")
    }

    @Test("--context selects another context")
    func contextOverride() throws {
        let dir = try FixtureDirectory()
        let file = try dir.write("config", kubeconfig(user: "    token: t"))
        #expect(try loader(file, context: "other").load().namespace == "default")
    }

    @Test("in-cluster: service host and port, IPv6 bracketed, token re-read from file")
    func inCluster() throws {
        let dir = try FixtureDirectory()
        try dir.write("token", "pod-token")
        try dir.write("ca.crt", ca.certificatePEM)
        try dir.write("namespace", "tide-system\n")
        let loader = KubeConfigLoader(
            environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"],
            homeDirectory: "/nonexistent", serviceAccountDirectory: dir.path)
        let connection = try loader.load()
        #expect(connection.server.absoluteString == "https://[fd00::1]:443")
        #expect(connection.namespace == "tide-system")
        guard case .tokenFile(let file) = connection.credential else { Issue.record("expected a token file"); return }
        #expect(try file.token().value == "pod-token")
        let fast = TokenFile(path: dir.path + "/token", refreshInterval: .zero)
        #expect(try fast.token().value == "pod-token")
        try dir.write("token", "rotated-token")
        #expect(try fast.token().value == "rotated-token")
    }

    @Test("no source at all: one error naming every source tried")
    func noSource() {
        do {
            _ = try loader().load()
            Issue.record("expected an error")
        } catch let error as KubeConfigError {
            let text = error.description
            #expect(text.contains("KUBECONFIG: not set"))
            #expect(text.contains("in-cluster: KUBERNETES_SERVICE_HOST not set"))
            #expect(text.contains("/nonexistent/.kube/config: file does not exist"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    /// Each broken fixture fails with a message that names the problem.
    @Test(
        "broken kubeconfigs give clear errors",
        arguments: [
            ("missing file", nil as String?, "file does not exist"),
            ("bad YAML", "clusters: [unclosed", "not a valid kubeconfig YAML document"),
            ("unknown context", kubeconfig(context: "prod"), "context 'prod' not found (known contexts: dev, other)"),
            ("missing CA file", kubeconfig(cluster: "    certificate-authority: nowhere/ca.crt"), "certificate-authority file"),
            ("bad PEM", kubeconfig(cluster: "    certificate-authority-data: \(Data("not a certificate".utf8).base64EncodedString())"), "is not a valid PEM certificate"),
            ("bad base64", kubeconfig(cluster: "    certificate-authority-data: '%%%'"), "is not valid base64"),
            ("certificate without key", kubeconfig(user: "    client-certificate-data: \(Data("x".utf8).base64EncodedString())"), "not both"),
            ("exec plugin of a withdrawn version", kubeconfig(user: "    exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: aws}"), "v1alpha1 is not supported"),
            ("auth-provider", kubeconfig(user: "    auth-provider: {name: gcp}"), "auth-provider plugin, which kubectl itself no longer runs"),
            ("no server", kubeconfig(server: "''"), "has no valid server URL"),
            ("undefined user", kubeconfig().replacingOccurrences(of: "- name: u1", with: "- name: u2"), "user 'u1', which is not defined"),
        ])
    func broken(name: String, text: String?, expected: String) throws {
        let dir = try FixtureDirectory()
        let path = try text.map { try dir.write("config", $0) } ?? dir.path + "/absent"
        do {
            _ = try loader(path).load()
            Issue.record("\(name): expected an error")
        } catch let error as KubeConfigError {
            #expect(error.description.contains(expected), "\(name): \(error.description)")
            #expect(error.description.contains("--kubeconfig \(path)"), "\(name) names the source")
        }
    }

    @Test("a YAML error never quotes the document, which may hold a token")
    func yamlErrorHidesSecrets() throws {
        let dir = try FixtureDirectory()
        let file = try dir.write("config", "users:\n- name: u\n  user: {token: super-secret-value\n")
        do {
            _ = try loader(file).load()
            Issue.record("expected an error")
        } catch let error as KubeConfigError {
            #expect(!error.description.contains("super-secret-value"))
            #expect(error.description.contains("line"))
        }
    }

    @Test("a broken KUBECONFIG stops the search instead of falling through")
    func brokenStops() throws {
        let dir = try FixtureDirectory()
        let file = try dir.write("config", "::: not yaml [")
        let homeDir = try FixtureDirectory()
        try homeDir.write(".kube/config", kubeconfig(user: "    token: t"))
        #expect(throws: KubeConfigError.self) { try loader(env: ["KUBECONFIG": file], home: homeDir.path).load() }
        #expect(try loader(home: homeDir.path).load().namespace == "team-a")
    }
}
