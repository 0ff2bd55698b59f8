/// A load profile: phases of linearly changing request rate.
public struct LoadProfile: Sendable, Hashable {
    public struct Phase: Sendable, Hashable {
        public var name: String
        public var seconds: Int
        public var from: Double
        public var to: Double

        public init(_ name: String, seconds: Int, from: Double, to: Double) {
            self.name = name
            self.seconds = seconds
            self.from = from
            self.to = to
        }
    }

    public var phases: [Phase]
    /// Seconds between scaler runs that suit the profile's pace (the CronJob's minute,
    /// compressed as the profile is).
    public var scalerEvery: Int
    /// The sample's scale-down stabilization window, in seconds: short enough that the
    /// profile's quiet phase shows replicas falling after the load.
    public var scaleDownWindow: Int

    public init(phases: [Phase], scalerEvery: Int = 5, scaleDownWindow: Int = 30) {
        self.phases = phases
        self.scalerEvery = scalerEvery
        self.scaleDownWindow = scaleDownWindow
    }

    /// Total length in seconds.
    public var duration: Int { phases.reduce(0) { $0 + $1.seconds } }

    /// Requests per second at `second`, and the phase it falls in.
    public func rate(at second: Double) -> (rps: Double, phase: String) {
        var start = 0.0
        for phase in phases {
            let end = start + Double(phase.seconds)
            if second < end {
                let fraction = phase.seconds > 0 ? (second - start) / Double(phase.seconds) : 1
                return (phase.from + (phase.to - phase.from) * fraction, phase.name)
            }
            start = end
        }
        return (phases.last?.to ?? 0, "done")
    }

    /// Ramp up, plateau, spike, ramp down, then quiet long enough for the scale-down
    /// window: a few minutes in all.
    public static let standard = LoadProfile(phases: [
        Phase("warm-up", seconds: 15, from: 2, to: 2),
        Phase("ramp-up", seconds: 45, from: 2, to: 40),
        Phase("plateau", seconds: 45, from: 40, to: 40),
        Phase("spike", seconds: 15, from: 70, to: 70),
        Phase("ramp-down", seconds: 30, from: 40, to: 2),
        Phase("quiet", seconds: 80, from: 2, to: 2),
    ])

    /// About 45 seconds: everything runs faster, the scaler every 2 s and an 8 s
    /// scale-down window, so the 22 s quiet phase shows the fall.
    public static let short = LoadProfile(
        phases: [
            Phase("ramp-up", seconds: 6, from: 5, to: 40),
            Phase("plateau", seconds: 10, from: 40, to: 40),
            Phase("spike", seconds: 3, from: 60, to: 60),
            Phase("ramp-down", seconds: 4, from: 30, to: 0),
            Phase("quiet", seconds: 22, from: 0, to: 0),
        ],
        scalerEvery: 2, scaleDownWindow: 8)

    /// Parses `name:seconds:from-to,...`, e.g. `ramp:30:0-40,plateau:60:40-40`.
    public init(parsing text: String) throws {
        var phases: [Phase] = []
        for part in text.split(separator: ",") {
            let fields = part.split(separator: ":").map(String.init)
            let rates = fields.count == 3 ? fields[2].split(separator: "-").compactMap { Double($0) } : []
            guard fields.count == 3, let seconds = Int(fields[1]), seconds > 0, rates.count == 2, rates.allSatisfy({ $0 >= 0 }) else {
                throw LocalRunError.badProfile(String(part))
            }
            phases.append(Phase(fields[0], seconds: seconds, from: rates[0], to: rates[1]))
        }
        guard !phases.isEmpty else { throw LocalRunError.badProfile(text) }
        self.init(phases: phases)
    }
}

/// What can stop a local run before it starts or while it runs.
public enum LocalRunError: Error, Sendable, CustomStringConvertible {
    case missingBinary(name: String, path: String, hint: String)
    case badProfile(String)
    case prometheusNotReady
    case failed(String)

    public var description: String {
        switch self {
        case .missingBinary(let name, let path, let hint): return "\(name) not found at \(path): \(hint)"
        case .badProfile(let text): return "load profile '\(text)' is not name:seconds:from-to[,...] with positive seconds"
        case .prometheusNotReady: return "Prometheus did not become ready within 20 s"
        case .failed(let why): return why
        }
    }
}
