#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import TideAPI

/// Observe mode's accounting: what Tide would have had, beside what the target really
/// had, each against the ideal. Pure, so it is table-tested.
///
/// Between two decisions the state the earlier one saw holds (the ideal, the target's
/// ready replicas), as a step function; Tide's shadow follows its own decisions: up to
/// a new count once a pod start (`readyDelay`) has passed, down at once, as a kubelet
/// would.
public enum ObservationLedger {
    /// The account after the decision at `now`: `decided` is what Tide decided,
    /// `actualReady` the target's ready replicas now, `ideal` the replicas the metrics
    /// ask for now (`nil` while none can be read: that stretch is not scored), and
    /// `targetReplicas` the target's count, where the shadow starts on the first call.
    public static func advance(
        _ previous: ObservationStatus?, now: Date, decided: Int32, targetReplicas: Int32, actualReady: Int32, ideal: Int32?,
        readyDelay: TimeInterval
    ) -> ObservationStatus {
        let time = Time(now)
        var account = previous ?? ObservationStatus(
            since: time, lastTime: time, tide: .init(), actual: .init(), shadowReplicas: targetReplicas,
            shadowReady: min(actualReady, targetReplicas), lastIdeal: ideal, lastActual: actualReady, summary: "")
        if let previous {
            let start = previous.lastTime.date
            let end = max(now, start)
            if let ideal = previous.lastIdeal {
                // Tide's shadow: its ready count until its pending pods start, then all of them.
                var from = start
                var ready = previous.shadowReady
                if let readyAt = previous.shadowReadyAt?.date, readyAt < end {
                    let until = max(readyAt, start)
                    tally(&account.tide, ready: ready, ideal: ideal, seconds: until.timeIntervalSince(from))
                    from = until
                    ready = previous.shadowReplicas
                }
                tally(&account.tide, ready: ready, ideal: ideal, seconds: end.timeIntervalSince(from))
                tally(&account.actual, ready: previous.lastActual ?? actualReady, ideal: ideal, seconds: end.timeIntervalSince(start))
            }
            if let readyAt = previous.shadowReadyAt?.date, readyAt <= end {
                account.shadowReady = previous.shadowReplicas
                account.shadowReadyAt = nil
            }
            if let last = previous.lastActual, last != actualReady { account.actual.scaleChanges += 1 }
        }
        if decided > account.shadowReplicas {
            account.shadowReplicas = decided
            account.shadowReadyAt = Time(now.addingTimeInterval(max(readyDelay, 0)))
            account.tide.scaleChanges += 1
        } else if decided < account.shadowReplicas {
            account.shadowReplicas = decided
            account.shadowReady = min(account.shadowReady, decided)
            account.shadowReadyAt = nil
            account.tide.scaleChanges += 1
        }
        account.lastTime = time
        account.lastIdeal = ideal
        account.lastActual = actualReady
        account.summary = "tide \(account.tide.shortfall)/\(account.tide.idle) vs actual \(account.actual.shortfall)/\(account.actual.idle)"
        return account
    }

    static func tally(_ tally: inout ObservationStatus.Tally, ready: Int32, ideal: Int32, seconds: TimeInterval) {
        guard seconds > 0 else { return }
        tally.shortfall += Int64((Double(max(0, ideal - ready)) * seconds).rounded())
        tally.idle += Int64((Double(max(0, ready - ideal)) * seconds).rounded())
    }
}
