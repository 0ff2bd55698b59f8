#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import KubeClient
import Logging
import TideAPI

/// Reads an Application's metrics from the sources they name, with the credentials
/// those sources need: the one place the scaler and the metrics adapter read a metric.
///
/// Reading never throws: a metric that cannot be read (its Secret is missing, its
/// source refuses, its reply is not a number) is `.unavailable` with the reason.
public struct MetricReader: Sendable {
    public let namespace: String
    /// Where the credentials each metric's source names are mounted as files, one
    /// folder per metric; `nil` reads the Secrets through the API.
    public let credentialsDirectory: String?
    let client: KubeClient
    /// Builds the source a metric names; replaceable in tests.
    let makeSource: @Sendable (MetricSourceSpec, SourceSecrets) throws -> any MetricSource

    public init(
        client: KubeClient, namespace: String, credentialsDirectory: String? = nil,
        makeSource: @escaping @Sendable (MetricSourceSpec, SourceSecrets) throws -> any MetricSource = MetricSources.make
    ) {
        self.client = client
        self.namespace = namespace
        self.credentialsDirectory = credentialsDirectory
        self.makeSource = makeSource
    }

    /// Reads every metric at once, each with the credentials its source names.
    public func read(_ metrics: [ScalingMetric]) async -> [String: MetricReading] {
        await withTaskGroup(of: (String, MetricReading).self) { group in
            for metric in metrics {
                group.addTask { (metric.name, await self.read(metric)) }
            }
            var readings: [String: MetricReading] = [:]
            for await (name, reading) in group { readings[name] = reading }
            return readings
        }
    }

    public func read(_ metric: ScalingMetric) async -> MetricReading {
        guard let spec = metric.source else {
            return .unavailable(.credentialsUnavailable("metric \(metric.name) names no single source"))
        }
        let secrets: SourceSecrets
        do {
            secrets = try await self.secrets(for: metric)
        } catch let error as MetricUnavailable {
            return .unavailable(error)
        } catch {
            return .unavailable(.credentialsUnavailable("\(error)"))
        }
        let source: any MetricSource
        do {
            source = try makeSource(spec, secrets)
        } catch let error as MetricUnavailable {
            return .unavailable(error)
        } catch {
            return .unavailable(spec.field == "http" ? .endpointUnreachable("\(error)") : .unreachable("\(error)"))
        }
        let reading = await source.read()
        await source.shutdown()
        return reading
    }

    /// The credentials and header values `metric` names: from the files mounted for
    /// it, or through the API when no folder is mounted.
    public func secrets(for metric: ScalingMetric) async throws -> SourceSecrets {
        let secrets = client.namespaced(Secret.self, in: namespace)
        let directory = credentialsDirectory.map { FilePaths.join($0, metric.name) }
        let namespace = namespace
        func value(_ secret: String, _ key: String, file: String) async throws -> String {
            let bytes: [UInt8]
            if let directory {
                let path = FilePaths.join(directory, file)
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw MetricUnavailable.credentialsUnavailable(
                        "Secret \(namespace)/\(secret) key \(key) is not mounted (\(path) is missing): create the Secret with that key")
                }
                bytes = Array(data)
            } else {
                guard let found = try await secrets.get(secret).value(forKey: key) else {
                    throw MetricUnavailable.credentialsUnavailable("Secret \(secret) has no key \(key)")
                }
                bytes = found
            }
            return String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
        }
        var result = SourceSecrets()
        if let auth = metric.auth {
            if let reference = auth.bearerTokenSecretRef {
                result.credentials = .bearer(try await value(reference.name, reference.key, file: MetricCredentialFiles.token))
            } else if let reference = auth.basicAuthSecretRef {
                result.credentials = .basic(
                    username: try await value(reference.name, reference.usernameKey ?? "username", file: MetricCredentialFiles.username),
                    password: try await value(reference.name, reference.passwordKey ?? "password", file: MetricCredentialFiles.password))
            }
            if let reference = auth.caSecretRef {
                result.caPEM = Array(try await value(reference.name, reference.key, file: MetricCredentialFiles.certificateAuthority).utf8)
            }
        }
        for header in metric.http?.headers ?? [] {
            guard let reference = header.valueFrom?.secretKeyRef else { continue }
            result.headers[header.name] = try await value(reference.name, reference.key, file: MetricCredentialFiles.header(header.name))
        }
        return result
    }

}
