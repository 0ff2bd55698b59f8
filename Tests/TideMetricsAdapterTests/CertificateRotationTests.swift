import AsyncHTTPClient
import Foundation
import KubeAPI
import KubeAPIExtensions
import KubeCertificates
import KubeClient
import LocalKube
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import TideMetricsAdapter
import Testing
import TideTestSupport

/// Certificates that age: the adapter renews what it minted, reloads what it was given,
/// and follows the front-proxy CA, all without a restart.
@Suite("Metrics adapter certificates over time", .serialized)
struct CertificateRotationTests {
    /// LocalKube with the front-proxy settings and the APIService a cluster has, and the
    /// adapter running in this process.
    struct Running {
        let server: LocalKubeServer
        let client: KubeClient
        let adapter: Task<Void, any Error>
        let port: Int
        var frontProxy: CertificateAuthority

        static let apiService = "v1beta1.external.metrics.k8s.io"

        static func start(configure: (inout MetricsAdapter.Options) -> Void) async throws -> Running {
            let server = try await LocalKubeServer.start()
            let client = try KubeClient(connection: ClusterConnection(server: server.url))
            let frontProxy = try CertificateAuthority(commonName: "front-proxy-ca")
            for namespace in ["kube-system", "tide-system"] {
                _ = try? await client.clusterScoped(Namespace.self).create(Namespace(name: namespace))
            }
            _ = try await client.namespaced(ConfigMap.self, in: "kube-system").create(ConfigMap(
                metadata: ObjectMeta(name: "extension-apiserver-authentication"),
                data: ["requestheader-client-ca-file": frontProxy.certificatePEM, "requestheader-allowed-names": #"["front-proxy-client"]"#]))
            _ = try await client.clusterScoped(APIService.self).create(APIService(
                metadata: ObjectMeta(name: apiService),
                spec: .init(
                    group: "external.metrics.k8s.io", version: "v1beta1",
                    service: .init(namespace: "tide-system", name: "tide-metrics-adapter"))))
            var options = MetricsAdapter.Options()
            options.host = "127.0.0.1"
            options.port = 0
            options.healthProbeAddress = nil
            options.metricsAddress = nil
            options.extraAddresses = [[127, 0, 0, 1]]
            options.apiService = apiService
            options.shutdownSignals = []
            options.checkInterval = .milliseconds(200)
            configure(&options)
            let bound = PortBox()
            let adapter = MetricsAdapter(client: client, options: options, logger: Logger(label: "test-metrics-adapter"))
            let task = Task { try await adapter.run(onBound: { bound.set($0) }) }
            let deadline = ContinuousClock.now + .seconds(20)
            while bound.value == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            return Running(server: server, client: client, adapter: task, port: bound.value, frontProxy: frontProxy)
        }

        /// The CA bundle the APIService holds now (what the aggregator trusts).
        func caBundle() async throws -> String {
            let spec = try await client.clusterScoped(APIService.self).get(Self.apiService).spec
            let data = try #require(Data(base64Encoded: spec?.caBundle ?? ""))
            return String(decoding: data, as: UTF8.self)
        }

        func stop() async {
            adapter.cancel()
            _ = await adapter.result
            try? await client.shutdown()
            await server.stop()
        }
    }

    final class PortBox: @unchecked Sendable {
        private let lock = NSLock()
        private var port = 0
        func set(_ value: Int) { lock.lock(); port = value; lock.unlock() }
        var value: Int { lock.lock(); defer { lock.unlock() }; return port }
    }

    /// What the aggregator does: a TLS connection that trusts `bundle`, presents a
    /// front-proxy client certificate signed by `clientCA`, and asks for discovery.
    static func discovery(port: Int, trusting bundle: String, clientCA: CertificateAuthority) async -> Int? {
        guard let identity = try? clientCA.issueClientCertificate(commonName: "front-proxy-client"),
            let roots = try? NIOSSLCertificate.fromPEMBytes(Array(bundle.utf8)),
            let chain = try? NIOSSLCertificate.fromPEMBytes(Array(identity.certificatePEM.utf8)),
            let key = try? NIOSSLPrivateKey(bytes: Array(identity.keyPEM.utf8), format: .pem)
        else { return nil }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(roots)
        tls.certificateChain = chain.map { .certificate($0) }
        tls.privateKey = .privateKey(key)
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        defer { _ = http.shutdown() }
        var request = HTTPClientRequest(url: "https://127.0.0.1:\(port)/apis/external.metrics.k8s.io/v1beta1")
        request.headers.add(name: "X-Remote-User", value: "system:kube-controller-manager")
        guard let response = try? await http.execute(request, timeout: .seconds(5)) else { return nil }
        _ = try? await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }

    /// The leaf certificate the server presents (DER), read without verifying it.
    static func servedCertificate(port: Int) async throws -> [UInt8] {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        let context = try NIOSSLContext(configuration: tls)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        defer { channel.close(promise: nil) }
        for _ in 0..<100 {
            if let certificate = try await channel.nioSSL_peerCertificate().get() { return try certificate.toDERBytes() }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw CancellationError()
    }

    @Test("a minted certificate with a lifetime of seconds is renewed before it expires: the served certificate and the APIService's caBundle change, connections before and after succeed")
    func mintedRenewal() async throws {
        let running = try await Running.start { $0.certificateLifetime = 3 }
        #expect(running.port > 0)
        let firstBundle = try await running.caBundle()
        let first = try await Self.servedCertificate(port: running.port)
        #expect(await Self.discovery(port: running.port, trusting: firstBundle, clientCA: running.frontProxy) == 200)

        // Renewal at two thirds of 3 s: within about 2.3 s.
        var renewed: [UInt8] = first
        let deadline = ContinuousClock.now + .seconds(10)
        while renewed == first, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            renewed = try await Self.servedCertificate(port: running.port)
        }
        #expect(renewed != first, "the served certificate changed without a restart")
        let secondBundle = try await running.caBundle()
        #expect(secondBundle != firstBundle, "the caBundle follows the new CA")
        #expect(secondBundle.contains(firstBundle.trimmingCharacters(in: .whitespacesAndNewlines)), "the previous CA stays in the bundle during the switch")
        #expect(await Self.discovery(port: running.port, trusting: secondBundle, clientCA: running.frontProxy) == 200)
        // Well past the first certificate's expiry, connections still succeed.
        try await Task.sleep(for: .seconds(3))
        #expect(await Self.discovery(port: running.port, trusting: try await running.caBundle(), clientCA: running.frontProxy) == 200)
        #expect(running.adapter.isCancelled == false)
        await running.stop()
    }

    @Test("the metrics port's /metrics tells when the served certificate expires, for the alert that catches a failing renewal")
    func expiryGauge() async throws {
        let probe = try freeLoopbackPort()
        let running = try await Running.start { options in
            options.metricsAddress = ("127.0.0.1", probe)
            options.certificateLifetime = 3_600
        }
        var line: Substring?
        for _ in 0..<100 where line == nil {
            if let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(probe)/metrics"), timeout: .seconds(2)),
                let body = try? await response.body.collect(upTo: 1 << 20)
            {
                line = String(buffer: body).split(separator: "\n").first { $0.hasPrefix("tide_adapter_certificate_expiry_timestamp_seconds ") }
            }
            if line == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        await running.stop()
        let seconds = try #require(line.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) })
        let left = seconds - Date().timeIntervalSince1970
        // Certificate times are whole seconds, so up to a second more than the hour.
        #expect(left > 3_000 && left <= 3_601, "a one-hour certificate minted just now: \(left) s left")
    }

    @Test("certificate files rewritten (as cert-manager renews them) are served from the next connection; a broken pair keeps the old one")
    func filesReloaded() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tide-adapter-certs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificateFile = directory.appendingPathComponent("tls.crt")
        let keyFile = directory.appendingPathComponent("tls.key")
        func write(_ authority: CertificateAuthority) throws {
            let identity = try authority.issueServerCertificate(commonName: "adapter", dnsNames: ["localhost"], ipAddresses: [[127, 0, 0, 1]])
            try identity.keyPEM.write(to: keyFile, atomically: true, encoding: .utf8)
            try identity.certificatePEM.write(to: certificateFile, atomically: true, encoding: .utf8)
        }
        let firstCA = try CertificateAuthority(commonName: "issuer-1")
        try write(firstCA)
        let running = try await Running.start {
            $0.certificateFile = certificateFile.path
            $0.keyFile = keyFile.path
        }
        #expect(await Self.discovery(port: running.port, trusting: firstCA.certificatePEM, clientCA: running.frontProxy) == 200)
        let first = try await Self.servedCertificate(port: running.port)

        // A broken file: logged, the old certificate still served.
        try "not a certificate".write(to: certificateFile, atomically: true, encoding: .utf8)
        try await Task.sleep(for: .milliseconds(600))
        #expect(try await Self.servedCertificate(port: running.port) == first)
        #expect(await Self.discovery(port: running.port, trusting: firstCA.certificatePEM, clientCA: running.frontProxy) == 200)

        let secondCA = try CertificateAuthority(commonName: "issuer-2")
        try write(secondCA)
        #expect(await eventually(timeout: .seconds(10)) { try await Self.servedCertificate(port: running.port) != first })
        #expect(await Self.discovery(port: running.port, trusting: secondCA.certificatePEM, clientCA: running.frontProxy) == 200)
        await running.stop()
    }

    @Test("bad input: a lifetime or check interval that is not a duration is refused before anything starts; an unusable certificate or CA is a clear error")
    func badInput() async throws {
        for (flag, value, message) in [
            ("--certificate-lifetime", "soon", "--certificate-lifetime must be a duration of at least 3s, such as 720h, not 'soon'"),
            ("--certificate-lifetime", "1s", "--certificate-lifetime must be a duration of at least 3s, such as 720h, not '1s'"),
            ("--certificate-check-interval", "often", "--certificate-check-interval must be a duration such as 30s, not 'often'"),
        ] {
            let result = try await runProcess("\(binariesDirectory)/tide-metrics-adapter", [flag, value, "--kubeconfig", "/nonexistent"])
            #expect(result.status == 64, "\(flag) \(value): \(result.errors)")
            #expect(result.errors.contains(message), "\(result.errors)")
        }
        let authority = try CertificateAuthority(commonName: "ca")
        let good = try authority.issueServerCertificate(commonName: "adapter", dnsNames: ["localhost"])
        let authenticator = try RequestHeaderAuthenticator(configMap: ["requestheader-client-ca-file": authority.certificatePEM])
        #expect(throws: ServingCertificate.Failure.unusable("the certificate file holds no PEM certificate")) {
            try TLSMaterial(identity: .init(certificateChainPEM: "not a certificate", keyPEM: good.keyPEM), authenticator: authenticator)
        }
        let material = try TLSMaterial(identity: .init(certificateChainPEM: good.certificatePEM, keyPEM: good.keyPEM), authenticator: authenticator)
        #expect(throws: (any Error).self) { try material.replace(identity: .init(certificateChainPEM: good.certificatePEM, keyPEM: "no key")) }
        #expect(material.identity.keyPEM == good.keyPEM, "a refused pair leaves the served one")
        #expect(throws: ServingCertificate.Failure.unusable("the front-proxy client CA holds no certificate")) {
            try material.replace(authenticator: RequestHeaderAuthenticator(
                clientCAPEM: " ", allowedNames: [], usernameHeaders: [], groupHeaders: [], extraHeaderPrefixes: []))
        }
        #expect(material.authenticator == authenticator, "a refused CA leaves the trusted one")
    }

    @Test("a new front-proxy CA in kube-system/extension-apiserver-authentication is trusted from the next connection, the old one no longer")
    func frontProxyFollowed() async throws {
        var running = try await Running.start { _ in }
        let bundle = try await running.caBundle()
        #expect(await Self.discovery(port: running.port, trusting: bundle, clientCA: running.frontProxy) == 200)
        let newFrontProxy = try CertificateAuthority(commonName: "front-proxy-ca-2")
        #expect(await Self.discovery(port: running.port, trusting: bundle, clientCA: newFrontProxy) != 200, "not trusted yet")

        _ = try await running.client.namespaced(ConfigMap.self, in: "kube-system").mergePatch(
            "extension-apiserver-authentication", patch: ["data": ["requestheader-client-ca-file": .string(newFrontProxy.certificatePEM)]])
        #expect(await eventually(timeout: .seconds(10)) {
            await Self.discovery(port: running.port, trusting: bundle, clientCA: newFrontProxy) == 200
        })
        #expect(await Self.discovery(port: running.port, trusting: bundle, clientCA: running.frontProxy) != 200, "the old CA is no longer trusted")
        running.frontProxy = newFrontProxy
        await running.stop()
    }
}
