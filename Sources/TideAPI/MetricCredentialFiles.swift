/// The file names under `<credentials folder>/<metric>/` where the scaler pod finds
/// what a metric's source names in Secrets. The operator projects the Secrets to
/// these names; the scaler reads them.
public enum MetricCredentialFiles {
    public static let token = "token"
    public static let username = "username"
    public static let password = "password"
    public static let certificateAuthority = "ca.crt"
    /// A header's value, by the header's name as the spec spells it.
    public static func header(_ name: String) -> String { "headers/\(name)" }
}
