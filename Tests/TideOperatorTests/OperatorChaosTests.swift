import Foundation
import KubeAPI
import KubeClient
import LocalKube
import TideAPI
import TideOperator
import Testing

@Suite("Operator under injected faults")
struct OperatorChaosTests {
    @Test("300 Applications created, updated and deleted in random order under faults converge to exactly the right children")
    func converges() async throws {
        let harness = try await OperatorHarness.start { options in options.workers = 4 }
        let faults = try harness.server.faults
        let agent = "tide-operator-test"
        faults.watchDropInterval = .milliseconds(400)
        faults.add(.init(fault: .serverError(code: 500), probability: 0.03, userAgent: agent))
        faults.add(.init(fault: .tooManyRequests(retryAfterSeconds: 1), probability: 0.03, userAgent: agent))
        faults.add(.init(fault: .conflict, verbs: [.patch, .update], probability: 0.05, userAgent: agent))
        faults.add(.init(fault: .gone, verbs: [.watch, .list], probability: 0.05, userAgent: agent))

        var userConnection = ClusterConnection(server: try harness.server.url)
        userConnection.userAgent = "user"
        let user = try KubeClient(connection: userConnection)
        let applications = user.namespaced(Application.self, in: "demo")

        // Per Application, in order: create, maybe update, maybe delete; interleaved at random.
        enum Step { case create(Int), update(Int), delete(Int) }
        var generator = SystemRandomNumberGenerator()
        var plans: [[Step]] = []
        for index in 0..<300 {
            var steps: [Step] = [.create(index)]
            if index % 2 == 0 { steps.append(.update(index)) }
            if index % 3 == 0 { steps.append(.delete(index)) }
            plans.append(steps)
        }
        var expectedImage: [String: String] = [:]
        var deleted: Set<String> = []
        while plans.contains(where: { !$0.isEmpty }) {
            let candidates = plans.indices.filter { !plans[$0].isEmpty }
            let pick = candidates.randomElement(using: &generator)!
            let step = plans[pick].removeFirst()
            switch step {
            case .create(let index):
                let name = "app-\(index)"
                _ = try await applications.create(newApplication(name, ApplicationSpec(image: "hello:1", replicas: Int32(index % 4 + 1))))
                expectedImage[name] = "hello:1"
            case .update(let index):
                let name = "app-\(index)"
                _ = try await applications.mergePatch(name, patch: ["spec": ["image": "hello:2"]])
                expectedImage[name] = "hello:2"
            case .delete(let index):
                let name = "app-\(index)"
                try await applications.delete(name)
                expectedImage[name] = nil
                deleted.insert(name)
            }
            if Int.random(in: 0..<50, using: &generator) == 0 { try harness.server.store.compactHistory() }
        }
        #expect(faults.injectedCount > 0, "faults were injected")
        faults.clear()

        let deployments = user.namespaced(Deployment.self, in: "demo")
        let services = user.namespaced(KubeAPI.Service.self, in: "demo")
        let converged = await eventually(timeout: .seconds(60)) {
            let live = try await deployments.list().items
            let liveServices = try await services.list().items
            guard live.count == expectedImage.count, liveServices.count == expectedImage.count else { return false }
            for deployment in live {
                guard let image = expectedImage[deployment.name],
                    deployment.spec?.template.spec?.containers.first?.image == image
                else { return false }
            }
            return Set(liveServices.map(\.name)) == Set(expectedImage.keys)
        }
        let live = try await deployments.list().items
        #expect(converged, "\(live.count) Deployments for \(expectedImage.count) Applications")
        #expect(Set(live.map(\.name)).isDisjoint(with: deleted), "no orphans of deleted Applications")
        let uids = Set(try await applications.list().items.compactMap(\.metadata.uid))
        #expect(live.allSatisfy { uids.contains($0.metadata.controllerReference?.uid ?? "") }, "every child is controlled by a live Application")
        try await user.shutdown()
        await harness.stop()
    }
}
