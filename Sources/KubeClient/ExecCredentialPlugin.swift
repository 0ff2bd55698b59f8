#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KubeAPI
import Synchronization

/// A kubeconfig `exec` credential plugin (`client.authentication.k8s.io`), run as
/// kubectl runs it: what EKS (`aws eks get-token`), GKE (`gke-gcloud-auth-plugin`), AKS
/// (`kubelogin`) and OIDC logins write into users' kubeconfigs.
///
/// Guarantees:
/// - The command runs with the kubeconfig's `args` and `env` added to this process's
///   environment, and `KUBERNETES_EXEC_INFO` describing the request (never interactive
///   unless a terminal is attached and `interactiveMode` allows it).
/// - Its `ExecCredential` token is cached until `status.expirationTimestamp` (for the
///   process's life without one), and the command is run again after a 401.
/// - A missing command, a failing one or an answer without a token is one clear error
///   naming the command (and the kubeconfig's `installHint`); the token and the
///   command's output never appear in it.
public final class ExecCredentialPlugin: Sendable {
    public struct Configuration: Sendable, Hashable, Decodable {
        public var apiVersion: String
        public var command: String
        public var args: [String]?
        public var env: [Variable]?
        /// `Never`, `IfAvailable` (the default) or `Always`.
        public var interactiveMode: String?
        public var installHint: String?

        public struct Variable: Sendable, Hashable, Decodable {
            public var name: String
            public var value: String
        }

        public init(apiVersion: String, command: String, args: [String]? = nil, env: [Variable]? = nil, interactiveMode: String? = nil, installHint: String? = nil) {
            self.apiVersion = apiVersion
            self.command = command
            self.args = args
            self.env = env
            self.interactiveMode = interactiveMode
            self.installHint = installHint
        }
    }

    public let configuration: Configuration
    /// Where relative commands (`./get-token`) are found: the kubeconfig's folder.
    let directory: String
    let cached = Mutex<(token: RedactedString, expires: Date?)?>(nil)
    let now: @Sendable () -> Date

    public init(_ configuration: Configuration, directory: String, now: @escaping @Sendable () -> Date = { Date() }) {
        self.configuration = configuration
        self.directory = directory
        self.now = now
    }

    /// The API versions of `ExecCredential` Tide speaks.
    static let versions = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"]

    public enum Failure: Error, CustomStringConvertible {
        case unsupportedVersion(String)
        case notFound(command: String, hint: String?)
        case failed(command: String, status: Int32, message: String)
        case badAnswer(command: String, reason: String)
        case interactiveRequired(command: String)

        public var description: String {
            switch self {
            case .unsupportedVersion(let version):
                return "exec credential plugin apiVersion \(version) is not supported (use \(ExecCredentialPlugin.versions.joined(separator: " or ")))"
            case .notFound(let command, let hint):
                return "exec credential plugin '\(command)' was not found" + (hint.map { ": \($0)" } ?? "")
            case .failed(let command, let status, let message):
                return "exec credential plugin '\(command)' exited \(status)" + (message.isEmpty ? "" : ": \(message)")
            case .badAnswer(let command, let reason):
                return "exec credential plugin '\(command)' did not answer with a usable ExecCredential: \(reason)"
            case .interactiveRequired(let command):
                return "exec credential plugin '\(command)' needs a terminal (interactiveMode: Always), and none is attached"
            }
        }
    }

    /// The current token: the cached one while it has not expired, else the command's.
    public func token() throws -> RedactedString {
        if let cached = cached.withLock({ $0 }), cached.expires.map({ $0 > now() }) ?? true { return cached.token }
        let fresh = try run()
        cached.withLock { $0 = fresh }
        return fresh.token
    }

    /// Forgets the cached token (after a 401), so the next request runs the command.
    public func invalidate() { cached.withLock { $0 = nil } }

    /// Runs the command once and reads its `ExecCredential`.
    func run() throws -> (token: RedactedString, expires: Date?) {
        let command = configuration.command
        guard Self.versions.contains(configuration.apiVersion) else { throw Failure.unsupportedVersion(configuration.apiVersion) }
        guard let path = Self.resolve(command, directory: directory) else {
            throw Failure.notFound(command: command, hint: configuration.installHint)
        }
        let interactive = configuration.interactiveMode != "Never" && isatty(0) == 1
        if configuration.interactiveMode == "Always", !interactive { throw Failure.interactiveRequired(command: command) }
        var environment = Self.environment()
        for variable in configuration.env ?? [] { environment[variable.name] = variable.value }
        environment["KUBERNETES_EXEC_INFO"] =
            #"{"apiVersion":"\#(configuration.apiVersion)","kind":"ExecCredential","spec":{"interactive":\#(interactive)}}"#
        let (status, output, errors) = try Self.spawn(path, arguments: configuration.args ?? [], environment: environment, inheritInput: interactive)
        guard status == 0 else {
            // The first line of its stderr says why; its stdout may hold secrets and is never shown.
            let reason = String(decoding: errors.prefix(300), as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
            throw Failure.failed(command: command, status: status, message: reason)
        }
        guard let answer = try? KubeJSON.decoder.decode(JSONValue.self, from: Data(output)) else {
            throw Failure.badAnswer(command: command, reason: "its output is not JSON")
        }
        guard answer["kind"]?.stringValue == "ExecCredential" else { throw Failure.badAnswer(command: command, reason: "kind is not ExecCredential") }
        guard let token = answer["status"]?["token"]?.stringValue, !token.isEmpty else {
            let reason = answer["status"]?["clientCertificateData"] != nil
                ? "it gives a client certificate, which Tide does not take from a plugin; use one that gives a token"
                : "status.token is missing"
            throw Failure.badAnswer(command: command, reason: reason)
        }
        var expires: Date?
        if let text = answer["status"]?["expirationTimestamp"]?.stringValue {
            guard let date = RFC3339.parse(text) else { throw Failure.badAnswer(command: command, reason: "expirationTimestamp '\(text)' is not RFC 3339") }
            expires = date
        }
        return (RedactedString(token), expires)
    }

    /// `command` as kubectl finds it: a path with a slash (relative to the kubeconfig's
    /// folder), else the first executable of that name on `PATH`.
    static func resolve(_ command: String, directory: String) -> String? {
        if command.contains("/") {
            let path = command.hasPrefix("/") ? command : FilePaths.join(directory, command)
            return access(path, X_OK) == 0 ? path : nil
        }
        let search = (getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
        return search.map { FilePaths.join(String($0), command) }.first { access($0, X_OK) == 0 }
    }

    static func environment() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") { result[String(text[..<equals])] = String(text[text.index(after: equals)...]) }
            pointer += 1
        }
        return result
    }

    /// Runs `path` to completion; standard output and error are collected (at most
    /// 1 MiB each), standard input is the terminal when `inheritInput`, else empty.
    static func spawn(_ path: String, arguments: [String], environment: [String: String], inheritInput: Bool) throws -> (Int32, [UInt8], [UInt8]) {
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else { throw Failure.failed(command: path, status: -1, message: "cannot create a pipe") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if !inheritInput { posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) }
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        for descriptor in outPipe + errPipe { posix_spawn_file_actions_addclose(&actions, descriptor) }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, envp)
        close(outPipe[1])
        close(errPipe[1])
        defer { close(outPipe[0]); close(errPipe[0]) }
        guard spawned == 0 else { throw Failure.failed(command: path, status: -1, message: String(cString: strerror(spawned))) }
        // Both pipes are read together, so a chatty stderr cannot block the plugin.
        var output: [UInt8] = [], errors: [UInt8] = []
        var open = [outPipe[0], errPipe[0]]
        var buffer = [UInt8](repeating: 0, count: 4_096)
        while !open.isEmpty {
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            guard poll(&fds, nfds_t(fds.count), 120_000) > 0 else {
                // Two minutes without a word: stop it rather than hang every request.
                kill(pid, SIGKILL)
                break
            }
            for entry in fds where entry.revents != 0 {
                let count = read(entry.fd, &buffer, buffer.count)
                if count <= 0 {
                    open.removeAll { $0 == entry.fd }
                } else if entry.fd == outPipe[0] {
                    if output.count < 1 << 20 { output += buffer[0..<count] }
                } else if errors.count < 1 << 20 {
                    errors += buffer[0..<count]
                }
            }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = (status & 0x7f) == 0
        return (exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), output, errors)
    }
}
