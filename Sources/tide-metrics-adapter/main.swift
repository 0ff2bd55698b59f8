import ArgumentParser
import TideMetricsAdapter

/// `tide-metrics-adapter` on its own (the image runs it from the operator's binary).
@main
enum TideMetricsAdapterMain {
    static func main() async { await MetricsAdapterCommand.main() }
}
