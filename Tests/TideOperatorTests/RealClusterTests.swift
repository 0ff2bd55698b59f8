import Foundation
import KubeAPI
import KubeClient
import KubeRuntime
import KubeSupport
import TideAPI
import TideOperator
import Testing

/// What only a real API server can judge: admission (CEL, Pod Security,
/// OwnerReferencesPermissionEnforcement), RBAC, garbage collection, immutable fields.
@Suite("Tide on the real API server", .serialized, .enabled(if: RealCluster.isAvailable, Comment(rawValue: RealCluster.skipReason)))
struct RealClusterTests {
    func raw(_ harness: OperatorHarness) -> ResourceClient<DynamicObject, SingleScope> {
        harness.client.resource(DynamicObject.self, at: Application.resource, namespace: harness.namespace)
    }

    func object(_ name: String, spec: JSONValue) throws -> DynamicObject {
        try JSONValue.object(["metadata": ["name": .string(name)], "spec": spec]).decode(as: DynamicObject.self)
    }

    static let scaling: JSONValue = [
        "maxReplicas": 3, "schedule": "0 0 1 1 *",
        "prometheus": ["address": "http://127.0.0.1:9", "query": "sum(up)"], "target": ["type": "Total", "value": "1"],
    ]

    /// Writes `body` while the CRD lacks the maximum on a policy's `value`, as an
    /// object stored before that rule would be, then restores the shipped CRD.
    func createWithoutPolicyMaximum(_ harness: OperatorHarness, _ body: DynamicObject) async throws {
        let cluster = try #require(harness.cluster)
        let path = "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/scaling/properties/behavior/properties/scaleUp/properties/policies/items/properties/value/maximum"
        try await cluster.kubectl(["patch", "crd", "applications.tide.dev", "--type=json", "-p", "[{\"op\":\"remove\",\"path\":\"\(path)\"}]"])
        defer { Task { try? await cluster.kubectl(["apply", "-f", repositoryRoot.appendingPathComponent("crds").path]) } }
        let created = await eventually(timeout: .seconds(15)) { _ = try await raw(harness).create(body); return true }
        try await cluster.kubectl(["apply", "-f", repositoryRoot.appendingPathComponent("crds").path])
        try #require(created, "the relaxed CRD admitted the object")
    }

    @Test("int-or-string quantities are read; an Application Tide cannot decode is reported and skipped, the others reconcile, a restarted operator gets ready")
    func undecodableApplication() async throws {
        let harness = try await OperatorHarness.start(.realCluster)
        _ = try await raw(harness).create(try object("ints", spec: [
            "image": "hello:1", "resources": ["limits": ["cpu": 1, "memory": 1_073_741_824], "requests": ["cpu": "250m", "memory": 536_870_912]],
        ]))
        var huge = Self.scaling
        huge["behavior"] = ["scaleUp": ["policies": [["type": "Pods", "value": 3_000_000_000, "periodSeconds": 15]]]]
        try await createWithoutPolicyMaximum(harness, try object("huge", spec: ["image": "hello:1", "scaling": huge]))
        _ = try await harness.applications.create(newApplication("fine", helloSpec()))

        #expect(await eventually(timeout: .seconds(20)) { try await harness.deployments.getIfPresent("fine") != nil })
        #expect(await eventually(timeout: .seconds(20)) { try await harness.deployments.getIfPresent("ints") != nil })
        let resources = try await harness.deployments.get("ints").spec?.template.spec?.containers.first?.resources
        #expect(resources?.limits == ["cpu": "1", "memory": "1073741824"])
        #expect(resources?.requests == ["cpu": "250m", "memory": "536870912"])
        #expect(await eventually(timeout: .seconds(20)) {
            try await harness.events(about: "huge").contains {
                $0.reason == "Undecodable" && $0.type == "Warning"
                    && $0.note?.contains(".spec.scaling.behavior.scaleUp.policies[0].value") == true
            }
        })
        #expect(try await harness.deployments.getIfPresent("huge") == nil, "nothing is done with what cannot be read")
        #expect(harness.tide.controller.isReady)
        await harness.stop()

        let restarted = try await OperatorHarness.start(.realCluster, sharing: harness)
        #expect(await eventually(timeout: .seconds(20)) { restarted.tide.controller.isReady }, "ready although the bad object is still there")
        _ = try await restarted.applications.create(newApplication("later", helloSpec()))
        #expect(await eventually(timeout: .seconds(20)) { try await restarted.deployments.getIfPresent("later") != nil })
        await restarted.stop()
    }

    @Test("the operator's ServiceAccount may do exactly what every child kind needs, and set blockOwnerDeletion (finalizers)")
    func operatorRBAC() async throws {
        let installed = try await RealClusterInstall.shared.installed()
        func allowed(_ verb: String, _ resource: ResourceDescriptor, subresource: String? = nil) async throws -> Bool {
            var attributes: JSONValue = ["namespace": "anywhere", "verb": .string(verb), "group": .string(resource.group), "resource": .string(resource.plural)]
            if let subresource { attributes["subresource"] = .string(subresource) }
            let review: JSONValue = [
                "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "spec": ["user": "system:serviceaccount:tide-system:tide-operator", "resourceAttributes": attributes],
            ]
            let reply = try await installed.admin.request(
                .POST, path: "/apis/authorization.k8s.io/v1/subjectaccessreviews", body: Array(try KubeJSON.encoder.encode(review)),
                contentType: "application/json", as: JSONValue.self)
            return reply["status"]?["allowed"] == true
        }
        for kind in ChildKind.resources {
            for verb in ["get", "list", "watch", "create", "patch", "delete"] {
                #expect(try await allowed(verb, kind), "\(verb) \(kind.plural)")
            }
        }
        #expect(try await allowed("update", Application.resource, subresource: "finalizers"))
        #expect(try await allowed("patch", Application.resource, subresource: "status"))
        #expect(try await !allowed("update", Application.resource), "the operator never writes the spec")
        #expect(try await !allowed("get", ResourceDescriptor(group: "", version: "v1", plural: "secrets", kind: "Secret", namespaced: true)))
        #expect(try await !allowed("escalate", Role.resource))
        #expect(try await !allowed("bind", ResourceDescriptor(group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterroles", kind: "ClusterRole", namespaced: false)))
    }

    @Test("the scaler reads no Secret and touches only its own Application; credentials arrive as files; a CronJob run that recorded its outcome exits 0 and repeats fold into one Event")
    func scalerLeastPrivilege() async throws {
        let harness = try await OperatorHarness.start(.realCluster)
        let cluster = try #require(harness.cluster)
        let namespace = harness.namespace
        let secrets = harness.client.resource(
            DynamicObject.self, at: ResourceDescriptor(group: "", version: "v1", plural: "secrets", kind: "Secret", namespaced: true), namespace: namespace)
        _ = try await secrets.create(try JSONValue.object(["metadata": ["name": "prom-token"], "stringData": ["token": "not-for-the-scaler"]]).decode(as: DynamicObject.self))
        var scaling = Self.scaling
        scaling["prometheus"]?["auth"] = ["bearerTokenSecretRef": ["name": "prom-token", "key": "token"]]
        _ = try await raw(harness).create(try object("paid", spec: ["image": "hello:1", "scaling": scaling]))
        _ = try await harness.applications.create(newApplication("other", helloSpec()))
        let cronJobs = harness.client.namespaced(CronJob.self, in: namespace)
        #expect(await eventually(timeout: .seconds(20)) { try await cronJobs.getIfPresent("paid-scaler") != nil })
        #expect(await eventually(timeout: .seconds(20)) {
            try await harness.client.namespaced(RoleBinding.self, in: namespace).getIfPresent("paid-scaler") != nil
        })
        let pod = try #require(try await cronJobs.get("paid-scaler").spec?.jobTemplate.spec.template.spec)
        #expect(pod.volumes?.first?.projected?.sources.first?.secret?.name == "prom-token")
        #expect(pod.containers.first?.volumeMounts?.first?.mountPath == Children.credentialsDirectory)
        #expect(pod.containers.first?.args?.contains("--exit-zero-when-recorded") == true)

        let token = try await cluster.serviceAccountToken("paid-scaler", namespace: namespace, admin: harness.client)
        let scaler = try cluster.client(token: token, userAgent: "tide-scaler-test")
        do {
            _ = try await scaler.namespaced(Secret.self, in: namespace).get("prom-token")
            Issue.record("the scaler read a Secret")
        } catch KubeError.forbidden {}
        do {
            _ = try await scaler.namespaced(Application.self, in: namespace).scale("other", replicas: 5)
            Issue.record("the scaler scaled another Application")
        } catch KubeError.forbidden {}
        do {
            _ = try await scaler.namespaced(Application.self, in: namespace).get("other")
            Issue.record("the scaler read another Application")
        } catch KubeError.forbidden {}
        #expect(try await scaler.namespaced(Application.self, in: namespace).get("paid").name == "paid")
        try await scaler.shutdown()

        // tide-scaler as the CronJob runs it, under the scaler's own token.
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("tide-scaler-rbac-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work.appendingPathComponent("credentials/prometheus"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        try "mounted-token".write(to: work.appendingPathComponent("credentials/prometheus/token"), atomically: true, encoding: .utf8)
        let kubeconfig = work.appendingPathComponent("kubeconfig")
        try cluster.writeKubeconfig(token: token, to: kubeconfig)
        func runScaler(_ extra: [String]) async throws -> CommandResult {
            try await runProcess("\(binariesDirectory)/tide-scaler", [
                "--namespace", namespace, "--application", "paid", "--kubeconfig", kubeconfig.path,
                "--credentials-dir", work.appendingPathComponent("credentials").path, "--log-format", "text", "--log-level", "warning",
            ] + extra)
        }
        let first = try await runScaler(["--exit-zero-when-recorded"])
        #expect(first.status == 0, "a recorded outcome is not a failed Job: \(first.errors)")
        #expect(!first.errors.contains("not-for-the-scaler") && !first.errors.contains("mounted-token"), "no secret in the output")
        var status = try await harness.applications.get("paid").status
        #expect(status?.scaling?.consecutiveFailures == 1)
        #expect(status?.conditions?[type: "ScalingActive"]?.reason == "FailedGetMetric")
        let second = try await runScaler(["--exit-zero-when-recorded"])
        #expect(second.status == 0)
        let byHand = try await runScaler([])
        #expect(byHand.status == 2, "run by hand, the exit code still says the metric was unavailable")
        status = try await harness.applications.get("paid").status
        #expect(status?.scaling?.consecutiveFailures == 3, "each run counts one failure")
        let warnings = try await harness.events(about: "paid").filter { $0.reason == "MetricUnavailable" }
        #expect(warnings.count == 1, "one Event, not one per run: \(warnings.map(\.name))")
        #expect(warnings.first?.series?.count == 3)

        // A Job of the CronJob: kube-controller-manager creates its Pod, admitted under
        // the namespace's restricted Pod Security.
        try await cluster.kubectl(["create", "job", "paid-run", "--from=cronjob/paid-scaler", "-n", namespace])
        let pods = harness.pods
        #expect(await eventually(timeout: .seconds(30)) { try await !pods.list(labelSelector: "job-name=paid-run").items.isEmpty })
        await harness.stop()
    }

    @Test("a ServiceMonitor that is deleted or edited is put back at once, not at the next resync")
    func serviceMonitorsWatched() async throws {
        let installed = try await RealClusterInstall.shared.installed()
        let crds = installed.admin.clusterScoped(CustomResourceDefinition.self)
        if try await crds.getIfPresent("servicemonitors.monitoring.coreos.com") == nil {
            let crd = CustomResourceDefinition(
                metadata: ObjectMeta(name: "servicemonitors.monitoring.coreos.com"),
                spec: .init(
                    group: "monitoring.coreos.com", names: .init(plural: "servicemonitors", kind: "ServiceMonitor"), scope: "Namespaced",
                    versions: [.init(name: "v1", schema: .init(openAPIV3Schema: ["type": "object", "x-kubernetes-preserve-unknown-fields": true]))]))
            _ = try await crds.create(crd)
            try await installed.cluster.kubectl(["wait", "--for=condition=Established", "--timeout=60s", "crd/servicemonitors.monitoring.coreos.com"])
        }
        let harness = try await OperatorHarness.start(.realCluster) { $0.resyncPeriod = .seconds(3_600) }
        _ = try await harness.applications.create(newApplication("mon", helloSpec()))
        let monitors = harness.client.namespaced(ServiceMonitor.self, in: harness.namespace)
        #expect(await eventually(timeout: .seconds(20)) { try await monitors.getIfPresent("mon") != nil })
        try await monitors.delete("mon")
        #expect(await eventually(timeout: .seconds(10)) { try await monitors.getIfPresent("mon") != nil }, "recreated from the watch")
        _ = try await monitors.mergePatch("mon", patch: ["spec": ["endpoints": [["port": "other"]]]])
        #expect(await eventually(timeout: .seconds(10)) { try await monitors.get("mon").spec.endpoints.first?.port == "http" })
        #expect(await eventually { try await harness.condition("Degraded", of: "mon")?.status == "False" })
        await harness.stop()
    }

    @Test("names the children cannot carry and environment variable names the API refuses are rejected at admission, with the reason")
    func admissionRules() async throws {
        let harness = try await OperatorHarness.start(.realCluster)
        func rejection(_ name: String, _ spec: JSONValue) async throws -> String? {
            do {
                _ = try await raw(harness).create(try object(name, spec: spec))
                return nil
            } catch let error as KubeError {
                return "\(error)"
            }
        }
        let long46 = String(repeating: "a", count: 46)
        let cronJobName = try await rejection(long46, ["image": "x", "scaling": Self.scaling])
        #expect(cronJobName?.contains("at most 45 characters") == true, "\(cronJobName ?? "admitted")")
        var continuous = Self.scaling
        continuous["mode"] = "Continuous"
        #expect(try await rejection(long46, ["image": "x", "scaling": continuous]) == nil, "Continuous mode allows up to 56")
        let digit = try await rejection("9lives", ["image": "x"])
        #expect(digit?.contains("must start with a lowercase letter") == true, "\(digit ?? "admitted")")
        let label = try await rejection(String(repeating: "b", count: 64), ["image": "x"])
        #expect(label?.contains("at most 63 characters") == true, "\(label ?? "admitted")")
        var inverted = Self.scaling
        inverted["minReplicas"] = 5
        let bounds = try await rejection("bounds", ["image": "x", "scaling": inverted])
        #expect(bounds?.contains("maxReplicas must be greater than or equal to minReplicas") == true, "\(bounds ?? "admitted")")
        let env = try await rejection("envy", ["image": "x", "env": [["name": "ÄPFEL", "value": "1"]]])
        #expect(env?.contains("spec.env[0].name") == true, "\(env ?? "admitted")")
        #expect(try await harness.applications.list().items.map(\.name) == [long46], "nothing else was stored")
        await harness.stop()
    }

    @Test("the Continuous scaler runs with Recreate; children an older Tide left (RollingUpdate, a RoleBinding to a ClusterRole) are replaced")
    func replacedChildren() async throws {
        let harness = try await OperatorHarness.start(.realCluster)
        var continuous = Self.scaling
        continuous["mode"] = "Continuous"
        _ = try await raw(harness).create(try object("loop", spec: ["image": "hello:1", "scaling": continuous]))
        let deployments = harness.deployments
        let bindings = harness.client.namespaced(RoleBinding.self, in: harness.namespace)
        #expect(await eventually(timeout: .seconds(20)) { try await deployments.getIfPresent("loop-scaler")?.spec?.strategy?.type == "Recreate" })
        #expect(await eventually(timeout: .seconds(20)) { try await bindings.getIfPresent("loop-scaler") != nil })
        await harness.stop()

        // What an older Tide created: a RollingUpdate scaler and a binding to the shared ClusterRole.
        var old = try await deployments.get("loop-scaler")
        try await deployments.delete("loop-scaler")
        #expect(await eventually(timeout: .seconds(10)) { try await deployments.getIfPresent("loop-scaler") == nil })
        old.metadata = ObjectMeta(name: "loop-scaler", labels: old.metadata.labels, ownerReferences: old.metadata.ownerReferences)
        old.spec?.strategy = .init(type: "RollingUpdate")
        old.status = nil
        _ = try await deployments.create(old)
        var binding = try await bindings.get("loop-scaler")
        try await bindings.delete("loop-scaler")
        #expect(await eventually(timeout: .seconds(10)) { try await bindings.getIfPresent("loop-scaler") == nil })
        binding.metadata = ObjectMeta(name: "loop-scaler", labels: binding.metadata.labels, ownerReferences: binding.metadata.ownerReferences)
        binding.roleRef = .init(kind: "ClusterRole", name: "tide-scaler")
        _ = try await bindings.create(binding)
        #expect(try await deployments.get("loop-scaler").spec?.strategy?.type == "RollingUpdate")

        let restarted = try await OperatorHarness.start(.realCluster, sharing: harness)
        #expect(await eventually(timeout: .seconds(20)) { try await deployments.getIfPresent("loop-scaler")?.spec?.strategy?.type == "Recreate" })
        #expect(await eventually(timeout: .seconds(20)) { try await bindings.getIfPresent("loop-scaler")?.roleRef.kind == "Role" })
        #expect(await eventually { try await harness.events(about: "loop").contains { $0.note?.contains("replaced Deployment loop-scaler") == true } })
        await restarted.stop()
    }

    @Test("two tide-operator processes under the operator's token: kill -9 of the leader mid-burst, the other takes over, every Application ends with exactly one Deployment and Service")
    func killNineMidBurst() async throws {
        let installed = try await RealClusterInstall.shared.installed()
        let cluster = installed.cluster
        let admin = installed.admin
        let namespace = try await cluster.freshNamespace("burst", admin: admin, labels: ["pod-security.kubernetes.io/enforce": "restricted"])
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("tide-burst-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let kubeconfig = work.appendingPathComponent("kubeconfig")
        try cluster.writeKubeconfig(token: installed.operatorToken, to: kubeconfig)
        let lease = "burst-\(namespace.suffix(8))"

        func start(_ identity: String) throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "\(binariesDirectory)/tide-operator")
            process.arguments = [
                "--kubeconfig", kubeconfig.path, "--namespace", namespace, "--leader-elect", "--leader-election-namespace", "tide-system",
                "--leader-election-id", lease, "--metrics-bind-address", "0", "--health-probe-bind-address", "127.0.0.1:\(try freeLoopbackPort())",
                "--log-format", "text", "--log-level", "error",
            ]
            var environment = ProcessInfo.processInfo.environment
            environment["POD_NAME"] = identity
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try process.run()
            return process
        }
        let operators = ["burst-a": try start("burst-a"), "burst-b": try start("burst-b")]
        defer { for process in operators.values where process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let leases = admin.namespaced(Lease.self, in: "tide-system")
        #expect(await eventually(timeout: .seconds(30)) { try await leases.getIfPresent(lease)?.spec?.holderIdentity != nil })
        let first = try #require(try await leases.get(lease).spec?.holderIdentity)

        let applications = admin.namespaced(Application.self, in: namespace)
        let total = 150
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<6 {
                group.addTask {
                    for index in stride(from: worker, to: total, by: 6) {
                        _ = try await applications.create(newApplication("app-\(index)", ApplicationSpec(image: "hello:1", replicas: 1)))
                    }
                }
            }
            // Mid-burst: the leader dies without releasing its Lease.
            try await Task.sleep(for: .milliseconds(700))
            if let leader = operators[first] { kill(leader.processIdentifier, SIGKILL) }
            try await group.waitForAll()
        }
        let deployments = admin.namespaced(Deployment.self, in: namespace)
        let services = admin.namespaced(KubeAPI.Service.self, in: namespace)
        let converged = await eventually(timeout: .seconds(90)) {
            let deploymentNames = try await deployments.listAll().items.map(\.name)
            let serviceNames = try await services.listAll().items.map(\.name)
            return deploymentNames.count == total && Set(deploymentNames).count == total && serviceNames.count == total
        }
        #expect(converged, "every Application has its Deployment and Service")
        #expect(try await leases.get(lease).spec?.holderIdentity != first, "the survivor took the Lease over")
        for deployment in try await deployments.listAll().items {
            #expect(deployment.metadata.ownerReferences?.count == 1 && deployment.metadata.controllerReference?.name == deployment.name)
        }
        for process in operators.values where process.isRunning { process.terminate() }
        for process in operators.values { while process.isRunning { try await Task.sleep(for: .milliseconds(50)) } }
    }
}
