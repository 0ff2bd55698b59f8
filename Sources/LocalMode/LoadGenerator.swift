import AsyncHTTPClient
import Foundation
import KubeAPI

/// Sends `GET /hello` at the profile's rate, spread round-robin over the ready
/// processes. Bounded: it stops when the profile ends or it is cancelled.
actor LoadGenerator {
    let profile: LoadProfile
    private(set) var sent = 0
    private(set) var failed = 0

    init(profile: LoadProfile) { self.profile = profile }

    func count(_ ok: Bool) { if ok { sent += 1 } else { failed += 1 } }

    /// Runs for the profile's duration; `ports` gives the current ready processes.
    func run(ports: @escaping @Sendable () async -> [Int]) async {
        let start = ContinuousClock.now
        let slice = 0.1
        var owed = 0.0
        var next = 0
        let end = Double(profile.duration)
        while !Task.isCancelled {
            let elapsed = ContinuousClock.now - start
            let seconds = elapsed.inSeconds
            if seconds >= end { break }
            owed += profile.rate(at: seconds).rps * slice
            let requests = Int(owed)
            owed -= Double(requests)
            let targets = await ports()
            if !targets.isEmpty, requests > 0 {
                await withTaskGroup(of: Bool.self) { group in
                    for index in 0..<requests {
                        let port = targets[(next + index) % targets.count]
                        group.addTask {
                            let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/hello")
                            return (try? await HTTPClient.shared.execute(request, timeout: .seconds(2)))?.status.code == 200
                        }
                    }
                    for await ok in group { count(ok) }
                }
                next += requests
            }
            try? await Task.sleep(until: start + .milliseconds(Int(((seconds / slice).rounded(.down) + 1) * slice * 1_000)), clock: .continuous)
        }
    }
}
