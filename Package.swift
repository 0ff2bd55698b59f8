// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]
/// For what the image ships: a member is visible only through a module the file
/// imports, so none of Foundation's (and so ICU's) reaches these targets through a
/// dependency; they import FoundationEssentials.
let essentials: [SwiftSetting] = strict + [.enableUpcomingFeature("MemberImportVisibility")]

let package = Package(
    name: "tide",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "KubeAPI", targets: ["KubeAPI"]),
        .library(name: "KubeClient", targets: ["KubeClient"]),
        .library(name: "LocalKube", targets: ["LocalKube"]),
        .library(name: "KubeSupport", targets: ["KubeSupport"]),
        .library(name: "StructuredLogging", targets: ["StructuredLogging"]),
        .library(name: "KubeRuntime", targets: ["KubeRuntime"]),
        .library(name: "KubeProbes", targets: ["KubeProbes"]),
        .library(name: "KubeCertificates", targets: ["KubeCertificates"]),
        .library(name: "KubeAPIExtensions", targets: ["KubeAPIExtensions"]),
        .library(name: "TideMetricsAdapter", targets: ["TideMetricsAdapter"]),
        .executable(name: "tide-metrics-adapter", targets: ["tide-metrics-adapter"]),
        .library(name: "TideAPI", targets: ["TideAPI"]),
        .library(name: "TideOperator", targets: ["TideOperator"]),
        .library(name: "TideScaler", targets: ["TideScaler"]),
        .library(name: "TideMetrics", targets: ["TideMetrics"]),
        .executable(name: "tide-operator", targets: ["tide-operator"]),
        .executable(name: "operator-bench", targets: ["operator-bench"]),
        .executable(name: "tide-scaler", targets: ["tide-scaler"]),
        .executable(name: "kubectl-tide", targets: ["kubectl-tide"]),
        .executable(name: "scaler-bench", targets: ["scaler-bench"]),
        .executable(name: "tide-local", targets: ["tide-local"]),
        .executable(name: "hello-service", targets: ["hello-service"]),
        .library(name: "HelloService", targets: ["HelloService"]),
        .executable(name: "local-kube", targets: ["local-kube"]),
        .executable(name: "kube-bench", targets: ["kube-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .target(
            name: "KubeAPI",
            swiftSettings: essentials
        ),
        .systemLibrary(name: "CLibYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .target(
            name: "KubeClient",
            dependencies: [
                "KubeAPI", "CLibYAML",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: essentials
        ),
        // How every Tide binary logs (JSON lines or text), apart so that hello-service
        // links no Kubernetes client.
        .target(
            name: "StructuredLogging",
            dependencies: ["KubeAPI", .product(name: "Logging", package: "swift-log")],
            swiftSettings: essentials
        ),
        // What a Tide program that talks to the API server needs besides the client:
        // the event recorder and the clock. The scaler links this, not KubeRuntime.
        .target(
            name: "KubeSupport",
            dependencies: [
                "KubeAPI", "KubeClient",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: essentials
        ),
        .target(
            name: "KubeRuntime",
            dependencies: [
                "KubeAPI", "KubeClient", "KubeSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: essentials
        ),
        // The probes and metrics HTTP server, apart so that the scaler (which serves
        // nothing) links neither Hummingbird nor the Prometheus registry.
        .target(
            name: "KubeProbes",
            dependencies: [
                "KubeAPI", "KubeAPIExtensions", "KubeClient", "KubeCertificates",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: essentials
        ),
        // Kubernetes types only the operator and the metrics adapter use
        // (HorizontalPodAutoscaler, APIService, SubjectAccessReview): apart from KubeAPI,
        // so the scaler does not link their code.
        .target(name: "KubeAPIExtensions", dependencies: ["KubeAPI"], swiftSettings: essentials),
        // Certificates minted in memory: LocalKube's HTTPS mode and the metrics
        // adapter's generated serving certificate.
        .target(
            name: "KubeCertificates",
            dependencies: [
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: essentials
        ),
        .target(name: "TideAPI", dependencies: ["KubeAPI"], swiftSettings: essentials),
        .target(
            name: "TideMetricsAdapter",
            dependencies: [
                "KubeAPI", "KubeAPIExtensions", "KubeClient", "KubeCertificates", "KubeProbes", "KubeSupport", "StructuredLogging", "TideAPI", "TideMetrics",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: essentials
        ),
        .target(
            name: "TideOperator",
            dependencies: [
                "KubeAPI", "KubeAPIExtensions", "KubeClient", "KubeRuntime", "KubeProbes", "KubeSupport", "TideAPI",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: essentials
        ),
        // Load traces replayed through scaling policies, for the scaler benchmark and
        // the tests: apart from TideScaler, so the scaler binary does not carry it.
        .target(name: "TideSimulation", dependencies: ["KubeAPI", "TideAPI", "TideScaler"], swiftSettings: essentials),
        // The metric sources (Prometheus, HTTP JSON) and their reader, shared by the
        // scaler, the metrics adapter and observe mode.
        .target(
            name: "TideMetrics",
            dependencies: [
                "KubeAPI", "KubeClient", "TideAPI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: essentials
        ),
        .target(
            name: "TideScaler",
            dependencies: [
                "KubeAPI", "KubeClient", "KubeSupport", "TideAPI", "TideMetrics",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: essentials
        ),
        // What `kubectl tide` shows (list, why, report), apart from the executable.
        .target(
            name: "TideCLI",
            dependencies: [
                "KubeAPI", "KubeClient", "TideAPI", "TideScaler",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ], swiftSettings: essentials),
        .executableTarget(
            name: "kubectl-tide",
            dependencies: ["TideCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: essentials
        ),
        .target(
            name: "HelloService",
            dependencies: [
                "StructuredLogging",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: essentials
        ),
        .target(
            name: "LocalMode",
            dependencies: [
                "KubeAPI", "KubeClient", "KubeProbes", "KubeRuntime", "LocalKube", "TideAPI", "TideOperator", "TideScaler",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "tide-local",
            dependencies: [
                "LocalMode", "TideAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "hello-service",
            dependencies: ["HelloService", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: essentials
        ),
        .executableTarget(
            name: "tide-scaler",
            dependencies: [
                "KubeClient", "StructuredLogging", "TideAPI", "TideScaler",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: essentials
        ),
        .executableTarget(
            name: "tide-metrics-adapter",
            dependencies: ["TideMetricsAdapter", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: essentials
        ),
        .executableTarget(
            name: "tide-operator",
            dependencies: [
                "KubeClient", "KubeProbes", "KubeRuntime", "StructuredLogging", "TideOperator", "TideMetricsAdapter", "HelloService", "TideCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: essentials
        ),
        .target(
            name: "LocalKube",
            dependencies: [
                "KubeAPI", "KubeAPIExtensions", "KubeCertificates",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "local-kube",
            dependencies: [
                "LocalKube", "KubeCertificates",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(name: "BenchmarkSupport", swiftSettings: strict),
        .executableTarget(
            name: "kube-bench",
            dependencies: [
                "BenchmarkSupport",
                "KubeAPI", "KubeClient", "LocalKube", "KubeRuntime",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "operator-bench",
            dependencies: [
                "BenchmarkSupport",
                "KubeAPI", "KubeAPIExtensions", "KubeCertificates", "KubeClient", "LocalKube", "TideAPI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "scaler-bench",
            dependencies: [
                "BenchmarkSupport",
                "KubeAPI", "KubeClient", "TideAPI", "TideScaler", "TideSimulation",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Runs a program and reports its own peak memory (see its main.c); the benchmarks
        // measure the scaler through it.
        .executableTarget(name: "peak-rss"),
        .target(name: "TideTestSupport", dependencies: ["LocalKube", "KubeAPI", "KubeClient"], swiftSettings: strict),
        .testTarget(name: "KubeAPITests", dependencies: ["KubeAPI"], swiftSettings: strict),
        .testTarget(
            name: "KubeClientTests",
            dependencies: [
                "TideTestSupport", "KubeAPI", "KubeClient", "KubeCertificates", "LocalKube",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "KubeRuntimeTests",
            dependencies: ["TideTestSupport",
                "KubeAPI", "KubeClient", "KubeRuntime", "KubeProbes", "KubeSupport", "LocalKube",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TideMetricsAdapterTests",
            dependencies: [
                "TideMetricsAdapter", "TideAPI", "TideScaler", "KubeAPI", "KubeAPIExtensions", "KubeClient", "KubeCertificates", "TideTestSupport",
                "LocalKube",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "TideAPITests", dependencies: ["TideAPI", "KubeAPI"], swiftSettings: strict),
        .testTarget(name: "LocalModeTests", dependencies: ["LocalMode", "TideScaler", "TideTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "TideScalerTests",
            dependencies: ["TideTestSupport", 
                "KubeAPI", "KubeClient", "LocalKube", "TideAPI", "TideMetrics", "TideScaler", "TideSimulation", "HelloService",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TideOperatorTests",
            dependencies: ["TideTestSupport", 
                "KubeAPI", "KubeClient", "KubeRuntime", "KubeSupport", "LocalKube", "TideAPI", "TideOperator", "TideScaler",
                "TideMetricsAdapter", "KubeAPIExtensions", "TideSimulation", "KubeProbes",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "LocalKubeTests",
            dependencies: [
                "KubeAPI", "LocalKube",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            exclude: ["Recordings"],
            swiftSettings: strict
        ),
    ]
)
