import AsyncHTTPClient
import Foundation

/// A real Prometheus (Debian's `prometheus`) on loopback, scraping whatever the
/// file-SD targets file lists, every second.
final class PrometheusRunner: @unchecked Sendable {
    let process: ChildProcess
    let port: Int
    let targetsFile: URL

    init(binary: String, directory: URL) throws {
        port = try freeLoopbackPort()
        targetsFile = directory.appendingPathComponent("targets.json")
        try Data("[]".utf8).write(to: targetsFile)
        let config = directory.appendingPathComponent("prometheus.yml")
        try """
            global: {scrape_interval: 1s, evaluation_interval: 1s}
            scrape_configs:
            - job_name: tide-local
              file_sd_configs:
              - files: ['\(targetsFile.path)']
                refresh_interval: 1s
            """.write(to: config, atomically: true, encoding: .utf8)
        process = try ChildProcess(
            name: "prometheus", executable: binary,
            arguments: [
                "--config.file=\(config.path)", "--storage.tsdb.path=\(directory.appendingPathComponent("prometheus-data").path)",
                "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
            ])
    }

    var url: URL { URL(string: "http://127.0.0.1:\(port)")! }

    func waitUntilReady() async throws {
        for _ in 0..<200 {
            let request = HTTPClientRequest(url: url.absoluteString + "/-/ready")
            if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(1)), response.status.code == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw LocalRunError.prometheusNotReady
    }
}
