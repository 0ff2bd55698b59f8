import Foundation
import KubeAPI
import Testing

@Suite("Wire formats")
struct WireFormatTests {
    @Test("Time encodes whole seconds in UTC, MicroTime exactly six fractional digits")
    func timeFormats() throws {
        let date = Date(timeIntervalSince1970: 1_767_225_845.123_456_7)  // 2026-01-01T00:04:05.123456Z
        #expect(Time(date).description == "2026-01-01T00:04:05Z")
        #expect(MicroTime(date).description == "2026-01-01T00:04:05.123456Z")
        let encoded = String(decoding: try KubeJSON.encoder.encode(["t": MicroTime(date)]), as: UTF8.self)
        #expect(encoded == #"{"t":"2026-01-01T00:04:05.123456Z"}"#)
        #expect(MicroTime(Date(timeIntervalSince1970: 0)).description == "1970-01-01T00:00:00.000000Z")
    }

    @Test("RFC 3339 parsing accepts fractions and offsets and rejects garbage")
    func parsing() {
        #expect(RFC3339.parse("2026-01-01T00:04:05Z")?.timeIntervalSince1970 == 1_767_225_845)
        #expect(RFC3339.parse("2026-01-01T01:04:05+01:00")?.timeIntervalSince1970 == 1_767_225_845)
        let fractional = RFC3339.parse("2026-01-01T00:04:05.5Z")?.timeIntervalSince1970
        #expect(fractional == 1_767_225_845.5)
        for bad in ["", "2026-01-01", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00", "yesterday", "2026-01-01T00:00:00.Z"] {
            #expect(RFC3339.parse(bad) == nil, "\(bad) should not parse")
        }
        #expect(throws: DecodingError.self) { try KubeJSON.decoder.decode([String: Time].self, from: Data(#"{"t":"soon"}"#.utf8)) }
    }

    @Test("round trip of dates across leap years and centuries")
    func roundTrip() {
        for seconds in stride(from: -2_208_988_800.0, to: 4_102_444_800, by: 86_400 * 97 + 3_671) {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(RFC3339.parse(Time(date).description) == date)
        }
    }

    @Test("unset optional fields are omitted, never sent as null")
    func noNulls() throws {
        let deployment = Deployment(
            metadata: ObjectMeta(name: "hello", namespace: "demo"),
            spec: .init(
                replicas: 2, selector: LabelSelector(matchLabels: ["app": "hello"]),
                template: PodTemplateSpec(
                    metadata: ObjectMeta(labels: ["app": "hello"]),
                    spec: PodSpec(containers: [Container(name: "app", image: "hello:1")]))))
        let json = String(decoding: try KubeJSON.encoder.encode(deployment), as: UTF8.self)
        #expect(!json.contains("null"))
        #expect(!json.contains("status"))
        #expect(!json.contains("uid"))
        #expect(json.contains(#""replicas":2"#))
    }

    @Test("IntOrString keeps numbers and names apart")
    func intOrString() throws {
        let values = try KubeJSON.decoder.decode([IntOrString].self, from: Data(#"[8080,"http"]"#.utf8))
        #expect(values == [.int(8080), .string("http")])
        #expect(String(decoding: try KubeJSON.encoder.encode(values), as: UTF8.self) == #"[8080,"http"]"#)
    }

    @Test("an empty list may arrive with items null")
    func nullItems() throws {
        let list = try KubeJSON.decoder.decode(ObjectList<Namespace>.self, from: Data(#"{"metadata":{},"items":null}"#.utf8))
        #expect(list.items.isEmpty)
    }

    @Test("an item that cannot be decoded is set aside with its key and the field at fault; the others are kept")
    func undecodableItems() throws {
        let json = #"""
            {"metadata":{"resourceVersion":"9"},"items":[
              {"metadata":{"name":"a","namespace":"demo"},"spec":{"type":"ClusterIP","ports":[{"port":80}]}},
              {"metadata":{"name":"b","namespace":"demo","uid":"u-b"},"spec":{"ports":[{"port":"eighty"}]}},
              {"metadata":{"name":"c","namespace":"demo"},"spec":{"ports":[{"port":3000000000}]}},
              "not an object",
              {"metadata":{"name":"d","namespace":"demo"}}
            ]}
            """#
        let list = try KubeJSON.decoder.decode(ObjectList<Service>.self, from: Data(json.utf8))
        #expect(list.items.map(\.name) == ["a", "d"])
        #expect(list.metadata.resourceVersion == "9")
        #expect(list.undecodable.map(\.key) == ["demo/b", "demo/c", "<unnamed>"])
        #expect(list.undecodable.first?.uid == "u-b")
        #expect(list.undecodable.first?.reason.contains(".spec.ports[0].port") == true, "\(list.undecodable.first?.reason ?? "")")
        #expect(list.undecodable.dropFirst().first?.reason.contains(".spec.ports[0].port") == true, "\(list.undecodable.dropFirst().first?.reason ?? "")")
        // Encoding never includes what was set aside.
        let encoded = String(decoding: try KubeJSON.encoder.encode(list), as: UTF8.self)
        #expect(!encoded.contains("eighty") && !encoded.contains("undecodable"))
    }

    @Test("a watch event whose object cannot be decoded is its own case, and keeps the resourceVersion")
    func undecodableWatchEvent() throws {
        let event = try WatchEvent<Service>(json: Array(#"{"type":"MODIFIED","object":{"metadata":{"name":"b","resourceVersion":"42"},"spec":{"ports":"none"}}}"#.utf8))
        guard case .undecodable(let type, let object) = event else { Issue.record("expected undecodable, got \(event.typeName)"); return }
        #expect(type == "MODIFIED")
        #expect(object.resourceVersion == "42")
        #expect(object.reason.contains(".spec.ports"))
    }

    @Test("quantities are read from strings and numbers, exactly, and written as strings")
    func quantities() throws {
        let json = #"{"limits":{"cpu":1,"memory":1073741824,"gpu":"2"},"requests":{"cpu":"250m","memory":0.5}}"#
        let resources = try KubeJSON.decoder.decode(ResourceRequirements.self, from: Data(json.utf8))
        #expect(resources.limits == ["cpu": "1", "memory": "1073741824", "gpu": "2"])
        #expect(resources.requests == ["cpu": "250m", "memory": "0.5"])
        let encoded = String(decoding: try KubeJSON.encoder.encode(resources.limits ?? [:]), as: UTF8.self)
        #expect(encoded.contains(#""memory":"1073741824""#))
        #expect(throws: DecodingError.self) { try KubeJSON.decoder.decode(ResourceRequirements.self, from: Data(#"{"limits":{"cpu":true}}"#.utf8)) }
    }
}

@Suite("Label selectors")
struct LabelSelectorTests {
    @Test("parses every operator and matches like the API server")
    func parseAndMatch() throws {
        let selector = try LabelSelector(parsing: "app=hello,tier!=db,env in (prod, staging),zone notin (z1),managed,!legacy")
        #expect(selector.matches(["app": "hello", "env": "prod", "managed": "yes"]))
        #expect(!selector.matches(["app": "hello", "env": "prod"]))  // managed missing
        #expect(!selector.matches(["app": "hello", "env": "dev", "managed": "x"]))
        #expect(!selector.matches(["app": "hello", "env": "prod", "managed": "x", "tier": "db"]))
        #expect(!selector.matches(["app": "hello", "env": "prod", "managed": "x", "legacy": "1"]))
        #expect(!selector.matches(["app": "hello", "env": "prod", "managed": "x", "zone": "z1"]))
        #expect(LabelSelector().matches([:]))
    }

    @Test("query string round-trips")
    func queryString() throws {
        let selector = LabelSelector(
            matchLabels: ["b": "2", "a": "1"],
            matchExpressions: [.init(key: "c", operator: "In", values: ["y", "x"]), .init(key: "d", operator: "Exists")])
        #expect(selector.queryString == "a=1,b=2,c in (x,y),d")
        let parsed = try LabelSelector(parsing: selector.queryString)
        #expect(parsed.matches(["a": "1", "b": "2", "c": "x", "d": ""]))
    }

    @Test("bad terms are rejected with the term named")
    func badTerms() {
        #expect(throws: LabelSelectorError(term: "a in x")) { try LabelSelector(parsing: "a in x") }
        #expect(throws: LabelSelectorError.self) { try LabelSelector(parsing: "=b") }
    }
}

@Suite("JSON documents")
struct JSONValueTests {
    @Test("merge patch follows RFC 7386")
    func mergePatch() {
        let target: JSONValue = ["a": "b", "c": ["d": "e", "f": "g"], "list": [1, 2]]
        let patch: JSONValue = ["a": "z", "c": ["f": nil], "list": [3], "new": ["x": 1]]
        #expect(target.merging(patch: patch) == ["a": "z", "c": ["d": "e"], "list": [3], "new": ["x": 1]])
    }

    @Test("desired is a subset of live when every set field matches")
    func subset() {
        let live: JSONValue = ["spec": ["replicas": 2, "template": ["containers": [["name": "a", "image": "x", "tty": false]]]], "status": [:]]
        #expect((["spec": ["replicas": 2]] as JSONValue).isSubset(of: live))
        #expect((["spec": ["template": ["containers": [["name": "a"]]]]] as JSONValue).isSubset(of: live))
        #expect(!(["spec": ["replicas": 3]] as JSONValue).isSubset(of: live))
        #expect(!(["spec": ["template": ["containers": [["name": "a"], ["name": "b"]]]]] as JSONValue).isSubset(of: live))
        #expect((["n": 2] as JSONValue).isSubset(of: ["n": 2.0]))
    }

    @Test("integers survive a round trip unchanged")
    func integers() throws {
        let value = try KubeJSON.decoder.decode(JSONValue.self, from: Data(#"{"a":3,"b":3.5,"c":true,"d":null}"#.utf8))
        #expect(value == ["a": 3, "b": 3.5, "c": true, "d": nil])
        #expect(String(decoding: try KubeJSON.encoder.encode(value), as: UTF8.self) == #"{"a":3,"b":3.5,"c":true,"d":null}"#)
    }
}

@Suite("Conditions and watch events")
struct ConditionTests {
    @Test("setting a condition keeps lastTransitionTime unless the status changes")
    func transitions() {
        let early = Time(Date(timeIntervalSince1970: 1_000))
        let late = Time(Date(timeIntervalSince1970: 2_000))
        var conditions = [Condition(type: "Ready", status: "True", lastTransitionTime: early, reason: "A", message: "")]
        conditions.set(Condition(type: "Ready", status: "True", lastTransitionTime: late, reason: "B", message: "m"))
        #expect(conditions[type: "Ready"]?.lastTransitionTime == early)
        #expect(conditions[type: "Ready"]?.reason == "B")
        conditions.set(Condition(type: "Ready", status: "False", lastTransitionTime: late, reason: "C", message: ""))
        #expect(conditions[type: "Ready"]?.lastTransitionTime == late)
        #expect(conditions.count == 1)
    }

    @Test("watch events decode by type, errors as Status, bookmarks as versions")
    func watchEvents() throws {
        let added = try WatchEvent<Namespace>(json: Array(#"{"type":"ADDED","object":{"metadata":{"name":"a"}}}"#.utf8))
        #expect(added.object?.name == "a")
        let bookmark = try WatchEvent<Namespace>(json: Array(#"{"type":"BOOKMARK","object":{"kind":"Namespace","metadata":{"resourceVersion":"42"}}}"#.utf8))
        guard case .bookmark(let rv) = bookmark else { Issue.record("expected bookmark"); return }
        #expect(rv == "42")
        let error = try WatchEvent<Namespace>(json: Array(#"{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old"}}"#.utf8))
        guard case .error(let status) = error else { Issue.record("expected error"); return }
        #expect(status.code == 410)
        #expect(throws: DecodingError.self) { try WatchEvent<Namespace>(json: Array(#"{"type":"EXPLODED","object":{}}"#.utf8)) }
    }
}

@Suite("Encoding straight to JSONValue")
struct JSONValueEncoderTests {
    /// The reference: JSON text written by KubeJSON and parsed back.
    func throughText(_ value: some Encodable) throws -> JSONValue {
        try KubeJSON.decoder.decode(JSONValue.self, from: KubeJSON.encoder.encode(value))
    }

    @Test("gives what encoding to JSON text and parsing it back gives, for every kind Tide writes")
    func sameAsThroughText() throws {
        var deployment = Deployment(
            metadata: ObjectMeta(name: "hello", namespace: "demo", labels: ["a": "b"], ownerReferences: [
                OwnerReference(apiVersion: "tide.dev/v1alpha1", kind: "Application", name: "hello", uid: "u", controller: true, blockOwnerDeletion: true),
            ]),
            spec: .init(
                replicas: 3, selector: LabelSelector(matchLabels: ["a": "b"]),
                template: PodTemplateSpec(metadata: ObjectMeta(labels: ["a": "b"]), spec: PodSpec(containers: [
                    Container(
                        name: "app", image: "hello:1", ports: [ContainerPort(name: "http", containerPort: 8080, protocol: "TCP")],
                        env: [EnvVar(name: "A", value: "1")], resources: ResourceRequirements(limits: ["cpu": "1"]),
                        livenessProbe: Probe(httpGet: .init(path: "/healthz", port: .string("http")), periodSeconds: 10, failureThreshold: 3)),
                ])),
                strategy: .init(type: "Recreate")))
        deployment.status = .init(observedGeneration: 2, replicas: 3)
        #expect(try JSONValueEncoder.encode(deployment) == throughText(deployment))
        let service = Service(metadata: ObjectMeta(name: "s"), spec: .init(selector: ["a": "b"], ports: [ServicePort(name: "http", port: 80, targetPort: .int(8080))]))
        #expect(try JSONValueEncoder.encode(service) == throughText(service))
        let event = Event(
            metadata: ObjectMeta(name: "e"), eventTime: MicroTime(Date(timeIntervalSince1970: 1_767_225_845.5)), reportingController: "c",
            reportingInstance: "i", action: "a", reason: "r", regarding: ObjectReference(name: "x"), note: "n", type: "Normal")
        #expect(try JSONValueEncoder.encode(event) == throughText(event))
        let mixed: [String: [Double?]] = ["numbers": [1.0, 0.5, nil, -3]]
        #expect(try JSONValueEncoder.encode(mixed) == throughText(mixed))
        #expect(throws: EncodingError.self) { try JSONValueEncoder.encode(["x": Double.nan]) }
    }
}
