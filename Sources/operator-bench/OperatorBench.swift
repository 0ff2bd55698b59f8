import ArgumentParser
import BenchmarkSupport
import Foundation
import KubeAPI
import KubeClient
import Logging
import TideAPI

/// Runs `local-kube` and `tide-operator` as separate processes (so the operator's
/// memory is its own) and measures the operator from the outside.
@main
struct OperatorBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operator-bench", abstract: "Latency, throughput, request count and memory of tide-operator against LocalKube.")

    @Option(help: "Applications created one at a time for the latency measurement.")
    var latencySamples = 200

    @Option(help: "Applications created at once for the burst measurement.")
    var burst = 1_000

    @Option(help: "Applications held for the memory measurement.")
    var cached = 10_000

    @Option(help: "Directory with the local-kube and tide-operator binaries (default: next to this one).")
    var binaries: String?

    @Option(help: "Directory with the image's binaries (scripts/build-image-binaries.sh --static) to size and to run one scaler decision from (with --real).")
    var imageBinaries: String?

    @Option(help: "The operator's --workers (with --real; the operator's default).")
    var workers = 8

    @Flag(help: "Run against a real kube-apiserver, etcd and kube-controller-manager (scripts/envtest.sh) instead of LocalKube.")
    var real = false

    @Flag(help: "Measure tide-metrics-adapter behind a real kube-apiserver's aggregator (scripts/envtest.sh) instead.")
    var adapter = false

    @Flag(help: "Measure tide-metrics-adapter's external and custom metrics against local-kube, asked as the aggregator asks.")
    var adapterLocal = false

    @Flag(help: "Measure what secure /metrics costs: latency and memory, plain against HTTPS with token reviews.")
    var metricsEndpoint = false

    @Option(help: "Scrapes per variant (with --metrics-endpoint).")
    var scrapes = 300

    mutating func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .error
            return handler
        }
        let directory = binaries ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        if adapter {
            let binary = imageBinaries.map { "\($0)/tide-metrics-adapter" } ?? "\(directory)/tide-metrics-adapter"
            try await AdapterBench(root: root, adapterBinary: binary, helloBinary: "\(directory)/hello-service", samples: 200).run()
            return
        }
        if adapterLocal {
            try await AdapterLocalBench(root: root, directory: directory, samples: 200).run()
            return
        }
        if metricsEndpoint {
            try await MetricsEndpointBench(root: root, directory: directory, scrapes: scrapes).run()
            return
        }
        if real {
            try await RealClusterBench(root: root, binaries: directory, samples: min(latencySamples, 100), burst: burst, cached: cached, workers: workers, imageBinaries: imageBinaries).run()
            return
        }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("tide-operator-bench-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let kubeconfig = work.appendingPathComponent("kubeconfig").path

        let localKube = try Child.start(
            "\(directory)/local-kube", ["--kubeconfig", kubeconfig, "--apply", root.appendingPathComponent("crds").path])
        defer { localKube.stop() }
        let serverURL = try await localKube.waitForLine(prefix: "LocalKube is serving at ").split(separator: " ").last.map(String.init)!
        var connection = try KubeConfigLoader(kubeconfigPath: kubeconfig, environment: [:]).load()
        connection.userAgent = "operator-bench"
        let client = try KubeClient(connection: connection, requestTimeout: .seconds(30))
        let applications = client.namespaced(Application.self, in: "default")
        let deployments = client.namespaced(Deployment.self, in: "default")
        let services = client.namespaced(KubeAPI.Service.self, in: "default")

        let operatorProcess = try Child.start(
            "\(directory)/tide-operator",
            ["--kubeconfig", kubeconfig, "--metrics-bind-address", "0", "--health-probe-bind-address", "0", "--workers", "2",
             "--log-level", "error", "--resync-period", "10"])
        defer { operatorProcess.stop() }
        try await Task.sleep(for: .seconds(2))
        let idleRSS = operatorProcess.residentBytes()

        var rows: [(String, String, String)] = []

        // 1. Create → children present, one at a time, beside bare creates of the same two objects.
        let stream = try await deployments.watch(resourceVersion: "0", allowBookmarks: false)
        let seen = SeenNames()
        let watcher = Task {
            for try await event in stream { if case .added(let deployment) = event { await seen.add(deployment.name) } }
        }
        var latencies: [Double] = []
        for index in 0..<latencySamples {
            let name = "lat-\(index)"
            let start = ContinuousClock.now
            _ = try await applications.create(Application(metadata: ObjectMeta(name: name), spec: ApplicationSpec(image: "hello:1", replicas: 1)))
            while !(await seen.contains(name)) { try await Task.sleep(for: .microseconds(200)) }
            while try await services.getIfPresent(name) == nil { try await Task.sleep(for: .microseconds(200)) }
            latencies.append((ContinuousClock.now - start).inSeconds)
        }
        watcher.cancel()
        var floor: [Double] = []
        for index in 0..<latencySamples {
            let name = "floor-\(index)"
            let start = ContinuousClock.now
            _ = try await deployments.create(deploymentLike(name))
            _ = try await services.create(KubeAPI.Service(metadata: ObjectMeta(name: name), spec: .init(selector: ["app": name], ports: [ServicePort(name: "http", port: 8080)])))
            floor.append((ContinuousClock.now - start).inSeconds)
        }
        rows.append(("create → children present, p50 (ms)", ms(percentile(latencies, 0.5)), "floor: 2 bare creates \(ms(percentile(floor, 0.5))) ms"))
        rows.append(("create → children present, p99 (ms)", ms(percentile(latencies, 0.99)), "floor: 2 bare creates \(ms(percentile(floor, 0.99))) ms"))

        // 2. A burst of Applications, reconciled by 2 workers.
        _ = try await client.send(.POST, path: "/localkube/requests/reset")
        let burstStart = ContinuousClock.now
        try await createApplications(client, prefix: "burst", count: burst)
        let burstCreated = ContinuousClock.now
        try await waitForStatus(applications, expected: latencySamples + burst)
        let burstTime = (ContinuousClock.now - burstStart).inSeconds
        let counts = try await client.request(.GET, path: "/localkube/requests", as: JSONValue.self)
        let operatorRequests = counts["byUserAgent"]?["tide-operator/0.1"]?["total"]?.intValue ?? 0
        rows.append(("burst of \(burst) Applications reconciled (s)", String(format: "%.2f", burstTime), "2 workers; creating them took \(String(format: "%.2f", (burstCreated - burstStart).inSeconds)) s"))
        rows.append(("API requests per Application", String(format: "%.1f", Double(operatorRequests) / Double(burst)), "operator requests during the burst / \(burst)"))

        // 3. Steady state: a full resync (every 10 s here) writes nothing.
        try await Task.sleep(for: .seconds(3))
        _ = try await client.send(.POST, path: "/localkube/requests/reset")
        try await Task.sleep(for: .seconds(12))
        let steady = try await client.request(.GET, path: "/localkube/requests", as: JSONValue.self)
        let steadyWrites = steady["byUserAgent"]?["tide-operator/0.1"]?["writes"]?.intValue ?? 0
        let steadyReads = steady["byUserAgent"]?["tide-operator/0.1"]?["total"]?.intValue ?? 0
        rows.append(("writes during a steady-state resync", String(steadyWrites), "\(steadyReads) requests in 12 s (must be 0 writes)"))

        // 4. Memory idle and with many Applications cached.
        let more = max(0, cached - latencySamples - burst)
        try await createApplications(client, prefix: "mem", count: more)
        try await waitForStatus(applications, expected: latencySamples + burst + more)
        try await Task.sleep(for: .seconds(2))
        let fullRSS = operatorProcess.residentBytes()
        rows.append(("operator resident memory idle (MiB)", mib(idleRSS), "no Applications"))
        rows.append(("operator resident memory, \(latencySamples + burst + more) Applications (MiB)", mib(fullRSS), "and their \(2 * (latencySamples + burst + more)) children cached"))

        try await client.shutdown()
        printTable("tide-operator against LocalKube (separate processes, server \(serverURL))", rows: rows.map { [$0.0, $0.1, $0.2] })
    }

    func createApplications(_ client: KubeClient, prefix: String, count: Int) async throws {
        try await createApplicationsConcurrently(client, namespace: "default", prefix: prefix, count: count)
    }

    /// Waits until `expected` Applications report status for their generation.
    func waitForStatus(_ applications: ResourceClient<Application, SingleScope>, expected: Int) async throws {
        while true {
            let list = try await applications.listAll(pageSize: 2_000)
            let done = list.items.filter { $0.status?.observedGeneration == $0.metadata.generation && $0.status?.conditions?.isEmpty == false }.count
            if done >= expected { return }
            try await Task.sleep(for: .milliseconds(500))
        }
    }
}

actor SeenNames {
    var names: Set<String> = []
    func add(_ name: String) { names.insert(name) }
    func contains(_ name: String) -> Bool { names.contains(name) }
}

func deploymentLike(_ name: String) -> Deployment {
    Deployment(
        metadata: ObjectMeta(name: name),
        spec: .init(replicas: 1, selector: LabelSelector(matchLabels: ["app": name]),
                    template: PodTemplateSpec(metadata: ObjectMeta(labels: ["app": name]), spec: PodSpec(containers: [Container(name: "app", image: "hello:1")]))))
}

/// A child process with its output captured line by line.
final class Child: @unchecked Sendable {
    let process: Process
    let lines = LineBuffer()

    static func start(_ path: String, _ arguments: [String]) throws -> Child {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw ValidationError("\(path) is missing: build it first (swift build -c release)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        let child = Child(process: process)
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if !data.isEmpty { child.lines.append(String(decoding: data, as: UTF8.self)) }
        }
        try process.run()
        return child
    }

    init(process: Process) { self.process = process }

    func waitForLine(prefix: String) async throws -> String {
        for _ in 0..<600 {
            if let line = lines.first(prefix: prefix) { return line }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ValidationError("\(process.executableURL?.lastPathComponent ?? "child") did not print '\(prefix)'")
    }

    func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return 0 }
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1_024
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }
}

final class LineBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var text = ""
    func append(_ chunk: String) { lock.lock(); text += chunk; lock.unlock() }
    func first(prefix: String) -> String? {
        lock.lock(); defer { lock.unlock() }
        return text.split(separator: "\n").first { $0.hasPrefix(prefix) }.map(String.init)
    }
}

func ms(_ value: Double) -> String { String(format: "%.2f", value * 1_000) }
func mib(_ bytes: Int) -> String { String(format: "%.1f", Double(bytes) / 1_048_576) }

/// Creates `count` Applications named `prefix-N` from 8 concurrent clients.
func createApplicationsConcurrently(_ client: KubeClient, namespace: String, prefix: String, count: Int) async throws {
    let applications = client.namespaced(Application.self, in: namespace)
    try await withThrowingTaskGroup(of: Void.self) { group in
        for worker in 0..<8 {
            group.addTask {
                for index in stride(from: worker, to: count, by: 8) {
                    _ = try await applications.create(Application(metadata: ObjectMeta(name: "\(prefix)-\(index)"), spec: ApplicationSpec(image: "hello:1", replicas: 1)))
                }
            }
        }
        try await group.waitForAll()
    }
}
