/// Exponential backoff with jitter that resets after a healthy period, as the watcher
/// uses between failed list or watch attempts (0.8 s doubling to 30 s, reset after two
/// healthy minutes).
///
/// A pure value: it is given the current time and returns the next delay.
public struct Backoff: Sendable, Hashable {
    public var initial: Duration
    public var maximum: Duration
    public var factor: Double
    /// Fraction of the delay added or removed at random (0.0 disables jitter).
    public var jitter: Double
    /// A failure this long after the previous one starts again from `initial`.
    public var resetAfter: Duration

    private var attempt = 0
    private var lastFailure: Duration?

    public init(
        initial: Duration = .milliseconds(800), maximum: Duration = .seconds(30), factor: Double = 2,
        jitter: Double = 0.25, resetAfter: Duration = .seconds(120)
    ) {
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self.resetAfter = resetAfter
    }

    /// The delay before the next attempt after a failure at `now`.
    public mutating func next(now: Duration, random: Double = Double.random(in: -1...1)) -> Duration {
        if let lastFailure, now - lastFailure >= resetAfter { attempt = 0 }
        lastFailure = now
        var delay = initial * pow(factor, Double(attempt))
        if delay > maximum { delay = maximum } else { attempt += 1 }
        if jitter > 0 { delay = delay * (1 + jitter * max(-1, min(1, random))) }
        return delay
    }

    /// Forgets past failures.
    public mutating func reset() {
        attempt = 0
        lastFailure = nil
    }

    /// The attempt number the next failure will use (0 after a reset).
    public var currentAttempt: Int { attempt }
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
