import Foundation
import LocalKube

/// Helpers shared by Tide's test suites. Nothing here blocks a thread of the
/// concurrency pool: tests run side by side with in-process servers that need it.

/// Polls `condition` every 20 ms until it holds or `timeout` passes. A throwing
/// condition counts as not yet true.
public func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return (try? await condition()) == true
}

/// A command that exited with a non-zero status.
public struct CommandFailed: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

/// What a finished command printed and how it exited.
public struct CommandResult: Sendable {
    public var status: Int32
    public var output: String
    public var errors: String
}

/// Runs a command to completion without blocking a thread, and returns its standard
/// output; a non-zero exit throws with its standard error.
public func runCommand(
    _ path: String, _ arguments: [String], environment: [String: String] = [:], directory: URL? = nil
) async throws -> String {
    let result = try await runProcess(path, arguments, environment: environment, directory: directory)
    guard result.status == 0 else {
        throw CommandFailed(description: "\((path as NSString).lastPathComponent) \(arguments.joined(separator: " ")) exited \(result.status): \(result.errors)")
    }
    return result.output
}

/// Runs a command to completion without blocking a thread, whatever its exit status.
public func runProcess(
    _ path: String, _ arguments: [String], environment: [String: String] = [:], directory: URL? = nil
) async throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    var env = ProcessInfo.processInfo.environment
    for (key, value) in environment { env[key] = value }
    process.environment = env
    let output = OutputCollector()
    let errors = OutputCollector()
    let outPipe = Pipe()
    let errPipe = Pipe()
    process.standardOutput = outPipe
    process.standardError = errPipe
    outPipe.fileHandleForReading.readabilityHandler = { output.append($0.availableData) }
    errPipe.fileHandleForReading.readabilityHandler = { errors.append($0.availableData) }
    try process.run()
    while process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
    outPipe.fileHandleForReading.readabilityHandler = nil
    errPipe.fileHandleForReading.readabilityHandler = nil
    output.append(outPipe.fileHandleForReading.readDataToEndOfFile())
    errors.append(errPipe.fileHandleForReading.readDataToEndOfFile())
    return CommandResult(status: process.terminationStatus, output: output.text, errors: errors.text)
}

final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ chunk: Data) {
        lock.lock()
        data.append(chunk)
        lock.unlock()
    }
    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A port free on loopback right now.
public func freeLoopbackPort() throws -> Int { try LoopbackPort.free() }

/// `kubectl`, if installed.
public let kubectlPath: String? = ["/usr/local/bin/kubectl", "/usr/bin/kubectl"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// The build folder holding Tide's executables (tide-operator, tide-scaler,
/// hello-service), found next to the running test bundle.
public let binariesDirectory: String = {
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    while url.path != "/" {
        url.deleteLastPathComponent()
        if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("tide-scaler").path) { return url.path }
    }
    return RealCluster.repositoryRoot.appendingPathComponent(".build/debug").path
}()

/// A `hello-service` process from the build folder, on `127.0.0.1:port`; stop it with
/// `terminate()` and `waitUntilExit()`.
public func startHelloService(port: Int, arguments: [String] = []) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "\(binariesDirectory)/hello-service")
    process.arguments = ["--host", "127.0.0.1", "--port", "\(port)"] + arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    return process
}

/// A clock a test moves by hand, for code that takes `now: () -> Date`.
public final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    public init(_ start: Date) { current = start }

    public var now: Date {
        lock.lock()
        defer { lock.unlock() }
        return current
    }

    public func set(_ date: Date) {
        lock.lock()
        current = date
        lock.unlock()
    }

    public func advance(_ seconds: TimeInterval) {
        lock.lock()
        current += seconds
        lock.unlock()
    }
}
