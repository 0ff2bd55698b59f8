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

/// The result of one scaler run, with the exit code `tide-scaler` returns.
public struct ScalerOutcome: Sendable {
    public enum Kind: Sendable, Equatable {
        /// A decision was made (scaled or not): exit 0.
        case decided
        /// The metric was unavailable; recorded in status and an event: exit 2.
        case metricUnavailable
        /// The Application is missing or invalid: exit 3.
        case invalidApplication
        /// Anything else (API errors, ...): exit 1.
        case failed
    }

    public var kind: Kind
    /// One line for stderr.
    public var line: String
    public var decision: ScalingDecision?

    /// Whether the Application shows this outcome (status, conditions or events), or
    /// has nothing to show it on: a retry would only repeat it.
    public var isRecorded: Bool {
        switch kind {
        case .decided, .metricUnavailable, .invalidApplication: return true
        case .failed: return false
        }
    }

    /// A decision's outcome: exit 2 only when no metric could be read (with one
    /// readable metric the run decided); `observing`, worded as what Tide would do.
    static func of(_ decision: ScalingDecision, current: Int32, subject: String, observing: Bool = false) -> ScalerOutcome {
        if !decision.recommendations.isEmpty, decision.recommendations.allSatisfy({ $0.replicas == nil }) {
            return ScalerOutcome(kind: .metricUnavailable, line: "\(subject): \(decision.message)", decision: decision)
        }
        let change: String
        if decision.desiredReplicas == current {
            change = "kept \(current) replicas"
        } else {
            change = observing ? "would scale \(current) → \(decision.desiredReplicas) (observing)" : "scaled \(current) → \(decision.desiredReplicas)"
        }
        return ScalerOutcome(kind: .decided, line: "\(subject): \(change); \(decision.message)", decision: decision)
    }

    public var exitCode: Int32 {
        switch kind {
        case .decided: return 0
        case .metricUnavailable: return 2
        case .invalidApplication: return 3
        case .failed: return 1
        }
    }
}

/// One scaler: reads an Application, queries Prometheus, decides, writes `/scale`
/// (only when the count changes), `status.scaling` and the `ScalingActive` /
/// `ScalingLimited` conditions, and records an Event.
public final class Scaler: Sendable {
    public let namespace: String
    public let name: String
    public let dryRun: Bool
    /// Where the credentials each metric's source names are mounted as files, one
    /// folder per metric (`<metric>/token`, `ca.crt`, `username`, `password`,
    /// `headers/<name>`); `nil` reads the Secrets through the API (a scaler run by hand
    /// with the user's own rights).
    public let credentialsDirectory: String?
    let client: KubeClient
    let events: EventRecorder
    let logger: Logger
    let now: @Sendable () -> Date
    let reader: MetricReader

    public init(
        client: KubeClient, namespace: String, name: String, dryRun: Bool = false, credentialsDirectory: String? = nil,
        logger: Logger = Logger(label: "tide.scaler"),
        now: @escaping @Sendable () -> Date = { Date() },
        makeSource: @escaping @Sendable (MetricSourceSpec, SourceSecrets) throws -> any MetricSource = MetricSources.make
    ) {
        self.client = client
        self.namespace = namespace
        self.name = name
        self.dryRun = dryRun
        self.credentialsDirectory = credentialsDirectory
        self.logger = logger
        self.now = now
        self.reader = MetricReader(client: client, namespace: namespace, credentialsDirectory: credentialsDirectory, makeSource: makeSource)
        self.events = EventRecorder(
            client: client, controller: "tide.dev/scaler", instance: ProcessInfo.processInfo.environment["POD_NAME"] ?? "tide-scaler",
            logger: logger)
    }

    enum ScalerError: Error, CustomStringConvertible {
        case invalid(String)
        var description: String {
            switch self { case .invalid(let message): return message }
        }
    }

    var applications: ResourceClient<Application, SingleScope> { client.namespaced(Application.self, in: namespace) }

    /// One decision. Never throws: every failure is an outcome with its exit code.
    public func runOnce() async -> ScalerOutcome {
        let subject = "Application \(namespace)/\(name)"
        do {
            for attempt in 1...5 {
                guard let application = try await applications.getIfPresent(name) else {
                    return ScalerOutcome(kind: .invalidApplication, line: "\(subject) not found")
                }
                let spec = application.spec.withDefaults
                guard let scaling = spec.scaling else {
                    return ScalerOutcome(kind: .invalidApplication, line: "\(subject) has no spec.scaling; nothing to do")
                }
                let issues = spec.validate()
                if !issues.isEmpty {
                    return ScalerOutcome(kind: .invalidApplication, line: "\(subject) is invalid: " + issues.map(\.description).joined(separator: "; "))
                }
                let readings = await reader.read(scaling.resolvedMetrics)
                let current = application.spec.replicas ?? spec.effectiveReplicas
                let time = now()
                let histories = await reader.histories(for: scaling, status: application.status?.scaling, now: time, logger: logger)
                let decision = ScalingAlgorithm.decide(ScalingInput(
                    currentReplicas: current, scaling: scaling, readings: readings, history: application.status?.scaling ?? ScalingStatus(),
                    now: time, readyReplicas: application.status?.readyReplicas, scaleUpReady: application.status?.scaleUpReady,
                    metricHistory: histories))
                logger.info("decision", metadata: [
                    "application": "\(namespace)/\(name)", "current": "\(current)", "desired": "\(decision.desiredReplicas)",
                    "reason": "\(decision.message)", "dryRun": "\(dryRun)",
                ])
                if dryRun {
                    return .of(decision, current: current, subject: subject)
                }
                if decision.desiredReplicas != current {
                    do {
                        var scale = Scale(metadata: ObjectMeta(name: name, namespace: namespace), spec: .init(replicas: decision.desiredReplicas))
                        scale.metadata.resourceVersion = application.metadata.resourceVersion
                        _ = try await applications.updateScale(name, scale: scale)
                    } catch KubeError.conflict {
                        logger.info("the Application changed while deciding; deciding again", metadata: ["attempt": "\(attempt)"])
                        continue
                    }
                }
                try await writeStatus(decision)
                await recordEvent(decision, application: application, current: current)
                return .of(decision, current: current, subject: subject)
            }
            return ScalerOutcome(kind: .failed, line: "\(subject) kept changing; gave up after 5 attempts")
        } catch {
            return ScalerOutcome(kind: .failed, line: "\(subject): \(error)")
        }
    }

    /// The spacing of the history strategy Forecast reads.
    public static let historyStep: TimeInterval = 60

    /// Writes `status.scaling` and the two scaling conditions onto the freshest
    /// status, retrying on conflict: only the scaler writes these fields, so merging
    /// them into a newer status is safe.
    ///
    /// Guarantee: afterwards the stored `status.scaling` equals `decision.history`
    /// field for field (a merge patch computed from the stored status, with its
    /// resourceVersion as precondition, nulls every key the decision no longer has).
    func writeStatus(_ decision: ScalingDecision) async throws {
        try await StatusPatch.write(applications, name, status: \.status, empty: ApplicationStatus()) { status, current in
            var conditions = status.conditions ?? []
            decision.setConditions(&conditions, generation: current.metadata.generation)
            status.conditions = conditions
            status.scaling = decision.history
        }
    }

    func recordEvent(_ decision: ScalingDecision, application: Application, current: Int32) async {
        guard let (type, reason, note) = decision.event(from: current) else { return }
        await events.record(application, type: type, reason: reason, action: "Scale", note: note)
    }
}

/// One run of a scaler: what `tide-scaler` calls once (CronJob) or in a loop (Continuous).
public protocol ScalerRun: Sendable {
    func runOnce() async -> ScalerOutcome
}

extension Scaler: ScalerRun {}

extension ScalingDecision {
    /// Sets `ScalingActive`, `ScalingLimited` and the strategy's own condition (removing
    /// one no longer reported) in `conditions`.
    public func setConditions(_ conditions: inout [Condition], generation: Int64?) {
        conditions.set(Condition(
            type: "ScalingActive", status: active.status ? "True" : "False", observedGeneration: generation,
            reason: active.reason, message: active.message))
        conditions.set(Condition(
            type: "ScalingLimited", status: limited.status ? "True" : "False", observedGeneration: generation,
            reason: limited.reason, message: limited.message))
        for type in StrategyCondition.types where type != strategyCondition?.type {
            conditions.removeAll { $0.type == type }
        }
        if let own = strategyCondition {
            conditions.set(Condition(
                type: own.type, status: own.status ? "True" : "False", observedGeneration: generation, reason: own.reason, message: own.message))
        }
    }

    /// The Event this decision records from `current` replicas: type, reason and note;
    /// observing, worded as what Tide would do (`would scale 4 → 7`).
    public func event(from current: Int32, observing: Bool = false) -> (type: String, reason: String, note: String)? {
        guard let kind = event else { return nil }
        switch kind {
        case .scaledUp, .scaledDown, .scaledToZero, .scaledFromZero:
            if observing {
                return ("Normal", kind == .scaledUp || kind == .scaledFromZero ? "WouldScaleUp" : "WouldScaleDown",
                    "would scale \(current) → \(desiredReplicas); \(message)")
            }
            return ("Normal", kind.rawValue, "\(current) → \(desiredReplicas) replicas; \(message)")
        case .metricUnavailable:
            return ("Warning", kind.rawValue, message)
        }
    }
}

