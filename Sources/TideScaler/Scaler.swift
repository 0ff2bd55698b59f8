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

/// The scaler of an Application: the scaler of the Autoscaler the Application owns
/// (``Application/scalingAutoscaler``), which targets the Application's `/scale`. There
/// is one scaling path: this runs ``AutoscalerScaler`` on that Autoscaler, which
/// decides, writes the Application's `/scale` (only when the count changes), and keeps
/// the memory, the conditions and the Events; the operator shows them on the
/// Application. What `tide-scaler --application NAME` runs.
public final class Scaler: Sendable {
    public let namespace: String
    public let name: String
    public let dryRun: Bool
    let client: KubeClient
    let autoscaler: AutoscalerScaler

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
        autoscaler = AutoscalerScaler(
            client: client, namespace: namespace, name: name, dryRun: dryRun, credentialsDirectory: credentialsDirectory, logger: logger,
            now: now, makeSource: makeSource)
    }

    /// One decision. Never throws: every failure is an outcome with its exit code (an
    /// Application that is missing, does not scale through a scaler, or whose
    /// Autoscaler the operator has not made yet: exit 3).
    public func runOnce() async -> ScalerOutcome {
        let subject = "Application \(namespace)/\(name)"
        do {
            guard let application = try await client.namespaced(Application.self, in: namespace).getIfPresent(name) else {
                return ScalerOutcome(kind: .invalidApplication, line: "\(subject) not found")
            }
            guard application.runsScaler else {
                let why = application.spec.scaling == nil ? "has no spec.scaling" : "is in mode HPA (a HorizontalPodAutoscaler scales it)"
                return ScalerOutcome(kind: .invalidApplication, line: "\(subject) \(why); nothing to do")
            }
            let issues = application.spec.withDefaults.validate()
            if !issues.isEmpty {
                return ScalerOutcome(kind: .invalidApplication, line: "\(subject) is invalid: " + issues.map(\.description).joined(separator: "; "))
            }
            guard let own = try await client.namespaced(Autoscaler.self, in: namespace).getIfPresent(name), own.owningApplication == name else {
                return ScalerOutcome(
                    kind: .invalidApplication,
                    line: "\(subject) has no Autoscaler of its own yet: the operator makes Autoscaler \(name), which its scaler runs for (--autoscaler \(name))")
            }
            let outcome = await autoscaler.runOnce()
            return ScalerOutcome(kind: outcome.kind, line: outcome.line.replacing("Autoscaler \(namespace)/\(name)", with: subject), decision: outcome.decision)
        } catch {
            return ScalerOutcome(kind: .failed, line: "\(subject): \(error)")
        }
    }

    /// The spacing of the history strategies Predictive and Forecast read.
    public static let historyStep: TimeInterval = 60
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

