import KubeAPI
import KubeAPIExtensions
import TideAPI

/// The ClusterIP Service in front of the Application's pods: always wanted.
enum ServerService: ChildPart {
    static func isWanted(by application: Application, serviceMonitors: Bool) -> Bool { true }

    static func desired(for application: Application, settings: OperatorSettings) throws -> DesiredChild {
        try DesiredChild(Children.service(for: application), part: self)
    }
}

extension Children {
    public static func service(for application: Application) -> Service {
        Service(
            metadata: metadata(application.name, for: application, component: "server"),
            spec: .init(
                type: "ClusterIP", selector: selector(for: application),
                ports: [ServicePort(name: "http", port: application.spec.port ?? Defaults.port, targetPort: .string("http"), protocol: "TCP")]))
    }
}
