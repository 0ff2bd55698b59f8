import Foundation
import KubeAPI
import TideAPI
import TideOperator
import Testing

/// A small, seeded generator, so a failing case can be replayed from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Bad input, generated")
struct BadInputPropertyTests {
    /// A valid Application as the API server would return it.
    static func base(_ name: String) -> JSONValue {
        [
            "apiVersion": "tide.dev/v1alpha1", "kind": "Application",
            "metadata": ["name": .string(name), "namespace": "demo", "uid": .string("uid-\(name)"), "resourceVersion": "7", "generation": 1],
            "spec": [
                "image": "hello:1", "port": 8080, "env": [["name": "GREETING", "value": "World"]],
                "resources": ["limits": ["cpu": "500m", "memory": 1_073_741_824], "requests": ["cpu": 1]],
                "metrics": ["path": "/metrics", "interval": "15s"],
                "scaling": [
                    "minReplicas": 1, "maxReplicas": 5, "mode": "CronJob", "schedule": "* * * * *",
                    "prometheus": ["address": "http://prometheus:9090", "query": "sum(up)", "timeout": "5s"],
                    "target": ["type": "PerReplica", "value": "5"], "tolerance": 0.1,
                    "behavior": ["scaleUp": ["stabilizationWindowSeconds": 0, "policies": [["type": "Pods", "value": 4, "periodSeconds": 15]]]],
                ],
            ],
        ]
    }

    /// Every path of the document that holds a value (objects and arrays included).
    static func paths(_ value: JSONValue, prefix: [PathStep] = []) -> [[PathStep]] {
        var result: [[PathStep]] = prefix.isEmpty ? [] : [prefix]
        switch value {
        case .object(let fields):
            for (key, child) in fields where !(prefix.isEmpty && ["apiVersion", "kind", "metadata"].contains(key)) {
                result += paths(child, prefix: prefix + [.key(key)])
            }
        case .array(let items):
            for (index, child) in items.enumerated() { result += paths(child, prefix: prefix + [.index(index)]) }
        default:
            break
        }
        return result
    }

    enum PathStep { case key(String), index(Int) }

    static func replacing(_ document: JSONValue, at path: ArraySlice<PathStep>, with value: JSONValue) -> JSONValue {
        guard let step = path.first else { return value }
        switch (step, document) {
        case (.key(let key), .object(var fields)):
            fields[key] = replacing(fields[key] ?? .null, at: path.dropFirst(), with: value)
            return .object(fields)
        case (.index(let index), .array(var items)) where items.indices.contains(index):
            items[index] = replacing(items[index], at: path.dropFirst(), with: value)
            return .array(items)
        default:
            return document
        }
    }

    /// Values that are wrong somewhere: wrong types, extremes, empties, nulls.
    static func mutation(using generator: inout SplitMix64) -> JSONValue {
        let choices: [JSONValue] = [
            .null, .bool(true), .int(-1), .int(0), .int(3_000_000_000), .int(Int64.max), .double(1e300), .double(-0.5), .string(""),
            .string(String(repeating: "x", count: 100_000)), .string("ÄPFEL"), .string("  "), .string("500m"), .array([]), .array([.int(1)]),
            .object([:]), .object(["unexpected": .string("field")]),
        ]
        return choices[Int(generator.next() % UInt64(choices.count))]
    }

    @Test("many mutated Applications: decoding never fails the list, each bad one is set aside with a reason, the rest validate to a clear answer and build children")
    func mutatedApplications() throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["TIDE_PROPERTY_SEED"] ?? "") ?? UInt64.random(in: 0...UInt64.max)
        var generator = SplitMix64(state: seed)
        let settings = OperatorSettings(scalerImage: "tide:test")
        var undecodable = 0
        var invalid = 0
        var built = 0
        for round in 0..<20 {
            var items: [JSONValue] = []
            var goodNames: [String] = []
            for index in 0..<25 {
                let name = "app-\(round)-\(index)"
                var document = Self.base(name)
                if index % 5 == 0 {
                    goodNames.append(name)
                } else {
                    let paths = Self.paths(document)
                    for _ in 0..<(1 + Int(generator.next() % 3)) {
                        let path = paths[Int(generator.next() % UInt64(paths.count))]
                        document = Self.replacing(document, at: path[...], with: Self.mutation(using: &generator))
                    }
                    if generator.next() % 4 == 0 { document["spec"]?["unknownField"] = ["nested": true] }
                }
                items.append(document)
            }
            let list: JSONValue = ["apiVersion": "tide.dev/v1alpha1", "kind": "ApplicationList", "metadata": ["resourceVersion": "9"], "items": .array(items)]
            let data = try KubeJSON.encoder.encode(list)
            let decoded = try KubeJSON.decoder.decode(ObjectList<Application>.self, from: data)
            #expect(decoded.items.count + decoded.undecodable.count == items.count, "seed \(seed): nothing lost or duplicated")
            let names = Set(decoded.items.map(\.name))
            for name in goodNames { #expect(names.contains(name), "seed \(seed): the untouched \(name) is unaffected") }
            for failure in decoded.undecodable {
                undecodable += 1
                #expect(failure.name != nil, "seed \(seed): the bad object is named")
                #expect(!failure.reason.isEmpty && failure.reason.count < 300 && !failure.reason.contains("xxxxxxxxxx"), "seed \(seed): a short reason, never the document: \(failure.reason.prefix(200))")
                #expect(failure.reason.contains(".") , "seed \(seed): the reason names a field: \(failure.reason)")
            }
            for application in decoded.items {
                var defaulted = application
                defaulted.spec = application.spec.withDefaults
                let issues = defaulted.validate()
                if issues.isEmpty {
                    let children = try Children.desired(for: defaulted, settings: settings, serviceMonitors: true)
                    #expect(children.contains { $0.resource == Deployment.resource }, "seed \(seed)")
                    built += 1
                } else {
                    invalid += 1
                    for issue in issues {
                        #expect(issue.field.hasPrefix("spec.") || issue.field == "metadata.name", "seed \(seed): \(issue)")
                        #expect(!issue.message.isEmpty)
                    }
                }
            }
        }
        // The generator reaches every outcome, or the test proves little.
        #expect(undecodable > 0 && invalid > 0 && built > 0, "seed \(seed): \(undecodable) undecodable, \(invalid) invalid, \(built) built")
    }
}
