import Foundation
import KubeAPI
import KubeClient
import LocalKube
import Synchronization
import Testing

/// A kubeconfig `exec` plugin as the cloud CLIs write them, played by a shell script.
@Suite("Exec credential plugins")
struct ExecCredentialTests {
    /// A script that answers `token` (or, after a first run, `second`), counting its runs
    /// in `runs` and writing its environment's `KUBERNETES_EXEC_INFO` and `REGION` to `seen`.
    func plugin(in dir: FixtureDirectory, token: String, second: String? = nil, expires: String? = nil, exit: Int = 0) throws -> String {
        let status = expires.map { #","expirationTimestamp":"\#($0)""# } ?? ""
        let script = """
            #!/bin/sh
            runs="$(dirname "$0")/runs"
            count=$(cat "$runs" 2>/dev/null || echo 0)
            echo $((count + 1)) > "$runs"
            printf '%s\\n%s\\n' "$KUBERNETES_EXEC_INFO" "$REGION" > "$(dirname "$0")/seen"
            if [ \(exit) -ne 0 ]; then echo "no session: run the login first" >&2; echo "secret-stdout"; exit \(exit); fi
            token=\(token)
            if [ "$count" -ge 1 ] && [ -n "\(second ?? "")" ]; then token=\(second ?? ""); fi
            printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"\(status)}}' "$token"
            """
        let path = try dir.write("bin/get-token", script)
        chmod(path, 0o755)
        return path
    }

    func runs(_ dir: FixtureDirectory) -> Int { Int((try? String(contentsOfFile: dir.path + "/bin/runs", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "0") ?? 0 }

    func server(token: String) async throws -> LocalKubeServer {
        var options = LocalKubeOptions()
        options.bearerToken = token
        return try await LocalKubeServer.start(options: options)
    }

    @Test("a kubeconfig whose user runs a plugin: the token authenticates, is cached, and the plugin sees its env and KUBERNETES_EXEC_INFO; a relative command is found beside the kubeconfig")
    func kubeconfigPlugin() async throws {
        let dir = try FixtureDirectory()
        _ = try plugin(in: dir, token: "plugin-token-1")
        let server = try await server(token: "plugin-token-1")
        defer { Task { await server.stop() } }
        let config = try dir.write("config", """
            apiVersion: v1
            kind: Config
            current-context: cloud
            clusters:
            - name: cloud
              cluster: {server: "\(server.url.absoluteString)"}
            users:
            - name: cloud-user
              user:
                exec:
                  apiVersion: client.authentication.k8s.io/v1
                  command: ./bin/get-token
                  args: [token, --cluster, prod]
                  env:
                  - {name: REGION, value: eu-west-1}
                  interactiveMode: Never
                  provideClusterInfo: false
            contexts:
            - name: cloud
              context: {cluster: cloud, user: cloud-user, namespace: default}
            """)
        let connection = try KubeConfigLoader(kubeconfigPath: config, environment: [:], homeDirectory: "/nonexistent", serviceAccountDirectory: "/nonexistent").load()
        #expect(connection.description.contains("exec plugin ./bin/get-token"))
        let client = try KubeClient(connection: connection)
        _ = try await client.namespaced(ConfigMap.self, in: "default").list()
        _ = try await client.namespaced(ConfigMap.self, in: "default").list()
        try await client.shutdown()
        #expect(runs(dir) == 1, "the token is cached: no expiry was given")
        let seen = try String(contentsOfFile: dir.path + "/bin/seen", encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(seen.first == #"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}}"#)
        #expect(seen.dropFirst().first == "eu-west-1")
    }

    @Test("an expired token runs the plugin again; a 401 makes it run again once, and the new token is used")
    func expiryAndUnauthorized() async throws {
        let dir = try FixtureDirectory()
        let path = try plugin(in: dir, token: "old-token", second: "new-token", expires: "2020-01-01T00:00:00Z")
        let server = try await server(token: "new-token")
        defer { Task { await server.stop() } }
        let plugin = ExecCredentialPlugin(.init(apiVersion: "client.authentication.k8s.io/v1", command: path), directory: dir.path)
        let client = try KubeClient(connection: ClusterConnection(server: server.url, credential: .exec(plugin), source: "test"))
        _ = try await client.namespaced(ConfigMap.self, in: "default").list()
        #expect(runs(dir) == 2, "old-token was refused (401), the plugin ran again and new-token was accepted")
        _ = try await client.namespaced(ConfigMap.self, in: "default").list()
        #expect(runs(dir) == 3, "new-token expired in 2020 too: it is fetched again before the next request")
        try await client.shutdown()
    }

    @Test("a missing, failing or confused plugin is one clear error naming the command; its output and the token never show")
    func failures() async throws {
        let dir = try FixtureDirectory()
        let server = try await server(token: "secret-token-value")
        defer { Task { await server.stop() } }
        func error(_ configuration: ExecCredentialPlugin.Configuration) async -> String {
            let plugin = ExecCredentialPlugin(configuration, directory: dir.path)
            do {
                let client = try KubeClient(connection: ClusterConnection(server: server.url, credential: .exec(plugin), source: "test"))
                defer { Task { try? await client.shutdown() } }
                _ = try await client.namespaced(ConfigMap.self, in: "default").list()
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        let missing = await error(.init(apiVersion: "client.authentication.k8s.io/v1", command: "tide-no-such-plugin", installHint: "install it with: apt-get install tide-auth"))
        #expect(missing.contains("exec credential plugin 'tide-no-such-plugin' was not found: install it with: apt-get install tide-auth"), "\(missing)")
        let failing = try plugin(in: dir, token: "unused", exit: 3)
        let failed = await error(.init(apiVersion: "client.authentication.k8s.io/v1", command: failing))
        #expect(failed.contains("exited 3: no session: run the login first") && !failed.contains("secret-stdout"), "\(failed)")
        let confused = try dir.write("bin/confused", "#!/bin/sh\necho 'token: secret-token-value'\n")
        chmod(confused, 0o755)
        let badAnswer = await error(.init(apiVersion: "client.authentication.k8s.io/v1", command: confused))
        #expect(badAnswer.contains("did not answer with a usable ExecCredential: its output is not JSON") && !badAnswer.contains("secret-token-value"), "\(badAnswer)")
        let always = await error(.init(apiVersion: "client.authentication.k8s.io/v1", command: failing, interactiveMode: "Always"))
        #expect(always.contains("needs a terminal (interactiveMode: Always)"), "\(always)")
    }
}
