import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import StructuredLogging
import Logging
import Hummingbird

/// `hello-service`: Tide's sample microservice. A command of this library so that
/// the image can run it from the operator's binary.
public struct HelloServiceCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "hello-service", abstract: "A greeting service with Prometheus metrics.")

    @Option(help: "Address to listen on.")
    var host = "0.0.0.0"

    @Option(help: "Port to listen on (PORT in the environment also works).")
    var port = Int(ProcessInfo.processInfo.environment["PORT"] ?? "") ?? 8080

    @Option(help: "Greeting (default: GREETING, else World).")
    var greeting = ProcessInfo.processInfo.environment["GREETING"] ?? "World"

    @Option(help: "Artificial milliseconds of work per /hello request.")
    var workMs = 0

    @Option(help: "json or text.")
    var logFormat = "text"

    public init() {}

    public func run() async throws {
        LogFormat(rawValue: logFormat)?.bootstrap(level: .info)
        var configuration = HelloService.Configuration()
        configuration.host = host
        configuration.port = port
        configuration.greeting = greeting
        configuration.work = .milliseconds(workMs)
        let service = HelloService(configuration: configuration)
        // runService handles SIGTERM/SIGINT: in-flight requests finish, then it exits.
        try await service.application(logger: Logger(label: "hello-service")).runService()
    }
}
