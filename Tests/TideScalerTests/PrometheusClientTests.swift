import Foundation
import Hummingbird
import KubeAPI
import Logging
import TideScaler
import Testing

@Suite("Prometheus replies")
struct PrometheusParseTests {
    @Test(
        "every reply shape becomes a value or a typed reason",
        arguments: [
            (200, #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.5,"12.5"]}]}}"#, MetricReading.value(12.5)),
            (200, #"{"status":"success","data":{"resultType":"scalar","result":[1.5,"3"]}}"#, .value(3)),
            (200, #"{"status":"success","data":{"resultType":"vector","result":[]}}"#, .unavailable(.emptyResult)),
            (200, #"{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"1"]},{"value":[1,"2"]}]}}"#, .unavailable(.multipleSeries(2))),
            (200, #"{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"NaN"]}]}}"#, .unavailable(.notFinite("NaN"))),
            (200, #"{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"+Inf"]}]}}"#, .unavailable(.notFinite("+Inf"))),
            (200, #"{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"-Inf"]}]}}"#, .unavailable(.notFinite("-Inf"))),
            (200, #"{"status":"success","data":{"resultType":"matrix","result":[]}}"#, .unavailable(.unsupportedResultType("matrix"))),
            (200, #"{"status":"success","data":{"resultType":"string","result":[1,"x"]}}"#, .unavailable(.unsupportedResultType("string"))),
            (400, #"{"status":"error","errorType":"bad_data","error":"1:5: parse error"}"#, .unavailable(.queryError(errorType: "bad_data", error: "1:5: parse error"))),
            (503, "Service Unavailable", .unavailable(.httpStatus(503, "Service Unavailable"))),
            (200, "<html>not prometheus</html>", .unavailable(.malformedResponse("the body is not JSON"))),
            (200, #"{"status":"success"}"#, .unavailable(.malformedResponse("missing status, data.resultType or data.result"))),
            (200, #"{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"abc"]}]}}"#, .unavailable(.malformedResponse("the sample value 'abc' is not a number"))),
        ])
    func parse(code: Int, body: String, expected: MetricReading) {
        #expect(PrometheusClient.parse(code: code, body: Array(body.utf8)) == expected)
    }

    @Test("every reason has a message a user can act on")
    func messages() {
        #expect(MetricUnavailable.emptyResult.description.contains("wrap it in sum(...)"))
        #expect(MetricUnavailable.multipleSeries(3).description.contains("aggregate it to one"))
        #expect(MetricUnavailable.timeout(.seconds(5)).description.contains("spec.scaling.prometheus.timeout"))
        #expect(MetricUnavailable.unreachable("connection refused").reason == "PrometheusUnreachable")
    }
}

/// A scriptable stand-in for Prometheus on loopback.
struct FakePrometheus {
    let port: Int
    let task: Task<Void, any Error>
    let seen: SeenRequests

    final class SeenRequests: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [(query: String, authorization: String)] = []
        func add(_ query: String, _ authorization: String) { lock.lock(); items.append((query, authorization)); lock.unlock() }
        var all: [(query: String, authorization: String)] { lock.lock(); defer { lock.unlock() }; return items }
    }

    static func start(delay: Duration = .zero, status: HTTPResponse.Status = .ok, body: String) async throws -> FakePrometheus {
        let router = Router()
        let seen = SeenRequests()
        router.get("api/v1/query") { request, _ -> Response in
            seen.add(request.uri.queryParameters.get("query") ?? "", request.headers[.authorization] ?? "")
            if delay > .zero { try await Task.sleep(for: delay) }
            return Response(status: status, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
        }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: Logger(label: "fake-prometheus"))
        let task = Task { try await app.run() }
        var port = 0
        for await bound in ports { port = bound; break }
        return FakePrometheus(port: port, task: task, seen: seen)
    }

    var url: URL { URL(string: "http://127.0.0.1:\(port)")! }

    func stop() async {
        task.cancel()
        _ = await task.result
    }
}

@Suite("Prometheus client over HTTP")
struct PrometheusClientTests {
    let vector = #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"7"]}]}}"#

    @Test("sends the query and a bearer token; reads the sample")
    func query() async throws {
        let fake = try await FakePrometheus.start(body: vector)
        let client = try PrometheusClient(address: fake.url, credentials: .bearer("s3cret"))
        #expect(await client.query(#"sum(rate(hello_requests_total{service="a b"}[1m]))"#) == .value(7))
        #expect(fake.seen.all.first?.query == #"sum(rate(hello_requests_total{service="a b"}[1m]))"#)
        #expect(fake.seen.all.first?.authorization == "Bearer s3cret")
        try await client.shutdown()
        await fake.stop()
    }

    @Test("basic auth is sent as such")
    func basic() async throws {
        let fake = try await FakePrometheus.start(body: vector)
        let client = try PrometheusClient(address: fake.url, credentials: .basic(username: "u", password: "p"))
        _ = await client.query("up")
        #expect(fake.seen.all.first?.authorization == "Basic dTpw")
        try await client.shutdown()
        await fake.stop()
    }

    @Test("a slow Prometheus is a timeout; a closed port is unreachable")
    func failures() async throws {
        let slow = try await FakePrometheus.start(delay: .seconds(3), body: vector)
        let client = try PrometheusClient(address: slow.url, timeout: .milliseconds(300))
        #expect(await client.query("up") == .unavailable(.timeout(.milliseconds(300))))
        try await client.shutdown()
        await slow.stop()
        let closed = try PrometheusClient(address: slow.url, timeout: .seconds(1))
        guard case .unavailable(.unreachable) = await closed.query("up") else { Issue.record("expected unreachable"); return }
        try await closed.shutdown()
    }

    @Test("HTTP errors keep Prometheus's own error text")
    func httpError() async throws {
        let fake = try await FakePrometheus.start(status: .badRequest, body: #"{"status":"error","errorType":"bad_data","error":"unknown function"}"#)
        let client = try PrometheusClient(address: fake.url)
        #expect(await client.query("nope()") == .unavailable(.queryError(errorType: "bad_data", error: "unknown function")))
        try await client.shutdown()
        await fake.stop()
    }
}
