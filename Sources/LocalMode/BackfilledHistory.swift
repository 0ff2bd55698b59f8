import Foundation

/// Days of a local run's load written into its Prometheus before Prometheus starts, so
/// strategy Forecast has a pattern to prove and to follow in a run of minutes.
///
/// The history is the load profile as if it had come every hour: an occurrence starts
/// a whole number of hours before ``anchor`` (when the run's own load starts), and
/// between occurrences the rate rests at the one the profile starts from. It is hello-service's
/// request counter, sampled every ``spacing`` seconds under the labels the operator's
/// ServiceMonitor gives the live pods, so the sample's query reads history and live
/// load alike. It is loaded the way users backfill Prometheus:
/// `promtool tsdb create-blocks-from openmetrics`.
public struct BackfilledHistory: Sendable, Hashable {
    /// How often the pattern repeats: hourly, the shortest period Forecast looks for.
    public static let period: TimeInterval = 3_600
    /// Seconds between samples: within the sample query's 10 s range, twice.
    public static let spacing: TimeInterval = 5

    public var profile: LoadProfile
    public var days: Int
    /// When the live load starts: an occurrence starts every whole hour before it.
    public var anchor: Date

    public init(profile: LoadProfile, days: Int, anchor: Date) {
        self.profile = profile
        self.days = days
        self.anchor = anchor
    }

    /// Why a history of `days` days of `profile` cannot be made, or `nil` when it can.
    public static func problem(days: Int, profile: LoadProfile) -> String? {
        if days < 1 { return "--history-days must be at least 1, got \(days)" }
        if days > 15 { return "--history-days must be at most 15 (Prometheus keeps 15 days), got \(days)" }
        if Double(profile.duration) > Self.period {
            return "a load profile of \(profile.duration) s cannot repeat every hour: make it an hour or shorter to backfill a history"
        }
        return nil
    }

    /// The rate between occurrences: the one the profile starts from, so each
    /// occurrence rises from where the load rests.
    public var restingRate: Double { profile.phases.first?.from ?? 0 }

    /// The request rate the history has at `time`: the profile's, from the last start of
    /// an hourly occurrence before it, else ``restingRate``.
    public func rate(at time: Date) -> Double {
        var offset = time.timeIntervalSince(anchor).truncatingRemainder(dividingBy: Self.period)
        if offset < 0 { offset += Self.period }
        return offset < Double(profile.duration) ? profile.rate(at: offset).rps : restingRate
    }

    /// The history as OpenMetrics text: `hello_requests_total{namespace, service}`, a
    /// counter rising by the rate, from `days` before ``anchor`` until before `end`
    /// (Prometheus gets no sample from its future).
    public func openMetrics(namespace: String, service: String, end: Date) -> String {
        let start = anchor.addingTimeInterval(-Double(days) * 86_400)
        let samples = max(0, Int((min(end, anchor).timeIntervalSince(start) / Self.spacing).rounded(.up)))
        let labels = "{namespace=\"\(Self.escaped(namespace))\",service=\"\(Self.escaped(service))\",instance=\"history\"}"
        var text = "# TYPE hello_requests counter\n"
        text.reserveCapacity(samples * (labels.count + 40))
        var total = 0.0
        for index in 0..<samples {
            let time = start.addingTimeInterval(Double(index) * Self.spacing)
            total += rate(at: time) * Self.spacing
            text += "hello_requests_total\(labels) \(String(format: "%.1f", total)) \(Int(time.timeIntervalSince1970))\n"
        }
        return text + "# EOF\n"
    }

    /// Writes the history into the Prometheus storage at `storage` with `promtool`.
    public func write(into storage: URL, promtool: String, namespace: String, service: String) async throws {
        let input = storage.deletingLastPathComponent().appendingPathComponent("history.om")
        try openMetrics(namespace: namespace, service: service, end: Date()).write(to: input, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: input) }
        try FileManager.default.createDirectory(at: storage, withIntermediateDirectories: true)
        let process = try ChildProcess(
            name: "promtool", executable: promtool, arguments: ["tsdb", "create-blocks-from", "openmetrics", input.path, storage.path],
            captureOutput: true)
        let code = await process.wait()
        guard code == 0 else {
            throw LocalRunError.failed("promtool could not backfill the history (exit \(code)): \(process.lastLine ?? "")")
        }
    }

    static func escaped(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}
