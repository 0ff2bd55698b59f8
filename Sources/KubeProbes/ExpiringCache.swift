/// Values kept for `ttl`, at most `capacity` of them: when full, the expired ones go
/// first, then all. The metrics adapter's answers and access reviews, and the metrics
/// endpoint's token and access reviews, live in one.
public struct ExpiringCache<Key: Hashable, Value> {
    let ttl: Duration
    let capacity: Int
    private var entries: [Key: (value: Value, until: ContinuousClock.Instant)] = [:]

    public init(ttl: Duration, capacity: Int) {
        self.ttl = ttl
        self.capacity = capacity
    }

    /// The value kept for `key`, unless it has expired.
    public mutating func value(for key: Key, now: ContinuousClock.Instant = .now) -> Value? {
        guard let entry = entries[key] else { return nil }
        if entry.until > now { return entry.value }
        entries[key] = nil
        return nil
    }

    /// Keeps `value` for `ttl` (nothing with a zero `ttl`).
    public mutating func keep(_ value: Value, for key: Key, now: ContinuousClock.Instant = .now) {
        guard ttl > .zero else { return }
        if entries.count >= capacity {
            entries = entries.filter { $0.value.until > now }
            if entries.count >= capacity { entries.removeAll() }
        }
        entries[key] = (value, now + ttl)
    }
}
