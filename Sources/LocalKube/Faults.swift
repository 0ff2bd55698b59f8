import Foundation
import Synchronization

/// Faults LocalKube injects into its answers, for tests of a client's resilience.
///
/// Rules apply by rate (a probability per matching request) or on demand (the next
/// `count` matching requests). Watch faults cut streams periodically or at once.
public final class FaultInjector: Sendable {
    /// What a faulty answer is.
    public enum Fault: Sendable, Hashable {
        /// `410 Gone` (`Expired`); on a watch, the stream opens with an ERROR event.
        case gone
        /// `409 Conflict`.
        case conflict
        /// `429 Too Many Requests` with `Retry-After` in seconds.
        case tooManyRequests(retryAfterSeconds: Int)
        /// A `5xx` with the given code.
        case serverError(code: Int)
        /// `403 Forbidden`, as RBAC would answer.
        case forbidden
    }

    /// When a fault applies.
    public struct Rule: Sendable {
        public var fault: Fault
        /// Verbs it applies to; `nil` for all.
        public var verbs: Set<Verb>?
        /// Resource (plural, with `/status` or `/scale` for subresources); `nil` for all.
        public var resource: String?
        /// Chance per matching request, 0...1.
        public var probability: Double
        /// How many more times it may fire; `nil` for no limit.
        public var remaining: Int?
        /// Only requests whose `User-Agent` is exactly this; `nil` for all clients.
        public var userAgent: String?

        public init(
            fault: Fault, verbs: Set<Verb>? = nil, resource: String? = nil, probability: Double = 1, count: Int? = nil,
            userAgent: String? = nil
        ) {
            self.fault = fault
            self.userAgent = userAgent
            self.verbs = verbs
            self.resource = resource
            self.probability = probability
            self.remaining = count
        }
    }

    struct State {
        var rules: [Rule] = []
        var latency: Duration = .zero
        var watchDropInterval: Duration?
        var watchChunkSize: Int?
        var injected = 0
    }

    let state = Mutex(State())

    public init() {}

    /// Adds a rule.
    public func add(_ rule: Rule) { state.withLock { $0.rules.append(rule) } }

    /// Makes the next `count` matching requests fail with `fault`.
    public func failNext(_ count: Int = 1, with fault: Fault, verbs: Set<Verb>? = nil, resource: String? = nil) {
        add(Rule(fault: fault, verbs: verbs, resource: resource, probability: 1, count: count))
    }

    /// Removes every rule and watch fault and the added latency.
    public func clear() {
        state.withLock { state in
            state.rules.removeAll()
            state.latency = .zero
            state.watchDropInterval = nil
            state.watchChunkSize = nil
        }
    }

    /// Delay added before every answer.
    public var latency: Duration {
        get { state.withLock { $0.latency } }
        set { state.withLock { $0.latency = newValue } }
    }

    /// Every watch is cut this long (±50% jitter) after it opens; `nil` disables.
    public var watchDropInterval: Duration? {
        get { state.withLock { $0.watchDropInterval } }
        set { state.withLock { $0.watchDropInterval = newValue } }
    }

    /// Write watch events in pieces of this many bytes, each flushed on its own, so
    /// clients see JSON split across chunks; `nil` writes whole events.
    public var watchChunkSize: Int? {
        get { state.withLock { $0.watchChunkSize } }
        set { state.withLock { $0.watchChunkSize = newValue } }
    }

    /// How many faulty answers were given.
    public var injectedCount: Int { state.withLock { $0.injected } }

    /// The fault for this request, if a rule fires.
    func fault(verb: Verb, resource: String, userAgent: String?) -> Fault? {
        state.withLock { state in
            for index in state.rules.indices {
                let rule = state.rules[index]
                if let verbs = rule.verbs, !verbs.contains(verb) { continue }
                if let only = rule.resource, only != resource { continue }
                if let agent = rule.userAgent, agent != userAgent { continue }
                if let remaining = rule.remaining, remaining <= 0 { continue }
                if rule.probability < 1, Double.random(in: 0..<1) >= rule.probability { continue }
                if let remaining = rule.remaining { state.rules[index].remaining = remaining - 1 }
                state.injected += 1
                return rule.fault
            }
            return nil
        }
    }

    static func error(for fault: Fault) -> APIError {
        switch fault {
        case .gone:
            return APIError.gone("too old resource version (injected)")
        case .conflict:
            return APIError(code: 409, reason: "Conflict", message: "Operation cannot be fulfilled: the object has been modified (injected)")
        case .tooManyRequests(let seconds):
            return APIError(
                code: 429, reason: "TooManyRequests", message: "Too many requests, please try again later (injected)",
                details: .init(retryAfterSeconds: seconds), retryAfter: seconds)
        case .forbidden:
            return APIError(code: 403, reason: "Forbidden", message: "access denied (injected)")
        case .serverError(let code):
            return APIError(code: code, reason: code == 503 ? "ServiceUnavailable" : "InternalError", message: "Internal error occurred (injected)")
        }
    }
}

/// Counts requests by verb and resource, so tests can assert what a client did
/// (e.g. "a resync made no writes").
public final class RequestCounter: Sendable {
    /// A verb on a resource (plural, with `/status` or `/scale` for subresources).
    public struct Key: Sendable, Hashable, CustomStringConvertible {
        public var verb: Verb
        public var resource: String
        public init(verb: Verb, resource: String) {
            self.verb = verb
            self.resource = resource
        }
        public var description: String { "\(verb.rawValue) \(resource)" }
    }

    let counts = Mutex<[Key: Int]>([:])
    let agents = Mutex<[String: (total: Int, writes: Int)]>([:])

    public init() {}

    func record(_ verb: Verb, _ resource: String, userAgent: String? = nil) {
        counts.withLock { $0[Key(verb: verb, resource: resource), default: 0] += 1 }
        agents.withLock { agents in
            var entry = agents[userAgent ?? "", default: (0, 0)]
            entry.total += 1
            if verb.isWrite { entry.writes += 1 }
            agents[userAgent ?? ""] = entry
        }
    }

    /// Requests and writes per `User-Agent`, to tell clients apart.
    public var byUserAgent: [String: (total: Int, writes: Int)] { agents.withLock { $0 } }

    /// Every count so far.
    public var snapshot: [Key: Int] { counts.withLock { $0 } }

    /// Requests with this verb (and resource, if given).
    public func count(_ verb: Verb, resource: String? = nil) -> Int {
        snapshot.filter { $0.key.verb == verb && (resource == nil || $0.key.resource == resource) }.values.reduce(0, +)
    }

    /// Requests that change state (create, update, patch, delete).
    public var writes: Int { snapshot.filter { $0.key.verb.isWrite }.values.reduce(0, +) }

    /// Total requests.
    public var total: Int { snapshot.values.reduce(0, +) }

    /// Sets every count to zero.
    public func reset() {
        counts.withLock { $0.removeAll() }
        agents.withLock { $0.removeAll() }
    }
}
