import KubeRuntime
import Synchronization

/// The operator's own status writes that its Application cache has not seen yet.
///
/// A write's watch event reaches the cache a moment after the write returns. A
/// reconcile that runs in between (children's events queue the Application while
/// its first reconcile is still writing) reads the Application as it was before
/// the write, would build the same status again and send it with a stale
/// resourceVersion: a certain 409. Like client-go controllers' expectations, the
/// reconciler skips the status write while the cached Application is still the
/// version its last write was based on; the write's own watch event runs the
/// reconcile again with the fresh object, so nothing is lost.
final class StatusWrites: Sendable {
    private let pending = Mutex<[ObjectKey: String]>([:])

    /// Notes a status write that replaced version `basedOn`.
    func wrote(_ key: ObjectKey, basedOn version: String?) {
        guard let version else { return }
        pending.withLock { $0[key] = version }
    }

    /// Whether the cache still holds the version the last write replaced; once it
    /// holds any other, the entry is dropped.
    func isPending(_ key: ObjectKey, cachedVersion: String?) -> Bool {
        pending.withLock { pending in
            guard let basedOn = pending[key] else { return false }
            if basedOn == cachedVersion { return true }
            pending[key] = nil
            return false
        }
    }

    func forget(_ key: ObjectKey) {
        _ = pending.withLock { $0.removeValue(forKey: key) }
    }
}
