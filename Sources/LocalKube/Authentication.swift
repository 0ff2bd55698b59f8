import Foundation
import KubeAPI
import Synchronization

/// Who sent a request, as kube-apiserver's authenticators would find it.
public struct Requester: Sendable, Hashable {
    public var name: String
    public var uid: String?
    public var groups: [String]

    public init(name: String, uid: String? = nil, groups: [String]) {
        self.name = name
        self.uid = uid
        self.groups = groups
    }

    /// The client LocalKube trusts with everything: its configured bearer token, a client
    /// certificate it requires, or no authentication at all when it asks for none.
    public static let admin = Requester(name: "local-kube-admin", groups: ["system:masters", "system:authenticated"])

    /// The user a ServiceAccount's token stands for, with the groups kube-apiserver gives it.
    public static func serviceAccount(_ name: String, namespace: String, uid: String?) -> Requester {
        Requester(
            name: "system:serviceaccount:\(namespace):\(name)", uid: uid,
            groups: ["system:serviceaccounts", "system:serviceaccounts:\(namespace)", "system:authenticated"])
    }

    /// `namespace/name` when this is a ServiceAccount.
    var serviceAccount: (namespace: String, name: String)? {
        let parts = name.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "system", parts[1] == "serviceaccount" else { return nil }
        return (String(parts[2]), String(parts[3]))
    }
}

/// The ServiceAccount tokens LocalKube has issued (`POST .../serviceaccounts/NAME/token`,
/// a TokenRequest), and who each stands for.
///
/// A token is good until it expires or its ServiceAccount is deleted (kube-apiserver
/// checks a bound token's ServiceAccount on every use). Tokens are opaque random
/// strings here, not JWTs: nothing outside LocalKube reads them.
public final class TokenIssuer: Sendable {
    struct Issued: Sendable {
        var namespace: String
        var serviceAccount: String
        var uid: String?
        var audiences: [String]
        var expires: Date
    }

    private let issued = Mutex<[String: Issued]>([:])

    public init() {}

    /// A new token for ServiceAccount `namespace/name` (whose uid is `uid`), valid for
    /// `lifetime` seconds.
    public func issue(serviceAccount name: String, namespace: String, uid: String?, audiences: [String], lifetime: TimeInterval, now: Date = Date()) -> (token: String, expires: Date) {
        var bytes = [UInt8](repeating: 0, count: 32)
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255) }
        let token = "lk." + Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        let expires = now.addingTimeInterval(lifetime)
        issued.withLock {
            $0 = $0.filter { $0.value.expires > now }
            $0[token] = Issued(namespace: namespace, serviceAccount: name, uid: uid, audiences: audiences, expires: expires)
        }
        return (token, expires)
    }

    /// Who `token` stands for and the audiences it was issued for, or why it does not
    /// authenticate. `serviceAccountUID` gives the uid of the ServiceAccount as stored
    /// now (`nil` when it no longer exists).
    func review(_ token: String, now: Date = Date(), serviceAccountUID: (String, String) -> String?) -> Result<(Requester, [String]), ReviewFailure> {
        guard let found = issued.withLock({ $0[token] }) else { return .failure(.invalid) }
        guard found.expires > now else { return .failure(.expired) }
        guard let uid = serviceAccountUID(found.namespace, found.serviceAccount), found.uid == nil || uid == found.uid else {
            return .failure(.serviceAccountGone)
        }
        return .success((.serviceAccount(found.serviceAccount, namespace: found.namespace, uid: found.uid), found.audiences))
    }

    enum ReviewFailure: Error {
        case invalid, expired, serviceAccountGone

        /// kube-apiserver's wording in `TokenReview.status.error`.
        var message: String {
            switch self {
            case .invalid: return "invalid bearer token"
            case .expired: return "[invalid bearer token, service account token has expired]"
            case .serviceAccountGone: return "[invalid bearer token, service account token has been invalidated]"
            }
        }
    }
}
