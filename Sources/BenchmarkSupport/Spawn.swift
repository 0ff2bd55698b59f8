import Foundation

/// posix_spawn + wait4, for a child's wall time and peak memory.
public enum Spawn {
    public struct Result: Sendable { public var wall: Double; public var maxRSSKiB: Int; public var exitCode: Int32 }

    public enum Failure: Error, CustomStringConvertible {
        case helperMissing(String)
        case unreadableResult(String)
        public var description: String {
            switch self {
            case .helperMissing(let path): "\(path) is missing: build it with `swift build -c release --product peak-rss`"
            case .unreadableResult(let text): "peak-rss wrote an unreadable result: \(text.debugDescription)"
            }
        }
    }

    /// Runs `path` (standard output and error discarded) and waits for it.
    ///
    /// The peak memory is the program's own. Linux carries a process's peak-RSS
    /// mark across exec from the address space it replaced, so a program spawned
    /// straight from this (large) process would report this process's peak as its
    /// own; the program is therefore started by `peak-rss`, a small helper built
    /// beside this executable. The wall time includes starting that helper
    /// (about a millisecond).
    public static func run(_ path: String, _ arguments: [String]) throws -> Result {
        let helper = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("peak-rss").path
        guard FileManager.default.isExecutableFile(atPath: helper) else { throw Failure.helperMissing(helper) }
        let resultFile = FileManager.default.temporaryDirectory.appendingPathComponent("peak-rss-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        defer { unlink(resultFile) }

        var pid: pid_t = 0
        let argv = ([helper, resultFile, path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let start = ContinuousClock.now
        let spawned = posix_spawn(&pid, helper, nil, nil, argv, environ)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .ENOENT) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let elapsed = ContinuousClock.now - start
        let text = (try? String(contentsOfFile: resultFile, encoding: .utf8)) ?? ""
        let fields = text.split(whereSeparator: \.isWhitespace)
        guard fields.count == 2, let peak = Int(fields[0]), let code = Int32(fields[1]) else { throw Failure.unreadableResult(text) }
        return Result(
            wall: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
            maxRSSKiB: peak, exitCode: code)
    }
}
