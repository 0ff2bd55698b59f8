import Foundation
import KubeAPI
import LocalKube
import TideAPI
import Testing

@Suite("The Application CRD")
struct CRDTests {
    func crd() throws -> JSONValue {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("crds/application.yaml"), encoding: .utf8)
        return try #require(try ManifestLoader.objects(in: text).first)
    }

    /// Walks every schema node: a structural schema gives each one a type (or
    /// int-or-string / preserve-unknown-fields), as the API server requires.
    func checkStructural(_ schema: JSONValue, path: String, into problems: inout [String]) {
        let exempt = schema["x-kubernetes-int-or-string"] == true || schema["x-kubernetes-preserve-unknown-fields"] == true
        if schema["type"] == nil && !exempt { problems.append("\(path) has no type") }
        for (name, child) in schema["properties"]?.objectValue ?? [:] { checkStructural(child, path: "\(path).\(name)", into: &problems) }
        if let items = schema["items"] { checkStructural(items, path: "\(path)[]", into: &problems) }
        if let additional = schema["additionalProperties"], case .object = additional { checkStructural(additional, path: "\(path).*", into: &problems) }
        if let required = schema["required"]?.arrayValue {
            for field in required.compactMap(\.stringValue) where schema["properties"]?[field] == nil {
                problems.append("\(path) requires undeclared \(field)")
            }
        }
    }

    @Test("structural schema, subresources, printer columns, names and the CEL rule")
    func shape() throws {
        let crd = try crd()
        #expect(crd["apiVersion"] == "apiextensions.k8s.io/v1")
        #expect(crd.value(atPath: ["spec", "names", "shortNames"]) == ["tapp"])
        #expect(crd.value(atPath: ["spec", "names", "categories"])?.arrayValue?.contains("tide") == true)
        let version = try #require(crd.value(atPath: ["spec", "versions"])?.arrayValue?.first)
        #expect(version.value(atPath: ["subresources", "scale", "specReplicasPath"]) == ".spec.replicas")
        #expect(version.value(atPath: ["subresources", "scale", "statusReplicasPath"]) == ".status.replicas")
        #expect(version.value(atPath: ["subresources", "scale", "labelSelectorPath"]) == ".status.selector")
        #expect(version.value(atPath: ["subresources", "status"]) == [:])
        let columns = version["additionalPrinterColumns"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
        #expect(columns == ["Ready", "Replicas", "Desired", "Metric", "Age"])
        let schema = try #require(version.value(atPath: ["schema", "openAPIV3Schema"]))
        var problems: [String] = []
        checkStructural(schema, path: "", into: &problems)
        #expect(problems.isEmpty, "\(problems)")
        let scaling = try #require(schema.value(atPath: ["properties", "spec", "properties", "scaling"]))
        #expect(scaling["x-kubernetes-validations"]?.arrayValue?.first?["rule"]?.stringValue?.contains("self.maxReplicas >= self.minReplicas") == true)
        #expect(scaling.value(atPath: ["properties", "mode", "enum"]) == ["CronJob", "Continuous", "HPA"])
        #expect(scaling.value(atPath: ["properties", "target", "properties", "type", "enum"]) == ["PerReplica", "Total"])
        #expect(scaling.value(atPath: ["properties", "onMetricUnavailable", "enum"]) == ["Hold", "Fallback"])
        #expect(schema.value(atPath: ["properties", "spec", "required"]) == ["image"])
    }
}

@Suite("The Autoscaler CRD")
struct AutoscalerCRDTests {
    @Test("it is made from the Application's (one scaling schema for both kinds), structural, with the target required and its printer columns; TIDE_WRITE_CRDS=1 writes it")
    func generated() throws {
        let application = try CRDTests().crd()
        let expected = try #require(AutoscalerCRD.make(fromApplicationCRD: application))
        let url = repositoryRoot.appendingPathComponent("crds/autoscaler.yaml")
        if ProcessInfo.processInfo.environment["TIDE_WRITE_CRDS"] == "1" {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let json = String(decoding: try encoder.encode(expected), as: UTF8.self)
            try ("# Generated from application.yaml by AutoscalerCRD.make (TIDE_WRITE_CRDS=1 swift test --filter AutoscalerCRD); do not edit.\n" + json + "\n")
                .write(to: url, atomically: true, encoding: .utf8)
        }
        let shipped = try #require(try ManifestLoader.objects(in: String(contentsOf: url, encoding: .utf8)).first)
        #expect(shipped == expected, "crds/autoscaler.yaml is not what AutoscalerCRD.make gives: run TIDE_WRITE_CRDS=1 swift test --filter AutoscalerCRD")
        let schema = try #require(shipped["spec"]?["versions"]?.arrayValue?.first?["schema"]?["openAPIV3Schema"])
        var problems: [String] = []
        CRDTests().checkStructural(schema, path: "", into: &problems)
        #expect(problems.isEmpty, "\(problems)")
        // The scaling spec is the Application's, field for field.
        let scaling = try #require(application["spec"]?["versions"]?.arrayValue?.first?["schema"]?["openAPIV3Schema"]?["properties"]?["spec"]?["properties"]?["scaling"])
        var fields = schema["properties"]?["spec"]?["properties"]?.objectValue ?? [:]
        #expect(fields.removeValue(forKey: "scaleTargetRef") != nil && fields.removeValue(forKey: "observe") != nil)
        #expect(JSONValue.object(fields) == scaling["properties"])
        #expect(schema["properties"]?["spec"]?["required"]?.arrayValue?.contains("scaleTargetRef") == true)
        let columns = shipped["spec"]?["versions"]?.arrayValue?.first?["additionalPrinterColumns"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
        #expect(columns == ["Target", "Mode", "Observe", "Replicas", "Desired", "Metric", "Observation", "Age"])
        #expect(shipped["spec"]?["names"]?["shortNames"] == ["tas"] && shipped["spec"]?["names"]?["categories"] == ["tide", "all"])
    }
}
