#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import KubeClient
import KubeSupport
import Logging
import TideAPI

/// One scaler for an ``Autoscaler``: reads it, finds its target through discovery,
/// reads the metrics, decides exactly as for an Application, and writes the target's
/// `/scale` (only when the count changes, and never with `observe: true`), then the
/// Autoscaler's status (`scaling`, conditions, the target's replicas and, observing,
/// `observation`) and an Event.
///
/// Target problems are conditions, never crashes: `Ready=False` with reason
/// `TargetNotFound`, `TargetNotScalable`, `TargetConflict` (another autoscaler
/// scales the target; observing is allowed beside it) or `TargetNotPermitted` (the
/// scaler's Role does not allow the target's `/scale`; the message names the rule).
public final class AutoscalerScaler: ScalerRun {
    public let namespace: String
    public let name: String
    public let dryRun: Bool
    let client: KubeClient
    let events: EventRecorder
    let logger: Logger
    let now: @Sendable () -> Date
    let reader: MetricReader

    public init(
        client: KubeClient, namespace: String, name: String, dryRun: Bool = false, credentialsDirectory: String? = nil,
        logger: Logger = Logger(label: "tide.scaler"), now: @escaping @Sendable () -> Date = { Date() },
        makeSource: @escaping @Sendable (MetricSourceSpec, SourceSecrets) throws -> any MetricSource = MetricSources.make
    ) {
        self.client = client
        self.namespace = namespace
        self.name = name
        self.dryRun = dryRun
        self.logger = logger
        self.now = now
        self.reader = MetricReader(client: client, namespace: namespace, credentialsDirectory: credentialsDirectory, makeSource: makeSource)
        self.events = EventRecorder(
            client: client, controller: "tide.dev/scaler", instance: ProcessInfo.processInfo.environment["POD_NAME"] ?? "tide-scaler",
            logger: logger)
    }

    var autoscalers: ResourceClient<Autoscaler, SingleScope> { client.namespaced(Autoscaler.self, in: namespace) }

    public func runOnce() async -> ScalerOutcome {
        let subject = "Autoscaler \(namespace)/\(name)"
        do {
            for attempt in 1...5 {
                guard let autoscaler = try await autoscalers.getIfPresent(name) else {
                    return ScalerOutcome(kind: .invalidApplication, line: "\(subject) not found")
                }
                let issues = autoscaler.spec.validate()
                if !issues.isEmpty {
                    let message = issues.map(\.description).joined(separator: "; ")
                    try await writeProblem(reason: "InvalidSpec", message: message, autoscaler: autoscaler)
                    return ScalerOutcome(kind: .invalidApplication, line: "\(subject) is invalid: \(message)")
                }
                let reference = autoscaler.spec.scaleTargetRef
                func refuse(_ problem: ScaleTarget.Problem) async throws -> ScalerOutcome {
                    try await writeProblem(reason: problem.reason, message: problem.description, autoscaler: autoscaler)
                    return ScalerOutcome(kind: .invalidApplication, line: "\(subject): \(problem.reason): \(problem)")
                }
                let target: ScaleTarget
                switch try await ScaleTarget.resolve(reference, namespace: namespace, client: client) {
                case .failure(let problem): return try await refuse(problem)
                case .success(let found): target = found
                }
                let observing = autoscaler.spec.isObserving
                if !observing, let rival = try await target.rival(in: namespace, excluding: name, client: client) {
                    return try await refuse(.conflict("\(rival) already scales \(reference.description); set observe: true to watch beside it, or remove one"))
                }
                let scaling = autoscaler.spec.defaultedScaling
                let scale = target.scale
                let readiness = try await target.readiness()
                // An Application without spec.replicas runs its default, though /scale says 0.
                let current = readiness.unsetReplicas ?? scale.spec.replicas ?? 0
                let ready = readiness.ready ?? scale.status?.replicas ?? current
                let readings = await reader.read(scaling.resolvedMetrics)
                let time = now()
                let histories = await reader.histories(for: scaling, status: autoscaler.status?.scaling, now: time, logger: logger)
                let decision = ScalingAlgorithm.decide(ScalingInput(
                    currentReplicas: current, scaling: scaling, readings: readings, history: autoscaler.status?.scaling ?? ScalingStatus(),
                    now: time, readyReplicas: ready, scaleUpReady: readiness.scaleUpReady, metricHistory: histories))
                logger.info("decision", metadata: [
                    "autoscaler": "\(namespace)/\(name)", "target": "\(reference.description)", "current": "\(current)",
                    "desired": "\(decision.desiredReplicas)", "observe": "\(observing)", "reason": "\(decision.message)", "dryRun": "\(dryRun)",
                ])
                if dryRun { return .of(decision, current: current, subject: subject, observing: observing) }
                if !observing, decision.desiredReplicas != current {
                    var next = scale
                    next.spec.replicas = decision.desiredReplicas
                    do {
                        try await target.update(next)
                    } catch KubeError.conflict {
                        logger.info("the target changed while deciding; deciding again", metadata: ["attempt": "\(attempt)"])
                        continue
                    } catch let problem as ScaleTarget.Problem {
                        return try await refuse(problem)
                    }
                }
                var observation: ObservationStatus?
                if observing {
                    let values = readings.compactMapValues(\.value)
                    observation = ObservationLedger.advance(
                        autoscaler.status?.observation, now: time, decided: decision.desiredReplicas, targetReplicas: current, actualReady: ready,
                        ideal: values.isEmpty ? nil : Backtest.ideal(scaling: scaling, values: values),
                        readyDelay: TimeInterval(decision.history.readyDelaySeconds ?? PredictiveStrategy.defaultReadyDelay))
                }
                let report = observation.flatMap { Self.dailyReport($0, now: time) }
                if report != nil { observation?.lastReportTime = Time(time) }
                try await writeStatus(
                    decision, observation: observation, replicas: observing ? current : decision.desiredReplicas, ready: ready,
                    target: reference, observing: observing)
                if let (type, reason, note) = decision.event(from: current, observing: observing) {
                    await events.record(autoscaler, type: type, reason: reason, action: "Scale", note: note)
                }
                if let report {
                    await events.record(autoscaler, type: "Normal", reason: "ObservationSummary", action: "Observe", note: report)
                }
                return .of(decision, current: current, subject: subject, observing: observing)
            }
            return ScalerOutcome(kind: .failed, line: "\(subject) kept changing; gave up after 5 attempts")
        } catch {
            return ScalerOutcome(kind: .failed, line: "\(subject): \(error)")
        }
    }

    /// The daily summary Event's note, when a day has passed since the last one (or
    /// since observing began).
    static func dailyReport(_ observation: ObservationStatus, now: Date) -> String? {
        let last = observation.lastReportTime ?? observation.since
        guard now.timeIntervalSince(last.date) >= 86_400 else { return nil }
        return "since \(observation.since): Tide would have had shortfall \(observation.tide.shortfall) and idle \(observation.tide.idle) replica·s in \(observation.tide.scaleChanges) changes; the target had \(observation.actual.shortfall) and \(observation.actual.idle) in \(observation.actual.scaleChanges)"
    }

    /// Writes the decision onto the freshest status (a merge patch from it, with its
    /// resourceVersion as precondition, so whatever the decision dropped is removed).
    func writeStatus(
        _ decision: ScalingDecision, observation: ObservationStatus?, replicas: Int32, ready: Int32, target: ScaleTargetReference, observing: Bool
    ) async throws {
        try await patchStatus { status, generation in
            var conditions = status.conditions ?? []
            decision.setConditions(&conditions, generation: generation)
            conditions.set(Condition(
                type: "Ready", status: "True", observedGeneration: generation, reason: observing ? "Observing" : "Scaling",
                message: observing ? "deciding for \(target.description) without writing it" : "scaling \(target.description)"))
            status.conditions = conditions
            status.observedGeneration = generation
            status.scaling = decision.history
            status.replicas = replicas
            status.readyReplicas = ready
            status.observation = observation
        }
    }

    /// `Ready=False` with `reason`; the scaling memory is kept.
    func writeProblem(reason: String, message: String, autoscaler: Autoscaler) async throws {
        if !dryRun {
            try await patchStatus { status, generation in
                var conditions = status.conditions ?? []
                conditions.set(Condition(type: "Ready", status: "False", observedGeneration: generation, reason: reason, message: message))
                status.conditions = conditions
                status.observedGeneration = generation
            }
        }
        await events.record(autoscaler, type: "Warning", reason: reason, action: "Scale", note: message)
    }

    func patchStatus(_ change: (inout AutoscalerStatus, Int64?) -> Void) async throws {
        try await StatusPatch.write(autoscalers, name, status: \.status, empty: AutoscalerStatus()) { status, stored in
            change(&status, stored.metadata.generation)
        }
    }
}
