import KubeSupport
import DequeModule
import KubeAPI

/// How a work queue spaces out retries: per-key exponential backoff (5 ms doubling,
/// capped) combined with a global token bucket, whichever asks for the longer wait
/// (client-go's default controller rate limiter).
public struct RateLimit: Sendable, Hashable {
    public var baseDelay: Duration = .milliseconds(5)
    public var maxDelay: Duration = .seconds(1_000)
    /// Retries per second across all keys, and the burst allowed above it.
    public var bucketRate: Double = 10
    public var bucketBurst: Int = 100

    public init() {}

    /// The per-key delay after `failures` consecutive failures.
    public func delay(afterFailures failures: Int) -> Duration {
        let exponent = min(failures, 40)
        let delay = baseDelay * pow(2, Double(exponent))
        return min(delay, maxDelay)
    }
}

/// Observations a work queue reports, for metrics.
public protocol WorkQueueObserver: Sendable {
    func depthChanged(_ depth: Int)
    func added()
    func retried()
    /// Time a key waited in the queue before a worker took it.
    func queued(for duration: Duration)
}

/// A controller work queue with the guarantees of client-go's:
/// - adding a key that is already waiting merges into one entry;
/// - a key is never handed to two workers at once;
/// - a key added while a worker has it runs again once that worker is done;
/// - failed keys come back after a rate-limited delay; ``forget(_:)`` resets them;
/// - delayed adds wait on the injected clock.
public actor WorkQueue<Key: Hashable & Sendable> {
    public let clock: any RuntimeClock
    public let rateLimit: RateLimit
    private let observer: (any WorkQueueObserver)?

    private var queue = Deque<Key>()
    private var dirty: Set<Key> = []
    private var processing: Set<Key> = []
    private var enqueuedAt: [Key: Duration] = [:]
    private var failures: [Key: Int] = [:]
    private var waiters: [CheckedContinuation<Key?, Never>] = []
    private var delayed: [Key: (due: Duration, task: Task<Void, Never>)] = [:]
    private var bucketTokens: Double
    private var bucketUpdated: Duration
    private var shuttingDown = false

    public init(clock: any RuntimeClock = SystemClock(), rateLimit: RateLimit = RateLimit(), observer: (any WorkQueueObserver)? = nil) {
        self.clock = clock
        self.rateLimit = rateLimit
        self.observer = observer
        self.bucketTokens = Double(rateLimit.bucketBurst)
        self.bucketUpdated = clock.now
    }

    /// Keys waiting (not counting those being processed or delayed).
    public var depth: Int { queue.count }
    /// Whether a worker holds `key` now.
    public func isProcessing(_ key: Key) -> Bool { processing.contains(key) }
    /// Consecutive failures recorded for `key`.
    public func failureCount(_ key: Key) -> Int { failures[key] ?? 0 }

    /// Adds a key to run as soon as a worker is free.
    public func add(_ key: Key) {
        guard !shuttingDown else { return }
        observer?.added()
        if dirty.contains(key) { return }
        dirty.insert(key)
        if processing.contains(key) { return }
        enqueue(key)
    }

    /// Adds a key after `delay`. An earlier pending delay for the same key wins.
    public func add(_ key: Key, after delay: Duration) {
        guard !shuttingDown else { return }
        if delay <= .zero { return add(key) }
        let due = clock.now + delay
        if let existing = delayed[key], existing.due <= due { return }
        delayed[key]?.task.cancel()
        let clock = self.clock
        let task = Task { [weak self] in
            do { try await clock.sleep(for: delay) } catch { return }
            await self?.fireDelayed(key, due: due)
        }
        delayed[key] = (due, task)
    }

    private func fireDelayed(_ key: Key, due: Duration) {
        guard let entry = delayed[key], entry.due == due else { return }
        delayed[key] = nil
        add(key)
    }

    /// Adds a key after its rate-limited delay and counts a failure for it.
    public func addRateLimited(_ key: Key) {
        let count = failures[key] ?? 0
        failures[key] = count + 1
        observer?.retried()
        let perKey = rateLimit.delay(afterFailures: count)
        add(key, after: max(perKey, reserveToken()))
    }

    /// Clears the failure count of a key (after a success).
    public func forget(_ key: Key) {
        failures[key] = nil
    }

    /// Takes the next key, waiting for one. Returns `nil` once the queue shuts down.
    /// Every key taken must be given back with ``done(_:)``.
    public func next() async -> Key? {
        if let key = queue.popFirst() {
            observer?.depthChanged(queue.count)
            return take(key)
        }
        if shuttingDown { return nil }
        return await withCheckedContinuation { continuation in
            waiters.append(continuation)
        }
    }

    /// Gives a key to a waiting worker, or queues it.
    private func enqueue(_ key: Key) {
        enqueuedAt[key] = clock.now
        if let waiter = waiters.first {
            waiters.removeFirst()
            waiter.resume(returning: take(key))
        } else {
            queue.append(key)
            observer?.depthChanged(queue.count)
        }
    }

    private func take(_ key: Key) -> Key {
        dirty.remove(key)
        processing.insert(key)
        if let start = enqueuedAt.removeValue(forKey: key) { observer?.queued(for: clock.now - start) }
        return key
    }

    /// Marks a key finished; if it was added meanwhile, it is queued again.
    public func done(_ key: Key) {
        processing.remove(key)
        guard dirty.contains(key), !shuttingDown else { return }
        enqueue(key)
    }

    /// Stops handing out keys: waiting workers get `nil`, delayed adds are dropped.
    public func shutDown() {
        shuttingDown = true
        for waiter in waiters { waiter.resume(returning: nil) }
        waiters.removeAll()
        for entry in delayed.values { entry.task.cancel() }
        delayed.removeAll()
        queue.removeAll()
        dirty.removeAll()
        observer?.depthChanged(0)
    }

    /// Whether ``shutDown()`` was called.
    public var isShuttingDown: Bool { shuttingDown }

    /// Takes one token from the global bucket; returns how long to wait for it.
    private func reserveToken() -> Duration {
        let now = clock.now
        let elapsed = now - bucketUpdated
        bucketUpdated = now
        let seconds = elapsed.inSeconds
        bucketTokens = min(Double(rateLimit.bucketBurst), bucketTokens + seconds * rateLimit.bucketRate)
        bucketTokens -= 1
        if bucketTokens >= 0 { return .zero }
        return .seconds(-bucketTokens / rateLimit.bucketRate)
    }
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
