import BenchmarkSupport
import Foundation
import KubeAPI
import KubeClient
import LocalKube
import TideAPI

/// `operator-bench --real`: tide-operator (a separate process, under its own
/// ServiceAccount's token and the RBAC in `config/`) against a real kube-apiserver,
/// etcd and kube-controller-manager started by `scripts/envtest.sh`, with the floor
/// measured by the same client in the same run.
struct RealClusterBench {
    let root: URL
    let binaries: String
    let samples: Int
    let burst: Int
    let cached: Int
    let workers: Int
    /// Where the image's binaries are (`scripts/build-image-binaries.sh --static`), if built.
    let imageBinaries: String?
    let resyncSeconds = 20

    func run() async throws {
        let plane = try ControlPlane.start(root: root, name: "tide-real-bench")
        defer { plane.stop() }
        let work = plane.work
        let envtest = plane.envtest
        let adminConfig = plane.kubeconfig
        let pids = try String(contentsOfFile: "\(envtest)/pids", encoding: .utf8).split(separator: "\n").compactMap { Int32($0) }
        let apiserverPID = pids.count > 1 ? pids[1] : 0

        var connection = try KubeConfigLoader(kubeconfigPath: adminConfig, environment: [:]).load()
        connection.userAgent = "operator-bench"
        let admin = try KubeClient(connection: connection, requestTimeout: .seconds(60))
        let kubectl = ["/usr/bin/kubectl", "/usr/local/bin/kubectl"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "kubectl"
        try shell(kubectl, ["--kubeconfig", adminConfig, "apply", "-f", root.appendingPathComponent("crds").path])
        try shell(kubectl, ["--kubeconfig", adminConfig, "wait", "--for=condition=Established", "crd/applications.tide.dev", "--timeout=60s"])
        try shell(kubectl, ["--kubeconfig", adminConfig, "apply", "-k", root.appendingPathComponent("config/default").path])
        for namespace in ["bench", "floor"] { _ = try await admin.clusterScoped(Namespace.self).create(Namespace(name: namespace)) }

        // The operator's own identity: a TokenRequest token of tide-system/tide-operator.
        let request: JSONValue = ["apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": ["expirationSeconds": 7_200]]
        let reply = try await admin.request(
            .POST, path: "/api/v1/namespaces/tide-system/serviceaccounts/tide-operator/token", body: Array(try KubeJSON.encoder.encode(request)),
            contentType: "application/json", as: JSONValue.self)
        guard let token = reply["status"]?["token"]?.stringValue else { throw BenchError("no token for tide-operator") }
        let operatorConfig = work.appendingPathComponent("operator-kubeconfig")
        try KubeConfigFile.writeTokenKubeconfig(
            server: connection.server, certificateAuthorityPath: "\(envtest)/ca.crt", token: token, to: operatorConfig)

        // The operator users run: the image's binary when it was built.
        let operatorBinary = "\(imageBinaries ?? binaries)/tide-operator"
        let operatorProcess = try Child.start(
            operatorBinary,
            ["--kubeconfig", operatorConfig.path, "--namespace", "bench", "--metrics-bind-address", "0", "--health-probe-bind-address", "0", "--workers", String(workers),
             "--log-level", "error", "--resync-period", String(resyncSeconds)])
        defer { operatorProcess.stop() }
        try await Task.sleep(for: .seconds(3))
        let idleRSS = operatorProcess.residentBytes()
        var rows: [[String]] = []

        // 1. One Application → its Deployment's ADDED event, beside the floor: two round
        //    trips and two watch deliveries (an object POSTed and seen, then a Deployment).
        //    Samples alternate, each from a settled server: a Tide sample ends when its
        //    Deployment is seen; the Application's status is then awaited and the next
        //    sample starts 50 ms later, so neither measure pays for the other's tail.
        let applications = admin.namespaced(Application.self, in: "bench")
        let seen = try await DeliveryWatch.start(admin.namespaced(Deployment.self, in: "bench"))
        let floorApplications = try await DeliveryWatch.start(admin.namespaced(Application.self, in: "floor"))
        let floorDeployments = try await DeliveryWatch.start(admin.namespaced(Deployment.self, in: "floor"))
        var latencies: [Double] = []
        var floor: [Double] = []
        for index in 0..<samples {
            let name = "lat-\(index)"
            var start = ContinuousClock.now
            _ = try await applications.create(Application(metadata: ObjectMeta(name: name), spec: ApplicationSpec(image: "hello:1", replicas: 1)))
            try await seen.wait(for: name)
            latencies.append((ContinuousClock.now - start).inSeconds)
            try await waitForStatus(of: name, in: applications)
            try await Task.sleep(for: .milliseconds(50))

            let floorName = "floor-\(index)"
            start = ContinuousClock.now
            // Not reconciled: the floor's Application is only created and seen.
            _ = try await admin.namespaced(Application.self, in: "floor").create(
                Application(metadata: ObjectMeta(name: floorName, annotations: ["tide.dev/bench": "floor"]), spec: ApplicationSpec(image: "hello:1", replicas: 1)))
            try await floorApplications.wait(for: floorName)
            _ = try await admin.namespaced(Deployment.self, in: "floor").create(deploymentLike(floorName))
            try await floorDeployments.wait(for: floorName)
            floor.append((ContinuousClock.now - start).inSeconds)
            try await Task.sleep(for: .milliseconds(50))
        }
        let p50 = percentile(latencies, 0.5), p99 = percentile(latencies, 0.99)
        let floor50 = percentile(floor, 0.5), floor99 = percentile(floor, 0.99)
        rows.append(["one Application → Deployment ADDED, p50 (ms)", ms(p50), String(format: "%.1f× the floor (%@ ms)", p50 / floor50, ms(floor50))])
        rows.append(["one Application → Deployment ADDED, p99 (ms)", ms(p99), String(format: "%.1f× the floor (%@ ms)", p99 / floor99, ms(floor99))])

        // 2. A burst, from 8 clients; requests by verb from the server's own counter.
        let before = try await requestCounts(admin)
        let operatorCPUBefore = cpuSeconds(operatorProcess.process.processIdentifier)
        let apiserverCPUBefore = cpuSeconds(apiserverPID)
        let burstStart = ContinuousClock.now
        try await createApplications(admin, namespace: "bench", prefix: "burst", count: burst)
        try await seen.waitForCount(samples + burst, timeout: .seconds(600))
        let burstTime = (ContinuousClock.now - burstStart).inSeconds
        let operatorCPU = cpuSeconds(operatorProcess.process.processIdentifier) - operatorCPUBefore
        let apiserverCPU = cpuSeconds(apiserverPID) - apiserverCPUBefore
        try await waitForStatus(applications, expected: samples + burst)
        let after = try await requestCounts(admin)
        var perVerb: [String: Double] = [:]
        for (key, value) in after {
            let delta = value - (before[key] ?? 0)
            guard delta > 0, Self.operatorResources.contains(key.resource) else { continue }
            perVerb[key.verb, default: 0] += delta
        }
        // The bench's own requests: its Application POSTs and status LISTs.
        let operatorWrites = ["POST", "PATCH", "APPLY", "PUT", "DELETE"].reduce(0.0) { $0 + (perVerb[$1] ?? 0) }
        rows.append(["\(burst) Applications → all Deployments (s)", String(format: "%.2f", burstTime), "8 creating clients, \(workers) workers"])
        rows.append(["operator CPU during the burst (s)", String(format: "%.2f", operatorCPU), String(format: "kube-apiserver %.2f s", apiserverCPU)])
        rows.append([
            "operator writes per new Application", String(format: "%.2f", operatorWrites / Double(burst)),
            perVerb.filter { ["POST", "PATCH", "APPLY", "PUT", "DELETE"].contains($0.key) }.sorted { $0.key < $1.key }
                .map { "\($0.key) \(String(format: "%.2f", $0.value / Double(burst)))" }.joined(separator: ", "),
        ])
        rows.append(["operator reads per new Application", String(format: "%.2f", (perVerb["GET"] ?? 0) / Double(burst)), "GETs of children (cache misses)"])

        // 3. A full resync of the unchanged Applications: CPU and writes over one period,
        //    once everything has settled: no operator writes and no kube-controller-manager
        //    writes (Deployment status, ReplicaSets, Pods, Endpoints — each of which changes
        //    what an Application's status says) for 5 s.
        var entries = try await admin.apiServerRequestCounts()
        var quiet = requestCounts(in: entries)
        var quietController = controllerManagerWrites(in: entries)
        var quietSince = ContinuousClock.now
        let settleDeadline = ContinuousClock.now + .seconds(300)
        while ContinuousClock.now - quietSince < .seconds(5), ContinuousClock.now < settleDeadline {
            try await Task.sleep(for: .seconds(1))
            entries = try await admin.apiServerRequestCounts()
            let now = requestCounts(in: entries)
            let controller = controllerManagerWrites(in: entries)
            if writes(now, since: quiet) > 0 || controller != quietController {
                quiet = now
                quietController = controller
                quietSince = ContinuousClock.now
            }
        }
        let steadyBefore = try await requestCounts(admin)
        let resyncCPUBefore = cpuSeconds(operatorProcess.process.processIdentifier)
        try await Task.sleep(for: .seconds(resyncSeconds + 2))
        let resyncCPU = cpuSeconds(operatorProcess.process.processIdentifier) - resyncCPUBefore
        let steadyAfter = try await requestCounts(admin)
        let steadyWrites = writes(steadyAfter, since: steadyBefore)
        let steadyDetail = steadyAfter
            .filter { ["POST", "PATCH", "APPLY", "PUT", "DELETE"].contains($0.key.verb) && Self.operatorResources.contains($0.key.resource) }
            .compactMap { entry -> String? in
                let delta = entry.value - (steadyBefore[entry.key] ?? 0)
                return delta > 0 ? "\(entry.key.verb) \(entry.key.resource) \(Int(delta))" : nil
            }
            .sorted().joined(separator: ", ")
        rows.append([
            "CPU of one full resync of \(samples + burst) unchanged Applications (s)", String(format: "%.2f", resyncCPU),
            "\(Int(steadyWrites)) writes in the \(resyncSeconds + 2) s window (must be 0)\(steadyDetail.isEmpty ? "" : ": " + steadyDetail)",
        ])

        // 4. Memory.
        let loadedRSS = operatorProcess.residentBytes()
        rows.append(["operator RSS idle (MiB)", mib(idleRSS), "no Applications; \(imageBinaries == nil ? "the dynamic release build" : "the image's static binary")"])
        rows.append(["operator RSS with \(samples + burst) Applications (MiB)", mib(loadedRSS), "and their children cached"])
        if cached > samples + burst {
            let more = cached - samples - burst
            let start = ContinuousClock.now
            try await createApplications(admin, namespace: "bench", prefix: "mem", count: more)
            try await seen.waitForCount(cached, timeout: .seconds(1_800))
            let converge = (ContinuousClock.now - start).inSeconds
            try await Task.sleep(for: .seconds(3))
            rows.append(["operator RSS with \(cached) Applications (MiB)", mib(operatorProcess.residentBytes()), String(format: "%d more converged in %.1f s", more, converge)])
        }

        // 5. The image's binaries: sizes, and one scaler decision's peak memory.
        let image = imageBinaries ?? binaries
        let described = imageBinaries == nil ? "as built by bench.sh (dynamic, not stripped)" : "static, stripped, as the image ships them"
        var total = 0
        for binary in ["tide-operator", "tide-scaler", "hello-service", "tide-metrics-adapter"] {
            let path = "\(image)/\(binary)"
            // In the image, hello-service and the metrics adapter are links to the operator's binary.
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path) {
                rows.append(["\(binary) binary (MB)", "→ \(target)", "the same file, run under this name"])
                continue
            }
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            total += size
            rows.append(["\(binary) binary (MB)", String(format: "%.1f", Double(size) / 1_000_000), described])
        }
        rows.append(["the binaries together (MB)", String(format: "%.1f", Double(total) / 1_000_000), described])
        let decision = try await scalerDecision(admin, image: image, kubeconfig: adminConfig)
        rows.append(["one tide-scaler decision, start → exit: peak RSS (MiB)", mib(decision.peakResidentBytes), decision.note])
        seen.stop()
        floorApplications.stop()
        floorDeployments.stop()
        try await admin.shutdown()
        printTable("tide-operator against a real kube-apiserver 1.28.7 (separate processes, loopback)", rows: rows)
    }

    /// Runs `tide-scaler --once` for an Application whose metric is a real hello-service's
    /// request count (HTTP JSON source), as the CronJob does, and reports its peak RSS.
    func scalerDecision(_ admin: KubeClient, image: String, kubeconfig: String) async throws -> (peakResidentBytes: Int, note: String) {
        let port = try LoopbackPort.free()
        let hello = try Child.start("\(image)/hello-service", ["--host", "127.0.0.1", "--port", String(port)])
        defer { hello.stop() }
        try await Task.sleep(for: .seconds(1))
        let scaling = Scaling(
            minReplicas: 1, maxReplicas: 5,
            metrics: [ScalingMetric(name: "served", http: HTTPSource(url: "http://127.0.0.1:\(port)/stats", valueLocation: "requests"), target: .init(type: .total, value: "10"))])
        let application = Application(metadata: ObjectMeta(name: "scaler-rss"), spec: ApplicationSpec(image: "hello:1", replicas: 1, scaling: scaling))
        _ = try await admin.namespaced(Application.self, in: "floor").create(application)
        let run = try Spawn.run(
            "\(image)/tide-scaler", ["--namespace", "floor", "--application", "scaler-rss", "--kubeconfig", kubeconfig, "--once", "--log-level", "error"])
        return (run.maxRSSKiB * 1_024, "exit \(run.exitCode) in \(String(format: "%.2f", run.wall)) s; HTTP JSON metric, status written")
    }

    func writes(_ after: [CountKey: Double], since before: [CountKey: Double]) -> Double {
        after.filter { ["POST", "PATCH", "APPLY", "PUT", "DELETE"].contains($0.key.verb) && Self.operatorResources.contains($0.key.resource) }
            .reduce(0.0) { $0 + $1.value - (before[$1.key] ?? 0) }
    }

    /// Writes to what kube-controller-manager maintains for Deployments and Services.
    func controllerManagerWrites(in entries: [APIServerRequestCount]) -> Double {
        entries
            .filter { ["POST", "PUT", "PATCH", "DELETE"].contains($0.verb) }
            .filter { ($0.resource == "deployments" && $0.subresource == "status") || ["replicasets", "pods", "endpoints", "endpointslices"].contains($0.resource) }
            .reduce(0) { $0 + $1.count }
    }

    /// Resources the operator reads or writes (apiserver_request_total's `resource` label, with subresource).
    static let operatorResources: Set<String> = [
        "applications/status", "deployments", "services", "serviceaccounts", "roles", "rolebindings", "cronjobs", "events", "servicemonitors",
    ]

    struct CountKey: Hashable {
        var verb: String
        var resource: String
    }

    /// `apiserver_request_total` summed by verb and resource (`resource/subresource`),
    /// leaving out the core Events kube-controller-manager writes.
    func requestCounts(_ admin: KubeClient) async throws -> [CountKey: Double] {
        requestCounts(in: try await admin.apiServerRequestCounts())
    }

    func requestCounts(in entries: [APIServerRequestCount]) -> [CountKey: Double] {
        var counts: [CountKey: Double] = [:]
        for entry in entries {
            if entry.resource == "events" && entry.group != "events.k8s.io" { continue }
            // kube-controller-manager's own writes: status, and the Deployment controller's
            // revision annotation (an update; Tide only ever applies).
            if ["deployments", "cronjobs"].contains(entry.resource) && entry.subresource == "status" { continue }
            if entry.resource == "deployments" && entry.verb == "PUT" { continue }
            let resource = entry.subresource.isEmpty ? entry.resource : "\(entry.resource)/\(entry.subresource)"
            counts[CountKey(verb: entry.verb, resource: resource), default: 0] += entry.count
        }
        return counts
    }

    func createApplications(_ client: KubeClient, namespace: String, prefix: String, count: Int) async throws {
        try await createApplicationsConcurrently(client, namespace: namespace, prefix: prefix, count: count)
    }

    /// Waits (at most 10 s) until the operator has written the Application's first status.
    func waitForStatus(of name: String, in applications: ResourceClient<Application, SingleScope>) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if try await applications.get(name).status?.observedGeneration != nil { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw BenchError("\(name) got no status within 10 s")
    }

    func waitForStatus(_ applications: ResourceClient<Application, SingleScope>, expected: Int) async throws {
        for _ in 0..<1_200 {
            let list = try await applications.listAll(pageSize: 2_000)
            if list.items.filter({ $0.status?.observedGeneration == $0.metadata.generation }).count >= expected { return }
            try await Task.sleep(for: .milliseconds(500))
        }
        throw BenchError("Applications did not all report status")
    }
}

/// A control plane from `scripts/envtest.sh` in a folder of its own, for one benchmark.
struct ControlPlane {
    let root: URL
    /// The benchmark's folder (removed by ``stop()``).
    let work: URL
    /// The envtest folder: certificates, kubeconfig, logs, pids.
    let envtest: String
    var kubeconfig: String { "\(envtest)/kubeconfig" }

    static func start(root: URL, name: String) throws -> ControlPlane {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let plane = ControlPlane(root: root, work: work, envtest: work.appendingPathComponent("envtest").path)
        do {
            try shell("/bin/bash", [plane.script, "up", plane.envtest, "--owner", String(getpid())])
        } catch {
            try? FileManager.default.removeItem(at: work)
            throw error
        }
        return plane
    }

    var script: String { root.appendingPathComponent("scripts/envtest.sh").path }

    func stop() {
        try? shell("/bin/bash", [script, "down", envtest])
        try? FileManager.default.removeItem(at: work)
    }
}

/// User plus system CPU seconds of a process, from /proc.
func cpuSeconds(_ pid: Int32) -> Double {
    guard pid > 0, let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = text.lastIndex(of: ")")
    else { return 0 }
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

func shell(_ path: String, _ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw BenchError("\(path) \(arguments.first ?? "") exited \(process.terminationStatus)") }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Names seen in ADDED events of one watch, so a measurement ends on delivery.
final class DeliveryWatch<K: NamespacedObject>: @unchecked Sendable {
    private let lock = NSLock()
    private var names: Set<String> = []
    private var task: Task<Void, Never>?

    static func start(_ resource: ResourceClient<K, SingleScope>) async throws -> DeliveryWatch {
        let watch = DeliveryWatch()
        let list = try await resource.list()
        let stream = try await resource.watch(resourceVersion: list.metadata.resourceVersion, timeoutSeconds: 3_600, allowBookmarks: false)
        watch.task = Task {
            do {
                for try await event in stream {
                    if case .added(let object) = event { watch.insert(object.name) }
                }
            } catch {}
        }
        return watch
    }

    private func insert(_ name: String) { lock.lock(); names.insert(name); lock.unlock() }
    func contains(_ name: String) -> Bool { lock.lock(); defer { lock.unlock() }; return names.contains(name) }
    var count: Int { lock.lock(); defer { lock.unlock() }; return names.count }

    func wait(for name: String, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !contains(name) {
            guard ContinuousClock.now < deadline else { throw BenchError("\(name) was not delivered within \(timeout)") }
            try await Task.sleep(for: .microseconds(100))
        }
    }

    func waitForCount(_ expected: Int, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while count < expected {
            guard ContinuousClock.now < deadline else { throw BenchError("only \(count) of \(expected) delivered within \(timeout)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    func stop() { task?.cancel() }
}
