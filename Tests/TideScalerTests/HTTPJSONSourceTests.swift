import Foundation
import HTTPTypes
import Hummingbird
import KubeAPI
import Logging
import Synchronization
import TideAPI
import TideScaler
import TideTestSupport
import Testing

/// An HTTP server on loopback with one route per reply shape a metric endpoint can
/// give, good and bad, and a settable live figure at `/live`.
struct MetricEndpoints {
    let port: Int
    let task: Task<Void, any Error>
    let live: LiveFigure

    final class LiveFigure: Sendable {
        let value = Mutex<Double>(0)
        let headers = Mutex<[String: String]>([:])
        func set(_ new: Double) { value.withLock { $0 = new } }
    }

    static func start() async throws -> MetricEndpoints {
        let router = Router()
        let live = LiveFigure()
        @Sendable func json(_ text: String, _ status: HTTPResponse.Status = .ok) -> Response {
            Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        @Sendable func redirect(_ location: String) -> Response { Response(status: .found, headers: [.location: location]) }
        router.get("live") { request, _ -> Response in
            var seen: [String: String] = [:]
            for field in request.headers { seen[field.name.canonicalName] = field.value }
            live.headers.withLock { $0 = seen }
            return json(#"{"data": {"orders": \#(live.value.withLock { $0 })}}"#)
        }
        router.get("secured") { request, _ -> Response in
            guard request.headers[.authorization] == "Bearer orders-token", request.headers[HTTPField.Name("X-Api-Key")!] == "key-from-secret" else {
                return json(#"{"error": "unauthorized"}"#, .unauthorized)
            }
            return json(#"{"items": [{"count": 4}, {"count": 9.5}]}"#)
        }
        router.get("html") { _, _ in Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "<html><body>orders</body></html>"))) }
        router.get("missing") { _, _ in json(#"{"data": {"queued": 3}}"#) }
        router.get("string") { _, _ in json(#"{"data": {"orders": "12"}}"#) }
        router.get("null") { _, _ in json(#"{"data": {"orders": null}}"#) }
        router.get("error") { _, _ in json(#"{"error": "database down"}"#, .internalServerError) }
        router.get("slow") { _, _ -> Response in
            try await Task.sleep(for: .seconds(3))
            return json(#"{"data": {"orders": 1}}"#)
        }
        router.get("loop-a") { _, _ in redirect("/loop-b") }
        router.get("loop-b") { _, _ in redirect("/loop-a") }
        router.get("moved") { _, _ in redirect("/live") }
        router.get("elsewhere") { _, _ in redirect("http://127.0.0.2:9/live") }
        router.get("huge") { _, _ -> Response in
            // 10 MB of a valid JSON document.
            let padding = String(repeating: "x", count: 10 * 1_024 * 1_024)
            return json(#"{"padding": "\#(padding)", "data": {"orders": 1}}"#)
        }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: Logger(label: "metric-endpoints"))
        let task = Task { try await app.run() }
        var port = 0
        for await bound in ports { port = bound; break }
        return MetricEndpoints(port: port, task: task, live: live)
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)/\(path)" }

    func stop() async {
        task.cancel()
        _ = await task.result
    }
}

func readHTTP(_ url: String, _ location: String, timeout: String = "1s", headers: [HTTPHeaderSource]? = nil, secrets: SourceSecrets = SourceSecrets()) async throws -> MetricReading {
    let source = try MetricSources.make(.http(HTTPSource(url: url, valueLocation: location, headers: headers, timeout: timeout)), secrets: secrets)
    let reading = await source.read()
    await source.shutdown()
    return reading
}

@Suite("HTTP JSON metric source")
struct HTTPJSONSourceTests {
    @Test(
        "a reply is a number at valueLocation, or a typed reason saying what is there instead",
        arguments: [
            (200, #"{"data": {"orders": 12}}"#, "data.orders", "12"),
            (200, #"{"items": [{"count": 3}, {"count": 4.5}]}"#, "items.1.count", "4.5"),
            (200, #"{"orders": -2}"#, "orders", "-2"),
            (200, #"<html>busy</html>"#, "orders", "NotJSON: the reply is not JSON (it starts \"<html>busy</html>\")"),
            (200, #"{"data": {"queued": 3}}"#, "data.orders", "ValueMissing: valueLocation data.orders is not in the reply: data has no \"orders\" (it has: queued)"),
            (200, #"{"items": []}"#, "items.0.count", "ValueMissing: valueLocation items.0.count is not in the reply: items is a list of 0; \"0\" is not an index in it"),
            (200, #"{"data": 5}"#, "data.orders", "ValueMissing: valueLocation data.orders is not in the reply: data is the number 5, which has no \"orders\""),
            (200, #"{"data": {"orders": "12"}}"#, "data.orders", "NotANumber: valueLocation data.orders holds the string \"12\", not a JSON number"),
            (200, #"{"data": {"orders": null}}"#, "data.orders", "NotANumber: valueLocation data.orders holds null, not a JSON number"),
            (200, #"{"data": {"orders": true}}"#, "data.orders", "NotANumber: valueLocation data.orders holds the boolean true, not a JSON number"),
            (200, #"{"data": {"orders": {"n": 1}}}"#, "data.orders", "NotANumber: valueLocation data.orders holds an object, not a JSON number"),
            (503, #"{"error": "draining"}"#, "orders", "EndpointHTTPError: the endpoint answered HTTP 503: {\"error\": \"draining\"}"),
        ])
    func parse(code: Int, body: String, location: String, expected: String) {
        let reading = HTTPJSONSource.parse(code: code, body: Array(body.utf8), location: location.split(separator: ".").map(String.init))
        switch reading {
        case .value(let value): #expect(ScalingAlgorithm.format(value) == expected)
        case .unavailable(let why): #expect("\(why.reason): \(why)".hasPrefix(expected), "\(why.reason): \(why)")
        }
    }

    @Test("a real hello-service process: /stats counts the requests it served, and the scaler reads them")
    func helloServiceProcess() async throws {
        let port = try freeLoopbackPort()
        let process = try startHelloService(port: port)
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        let stats = "http://127.0.0.1:\(port)/stats"
        #expect(await eventually { (try? await readHTTP(stats, "requests"))?.value != nil }, "hello-service did not start")
        for _ in 0..<7 { _ = try? await readHTTP("http://127.0.0.1:\(port)/hello", "none") }
        #expect(try await readHTTP(stats, "requests") == .value(7))
        #expect(try await readHTTP(stats, "inFlight") == .value(0))
        guard case .value(let rate) = try await readHTTP(stats, "requestsPerSecond") else {
            Issue.record("requestsPerSecond is not a number")
            return
        }
        #expect(rate >= 0)
    }

    @Test("bad replies each say why and what to do: HTML, a missing path, a string, null, HTTP 500, a timeout, a redirect loop, another host, 10 MB")
    func badReplies() async throws {
        let endpoints = try await MetricEndpoints.start()
        defer { Task { await endpoints.stop() } }
        let cases: [(path: String, reason: String, hint: String)] = [
            ("html", "NotJSON", "point http.url at an endpoint that answers JSON"),
            ("missing", "ValueMissing", "data has no \"orders\" (it has: queued)"),
            ("string", "NotANumber", "holds the string \"12\""),
            ("null", "NotANumber", "holds null"),
            ("error", "EndpointHTTPError", "HTTP 500: {\"error\": \"database down\"}"),
            ("slow", "QueryTimeout", "no answer within 1.0 seconds"),
            ("loop-a", "Redirect", "in a loop"),
            ("elsewhere", "Redirect", "to another host (http://127.0.0.2:9); credentials are only sent to http://127.0.0.1:\(endpoints.port)"),
            ("huge", "BodyTooLarge", "larger than 1024 KiB"),
        ]
        for item in cases {
            let started = ContinuousClock.now
            let reading = try await readHTTP(endpoints.url(item.path), "data.orders")
            guard case .unavailable(let why) = reading else {
                Issue.record("\(item.path) gave \(reading)")
                continue
            }
            #expect(why.reason == item.reason, "\(item.path): \(why.reason): \(why)")
            #expect("\(why)".contains(item.hint), "\(item.path): \(why)")
            #expect(ContinuousClock.now - started < .seconds(3), "\(item.path) took too long")
        }
        // A same-host redirect is followed.
        endpoints.live.set(6)
        #expect(try await readHTTP(endpoints.url("moved"), "data.orders") == .value(6))
        let unreachable = try await readHTTP("http://127.0.0.1:\(try freeLoopbackPort())/stats", "orders")
        #expect(unreachable.unavailable?.reason == "EndpointUnreachable")
    }

    @Test("the bearer token and header values come from the mounted files; literal headers are sent as given; none are logged")
    func credentialsAndHeaders() async throws {
        let endpoints = try await MetricEndpoints.start()
        defer { Task { await endpoints.stop() } }
        let headers = [
            HTTPHeaderSource(name: "X-Api-Key", valueFrom: .init(secretKeyRef: SecretKeyReference(name: "orders", key: "api-key"))),
            HTTPHeaderSource(name: "X-Tenant", value: "demo"),
        ]
        let reading = try await readHTTP(
            endpoints.url("secured"), "items.1.count", headers: headers,
            secrets: SourceSecrets(credentials: .bearer("orders-token"), headers: ["X-Api-Key": "key-from-secret"]))
        #expect(reading == .value(9.5))
        let refused = try await readHTTP(endpoints.url("secured"), "items.1.count", headers: headers,
            secrets: SourceSecrets(credentials: .bearer("wrong"), headers: ["X-Api-Key": "key-from-secret"]))
        #expect(refused.unavailable?.reason == "EndpointHTTPError")
        #expect(!"\(refused)".contains("wrong"), "the token is not in the reason")
        _ = try await readHTTP(endpoints.url("live"), "data.orders", headers: headers, secrets: SourceSecrets(headers: ["X-Api-Key": "k"]))
        #expect(endpoints.live.headers.withLock { $0["x-tenant"] } == "demo")
        // A header whose Secret is not mounted is a clear error, not a request without it.
        do {
            _ = try await readHTTP(endpoints.url("live"), "data.orders", headers: headers)
            Issue.record("a missing header value was not reported")
        } catch let error as MetricUnavailable {
            #expect(error.reason == "CredentialsUnavailable")
            #expect("\(error)".contains("X-Api-Key"))
        }
    }
}
