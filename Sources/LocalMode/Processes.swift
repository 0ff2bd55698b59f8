import Foundation
import LocalKube

/// A child process the local run started; it is stopped (SIGTERM, then SIGKILL after
/// a grace period) by whoever started it, and never outlives the run.
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    let name: String
    private let output = Pipe()
    private let lock = NSLock()
    private var lastLines: [String] = []

    init(name: String, executable: String, arguments: [String], environment: [String: String] = [:], captureOutput: Bool = false) throws {
        self.name = name
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardInput = FileHandle.nullDevice
        if captureOutput {
            process.standardOutput = FileHandle.nullDevice
            process.standardError = output
            output.fileHandleForReading.readabilityHandler = { [weak self] handle in
                let data = handle.availableData
                guard let self, !data.isEmpty else { return }
                let text = String(decoding: data, as: UTF8.self)
                self.lock.lock()
                self.lastLines.append(contentsOf: text.split(separator: "\n").map(String.init))
                if self.lastLines.count > 20 { self.lastLines.removeFirst(self.lastLines.count - 20) }
                self.lock.unlock()
            }
        } else {
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// The last line the process wrote to stderr.
    var lastLine: String? {
        lock.lock()
        defer { lock.unlock() }
        return lastLines.last
    }

    /// Waits for the process to end by itself; returns its exit status.
    func wait() async -> Int32 {
        while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        // What it wrote just before it ended may still be on its way to the handler.
        if output.fileHandleForReading.readabilityHandler != nil { try? await Task.sleep(for: .milliseconds(50)) }
        output.fileHandleForReading.readabilityHandler = nil
        return process.terminationStatus
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    func stop(grace: Duration = .seconds(5)) async {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = ContinuousClock.now + grace
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        while process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        output.fileHandleForReading.readabilityHandler = nil
    }
}

/// A port free on loopback right now.
func freeLoopbackPort() throws -> Int {
    do { return try LoopbackPort.free() } catch { throw LocalRunError.failed("cannot find a free loopback port: \(error)") }
}
