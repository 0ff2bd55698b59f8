import AsyncHTTPClient
import Foundation
import KubeAPI
import LocalKube
import NIOCore
import NIOHTTP1
import Testing

/// Holds LocalKube against what an upstream kube-apiserver 1.28.7 answered.
///
/// `Recordings/kube-apiserver-1.28.7.jsonl` is a transcript of a real server: its first
/// line describes the recording, every other line is one request and the answer it got
/// (status code, the `Status` reason when the body was one, and the values at a few dot
/// paths of the body). This suite sends every step, in order, to a fresh LocalKube and
/// compares the same three things. The steps marked `replay: false` need authentication
/// and authorization (TokenRequest, TokenReview, SubjectAccessReview, RBAC), which
/// LocalKube implements: a step whose `auth` names a token sends the token an earlier
/// TokenRequest step got (`scraperToken`: the token of ServiceAccount `scraper`).
@Suite("LocalKube answers as kube-apiserver 1.28.7 does")
struct RealServerReplayTests {
    /// One recorded request and answer.
    struct Step {
        var id: String
        var replay: Bool
        /// `admin`, or the name of a token an earlier step obtained.
        var auth: String
        var method: String
        var path: String
        var contentType: String?
        var body: JSONValue?
        var code: Int
        var reason: String?
        var paths: [String: JSONValue]
    }

    /// Steps whose difference from the real server cannot matter to Tide, with why.
    /// Empty: every replayed step matches.
    static let knownDifferences: [String: String] = [:]

    static var recording: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Recordings/kube-apiserver-1.28.7.jsonl")
    }

    static func loadSteps() throws -> [Step] {
        let text = try String(contentsOf: recording, encoding: .utf8)
        var steps: [Step] = []
        for line in text.split(separator: "\n") where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let value = try JSONDecoder().decode(JSONValue.self, from: Data(line.utf8))
            guard let request = value["request"], let response = value["response"] else { continue }
            steps.append(Step(
                id: value["id"]?.stringValue ?? "?",
                replay: value["replay"]?.boolValue ?? false,
                auth: request["auth"]?.stringValue ?? "admin",
                method: request["method"]?.stringValue ?? "GET",
                path: request["path"]?.stringValue ?? "/",
                contentType: request["contentType"]?.stringValue,
                body: request["body"].flatMap { $0 == .null ? nil : $0 },
                code: Int(response["code"]?.intValue ?? 0),
                reason: response["status"]?["reason"]?.stringValue,
                paths: response["paths"]?.objectValue ?? [:]))
        }
        return steps
    }

    /// The value at a recorded dot path: keys, list indexes, and `list[?key$=suffix]`
    /// (the list's items whose `key` ends with `suffix`).
    static func value(at path: String, in document: JSONValue) -> JSONValue? {
        var current: JSONValue? = document
        for part in path.split(separator: ".", omittingEmptySubsequences: false).map(String.init) {
            guard let value = current else { return nil }
            if let open = part.firstIndex(of: "["), part.hasSuffix("]") {
                let key = String(part[..<open])
                let filter = part[part.index(after: open)..<part.index(before: part.endIndex)]
                guard filter.hasPrefix("?"), let marker = filter.range(of: "$=") else { return nil }
                let field = String(filter[filter.index(after: filter.startIndex)..<marker.lowerBound])
                let suffix = String(filter[marker.upperBound...])
                let items = value[key]?.arrayValue ?? []
                current = .array(items.filter { $0[field]?.stringValue?.hasSuffix(suffix) == true })
            } else if let index = Int(part), let items = value.arrayValue {
                current = index < items.count ? items[index] : nil
            } else {
                current = value[part]
            }
        }
        return current
    }

    /// Equality of JSON values where `2` and `2.0` are the same number.
    static func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.int(let x), .double(let y)), (.double(let y), .int(let x)): return Double(x) == y
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case (.object(let x), .object(let y)):
            return x.count == y.count && x.allSatisfy { key, value in y[key].map { same(value, $0) } ?? false }
        default: return a == b
        }
    }

    static func text(_ value: JSONValue?) -> String {
        guard let value else { return "absent" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? String(decoding: encoder.encode(value), as: UTF8.self)) ?? "\(value)"
    }

    /// The recording server's own URL, which a token's default audience names; LocalKube
    /// names its own.
    static let recordedServerURL = "https://127.0.0.1:16443"

    @Test("every step, authentication and RBAC included, gets the recorded code, Status reason and values")
    func replay() async throws {
        let steps = try Self.loadSteps()
        #expect(steps.count > 40, "the recording has its steps")
        let replayable = steps
        #expect(steps.filter(\.replay).count >= 30)
        #expect(steps.contains { !$0.replay && $0.auth != "admin" }, "a step sends a ServiceAccount's token")
        var tokens: [String: String] = [:]

        let server = try await LocalKubeServer.start()
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        var differences: [String] = []
        do {
            for step in replayable {
                var request = HTTPClientRequest(url: server.url.absoluteString + step.path)
                request.method = HTTPMethod(rawValue: step.method)
                request.headers.add(name: "Accept", value: "application/json")
                if step.auth != "admin" {
                    guard let token = tokens[step.auth] else {
                        differences.append("\(step.id): no earlier step obtained \(step.auth)")
                        continue
                    }
                    request.headers.add(name: "Authorization", value: "Bearer \(token)")
                }
                if var body = step.body {
                    // A body may name a saved token: `{{scraperToken}}`.
                    if let text = body.value(atPath: ["spec", "token"])?.stringValue, text.hasPrefix("{{"), text.hasSuffix("}}") {
                        body.setValue(.string(tokens[String(text.dropFirst(2).dropLast(2))] ?? ""), atPath: ["spec", "token"])
                    }
                    request.headers.add(name: "Content-Type", value: step.contentType ?? "application/json")
                    request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
                }
                let response = try await http.execute(request, timeout: .seconds(10))
                let bytes = Array(buffer: try await response.body.collect(upTo: 8 * 1024 * 1024))
                let document = (try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))) ?? .null
                let segments = step.path.split(separator: "/")
                if segments.count == 7, segments[4] == "serviceaccounts", segments[6] == "token",
                    let token = document.value(atPath: ["status", "token"])?.stringValue
                {
                    tokens["\(segments[5])Token"] = token
                }
                var found: [String] = []
                if Int(response.status.code) != step.code {
                    found.append("code \(response.status.code), recorded \(step.code) (\(document["message"]?.stringValue ?? ""))")
                }
                if let reason = step.reason, document["reason"]?.stringValue != reason {
                    found.append("reason \(document["reason"]?.stringValue ?? "none"), recorded \(reason)")
                }
                for (path, recorded) in step.paths.sorted(by: { $0.key < $1.key }) {
                    let actual = Self.value(at: path, in: document)
                    let expected = recorded == [.string(Self.recordedServerURL)] ? [.string(server.url.absoluteString)] : recorded
                    if expected["$absent"] == .bool(true) {
                        if actual != nil { found.append("\(path) is \(Self.text(actual)), recorded absent") }
                    } else if actual.map({ !Self.same($0, expected) }) ?? true {
                        found.append("\(path) is \(Self.text(actual)), recorded \(Self.text(expected))")
                    }
                }
                if !found.isEmpty, Self.knownDifferences[step.id] == nil {
                    differences.append("\(step.id) (\(step.method) \(step.path)): " + found.joined(separator: "; "))
                }
            }
        } catch {
            differences.append("replay stopped: \(error)")
        }
        try await http.shutdown()
        await server.stop()
        #expect(differences.isEmpty, "LocalKube differs from kube-apiserver 1.28.7:\n\(differences.joined(separator: "\n"))")
    }

    @Test("the path reader reads keys, indexes and suffix filters as the recording means them")
    func pathReader() {
        let document: JSONValue = [
            "a": ["b": [1, 2, 3]],
            "resources": [["name": "samples"], ["name": "samples/scale"], ["name": "samples/status"]],
        ]
        #expect(Self.value(at: "a.b.1", in: document) == .int(2))
        #expect(Self.value(at: "a.c", in: document) == nil)
        #expect(Self.value(at: "resources[?name$=/scale]", in: document) == [["name": "samples/scale"]])
        #expect(Self.same(.int(2), .double(2)))
        #expect(!Self.same(["x": 1], ["x": 1, "y": 2]))
    }
}
