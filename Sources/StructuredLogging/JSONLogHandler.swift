#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization
import KubeAPI

/// A swift-log handler writing one JSON object per line to standard error:
/// `{"ts":"…","level":"info","logger":"…","msg":"…", …metadata}`.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    private static let lock = Mutex(())

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: String] = [
            "ts": RFC3339Fractional.now(), "level": event.level.rawValue, "logger": label, "msg": "\(event.message)",
        ]
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        for (key, value) in merged where fields[key] == nil { fields[key] = "\(value)" }
        let body = fields.sorted { $0.key < $1.key }
            .map { "\(Self.quote($0.key)):\(Self.quote($0.value))" }
            .joined(separator: ",")
        let line = Array(("{" + body + "}\n").utf8)
        Self.lock.withLock { _ in
            line.withUnsafeBufferPointer { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(2, buffer.baseAddress! + offset, buffer.count - offset)
                    if written <= 0 { break }
                    offset += written
                }
            }
        }
    }

    static func quote(_ text: String) -> String { JSONString.quoted(text) }
}

enum RFC3339Fractional {
    /// Now, with milliseconds, which is enough for logs.
    static func now() -> String { RFC3339.format(Date(), fractionalDigits: 3) }
}

/// How a Tide binary logs.
public enum LogFormat: String, Sendable, CaseIterable {
    case json, text

    /// Installs the handler for every logger in the process, at `level`.
    public func bootstrap(level: Logger.Level) {
        switch self {
        case .json:
            LoggingSystem.bootstrap { label in
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        case .text:
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }
}
