import Foundation
import Testing
import TideTestSupport

@Suite("scaler-bench's trace options")
struct ScalerBenchOptionsTests {
    @Test("out-of-range --days and --noise are refused with the range, before anything runs")
    func refusals() async throws {
        let bench = "\(binariesDirectory)/scaler-bench"
        let days = try await runProcess(bench, ["--multi-day", "--days", "2"])
        #expect(days.status == 64 && days.errors.contains("--days must be from 3 to 28 (a trace is scored on its last two days), not 2"), "\(days.errors)")
        #expect(days.output.isEmpty, "no table: \(days.output)")
        let noise = try await runProcess(bench, ["--noise-only", "--noise", "0"])
        #expect(noise.status == 64 && noise.errors.contains("--noise must be above 0 and at most 50 (percent), not 0"), "\(noise.errors)")
        let loud = try await runProcess(bench, ["--noise-only", "--noise", "60"])
        #expect(loud.status == 64 && loud.errors.contains("not 60"), "\(loud.errors)")
    }
}
