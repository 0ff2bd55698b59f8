#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Path arithmetic on plain strings, so kubeconfig loading needs only FoundationEssentials.
public enum FilePaths {
    /// `directory` joined with `component`, with exactly one `/` between them.
    public static func join(_ directory: String, _ component: String) -> String {
        if directory.isEmpty { return component }
        if directory.hasSuffix("/") { return directory + component }
        return directory + "/" + component
    }

    /// The folder that holds `path` (`"."` for a bare file name, `"/"` for a file at the root).
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let directory = String(path[..<slash])
        return directory.isEmpty ? "/" : directory
    }

    /// The last component of `path` (the file's name).
    public static func lastComponent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// The user's home: `HOME`, else the root folder.
    public static var home: String {
        ProcessInfo.processInfo.environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? "/"
    }
}
