import Foundation
import KubeAPI
import KubeClient
import LocalKube
import TideAPI
import TideScaler
import Testing
import TideTestSupport

/// What the scaler decides is what the server stores: each decision's `status.scaling`,
/// read back through the API server, equals the decision's history field for field.
@Suite("Scaler status round trip")
struct StatusRoundTripTests {
    @Test("a cleared pending scale-up is removed from the stored status, so the pod start is measured once")
    func pendingScaleUpCleared() async throws {
        let cluster = try await ScalerCluster.start()
        let prometheus = try await FakePrometheus.start(body: vector("10"))
        try await cluster.create("hello", prometheus: prometheus.url, replicas: 1) { $0.strategy = .predictive }
        let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
        let scaler = Scaler(client: cluster.client, namespace: "default", name: "hello", now: { clock.now })

        let first = await scaler.runOnce()
        #expect(first.line.contains("scaled 1 → 2"), "\(first.line)")
        var stored = try await cluster.scalerStatus("hello")?.scaling
        #expect(stored == first.decision?.history)
        #expect(stored?.pendingScaleUp?.replicas == 2)

        // Both pods become ready four seconds later; the operator copies the count.
        clock.advance(4)
        _ = try await cluster.applications.patchStatus("hello", patch: ["status": ["readyReplicas": 2, "replicas": 2]])
        let second = await scaler.runOnce()
        stored = try await cluster.scalerStatus("hello")?.scaling
        #expect(second.decision?.history.pendingScaleUp == nil)
        #expect(stored == second.decision?.history, "the stored status equals the decided one")
        #expect(stored?.pendingScaleUp == nil, "the measured scale-up is gone from the server")
        #expect(stored?.readyDelaySeconds == 4)

        // Later runs do not measure again from the old scale-up.
        for _ in 0..<3 {
            clock.advance(4)
            let run = await scaler.runOnce()
            stored = try await cluster.scalerStatus("hello")?.scaling
            #expect(stored == run.decision?.history)
        }
        #expect(stored?.readyDelaySeconds == 4, "the pod start stays what was measured")
        await prometheus.stop()
        await cluster.stop()
    }

    @Test("the merge patch from the stored status to the decided one removes exactly what the decision dropped")
    func mergePatchTable() {
        let cases: [(old: JSONValue, new: JSONValue)] = [
            (["a": 1, "b": ["c": 2, "d": 3]], ["a": 1, "b": ["c": 2]]),
            (["a": [1, 2, 3]], ["a": [1]]),
            (["a": "x"], ["a": ["y": 1]]),
            (["a": ["y": 1]], ["a": "x"]),
            ([:], ["a": ["b": ["c": 1]]]),
            (["a": ["b": ["c": 1]]], [:]),
        ]
        for (old, new) in cases {
            let patch = JSONValue.mergePatch(from: old, to: new)
            #expect(old.merging(patch: patch) == new, "\(old) → \(new) via \(patch)")
        }
        #expect(JSONValue.mergePatch(from: ["a": 1, "b": 2], to: ["a": 1, "b": 3]) == ["b": 3], "equal members are left out")
        #expect(JSONValue.mergePatch(from: ["p": ["replicas": 2]], to: [:]) == ["p": nil])
    }
}
