import KubeAPI
import KubeRuntime
import TideAPI
import Synchronization

/// The last inputs for which a reconcile found an Application's children exactly as
/// desired, so that a resync of an unchanged Application skips building, encoding
/// and comparing its children (most of a no-op reconcile's CPU).
///
/// Guarantee: ``isConverged(_:_:)`` is true only for the very inputs a reconcile
/// verified: the same Application (uid) at the same generation (its spec), the same
/// ServiceMonitor availability, and the same set of controlled children at the same
/// resourceVersions — every write to an object changes its resourceVersion, so an
/// edit, a deletion or a new child makes it false and the reconcile compares in
/// full. What else decides the children (the operator's settings) is fixed for the
/// process. Entries are small (names and versions), one per Application, removed
/// when the Application is gone.
final class ConvergenceMemo: Sendable {
    /// What one verified reconcile read.
    struct Fingerprint: Hashable, Sendable {
        var uid: String
        var generation: Int64
        var serviceMonitors: Bool
        /// `resource/name@resourceVersion` of every cached child the Application
        /// controls, sorted, one per line (one allocation per Application).
        var children: String
    }

    private let entries = Mutex<[ObjectKey: Fingerprint]>([:])

    /// The fingerprint of `application` as the caches hold it now.
    static func fingerprint(of application: Application, serviceMonitors: Bool, kinds: [ChildKind]) -> Fingerprint {
        let uid = application.metadata.uid ?? ""
        var children: [String] = []
        for kind in kinds {
            for (name, version) in kind.versions(uid) { children.append("\(kind.resource.plural)/\(name)@\(version ?? "")") }
        }
        return Fingerprint(uid: uid, generation: application.metadata.generation ?? 0, serviceMonitors: serviceMonitors, children: children.sorted().joined(separator: "\n"))
    }

    /// Whether a reconcile verified exactly these inputs.
    func isConverged(_ key: ObjectKey, _ fingerprint: Fingerprint) -> Bool {
        entries.withLock { $0[key] == fingerprint }
    }

    /// Records that the children were as desired for these inputs (read before the comparison).
    func recordConverged(_ key: ObjectKey, _ fingerprint: Fingerprint) {
        entries.withLock { $0[key] = fingerprint }
    }

    func forget(_ key: ObjectKey) {
        _ = entries.withLock { $0.removeValue(forKey: key) }
    }
}
