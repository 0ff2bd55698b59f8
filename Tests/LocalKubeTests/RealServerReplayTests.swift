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
/// paths of the body). This suite sends every step marked `replay: true`, in order, to a
/// fresh LocalKube and compares the same three things. Steps marked `replay: false` need
/// real authentication (TokenRequest, TokenReview, RBAC) and are kept for the shapes they
/// show; LocalKube does not implement those APIs.
@Suite("LocalKube answers as kube-apiserver 1.28.7 does")
struct RealServerReplayTests {
    /// One recorded request and answer.
    struct Step {
        var id: String
        var replay: Bool
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

    @Test("every replayable step gets the recorded code, Status reason and values")
    func replay() async throws {
        let steps = try Self.loadSteps()
        #expect(steps.count > 40, "the recording has its steps")
        let replayable = steps.filter(\.replay)
        #expect(replayable.count >= 30)

        let server = try await LocalKubeServer.start()
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        var differences: [String] = []
        do {
            for step in replayable {
                var request = HTTPClientRequest(url: server.url.absoluteString + step.path)
                request.method = HTTPMethod(rawValue: step.method)
                request.headers.add(name: "Accept", value: "application/json")
                if let body = step.body {
                    request.headers.add(name: "Content-Type", value: step.contentType ?? "application/json")
                    request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
                }
                let response = try await http.execute(request, timeout: .seconds(10))
                let bytes = Array(buffer: try await response.body.collect(upTo: 8 * 1024 * 1024))
                let document = (try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))) ?? .null
                var found: [String] = []
                if Int(response.status.code) != step.code {
                    found.append("code \(response.status.code), recorded \(step.code) (\(document["message"]?.stringValue ?? ""))")
                }
                if let reason = step.reason, document["reason"]?.stringValue != reason {
                    found.append("reason \(document["reason"]?.stringValue ?? "none"), recorded \(reason)")
                }
                for (path, expected) in step.paths.sorted(by: { $0.key < $1.key }) {
                    let actual = Self.value(at: path, in: document)
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
