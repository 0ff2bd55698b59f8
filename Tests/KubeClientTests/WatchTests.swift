import Foundation
import KubeAPI
import KubeClient
import LocalKube
import Testing

@Suite("Watch streams")
struct WatchTests {
    @Test("the splitter finds every object whatever the chunk boundaries")
    func splitAtEveryByte() throws {
        let events = [
            #"{"type":"ADDED","object":{"metadata":{"name":"a","annotations":{"x":"}{\"]["}}}}"#,
            #"{"type":"MODIFIED","object":{"metadata":{"name":"b\\"}}}"#,
            #"{"type":"DELETED","object":{"metadata":{"name":"c"},"list":[1,[2,{"d":[]}]]}}"#,
        ]
        let stream = Array((events.joined(separator: "\n") + "\n").utf8)
        for cut in 0...stream.count {
            for second in stride(from: cut, through: stream.count, by: 7) {
                var splitter = JSONStreamSplitter()
                var found: [[UInt8]] = []
                found += try splitter.append(stream[0..<cut])
                found += try splitter.append(stream[cut..<second])
                found += try splitter.append(stream[second...])
                #expect(found.map { String(decoding: $0, as: UTF8.self) } == events, "cut at \(cut)/\(second)")
                #expect(splitter.pendingByteCount == 0)
            }
        }
        var byteByByte = JSONStreamSplitter()
        var count = 0
        for byte in stream { count += try byteByByte.append([byte]).count }
        #expect(count == 3)
    }

    @Test("garbage between objects and oversized objects are errors, not hangs")
    func badStreams() {
        var splitter = JSONStreamSplitter()
        #expect(throws: JSONStreamError.unexpectedByte(UInt8(ascii: "x"))) { try splitter.append(Array("x{}".utf8)) }
        var small = JSONStreamSplitter(maximumObjectSize: 8)
        #expect(throws: JSONStreamError.objectTooLarge(8)) { try small.append(Array(#"{"a":"0123456789"}"#.utf8)) }
    }

    @Test("events arrive in order from a list's resourceVersion, filtered by label")
    func ordered() async throws {
        try await withLocalKube { _, client in
            let accounts = client.namespaced(ServiceAccount.self, in: "default")
            _ = try await accounts.create(ServiceAccount(metadata: ObjectMeta(name: "before", labels: ["w": "1"])))
            let list = try await accounts.list(labelSelector: "w=1")
            let stream = try await accounts.watch(resourceVersion: list.metadata.resourceVersion, labelSelector: "w=1", allowBookmarks: false)
            _ = try await accounts.create(ServiceAccount(metadata: ObjectMeta(name: "one", labels: ["w": "1"])))
            _ = try await accounts.create(ServiceAccount(metadata: ObjectMeta(name: "ignored", labels: ["w": "2"])))
            _ = try await accounts.mergePatch("one", patch: ["automountServiceAccountToken": false])
            _ = try await accounts.mergePatch("one", patch: ["metadata": ["labels": ["w": "2"]]])
            _ = try await accounts.mergePatch("ignored", patch: ["metadata": ["labels": ["w": "1"]]])
            try await accounts.delete("before")
            let events = try await collect(stream, count: 5)
            #expect(events.map(\.summary) == ["ADDED one", "MODIFIED one", "DELETED one", "ADDED ignored", "DELETED before"])
        }
    }

    @Test("without a resourceVersion the current objects come first as ADDED")
    func initialState() async throws {
        try await withLocalKube { _, client in
            let accounts = client.namespaced(ServiceAccount.self, in: "default")
            for name in ["x", "y"] { _ = try await accounts.create(ServiceAccount(metadata: ObjectMeta(name: name))) }
            let events = try await collect(try await accounts.watch(allowBookmarks: false), count: 2)
            #expect(events.map(\.summary) == ["ADDED x", "ADDED y"])
        }
    }

    @Test("a resourceVersion older than the history is an in-stream 410 ERROR event")
    func goneInStream() async throws {
        try await withLocalKube { server, client in
            let accounts = client.namespaced(ServiceAccount.self, in: "default")
            let first = try await accounts.create(ServiceAccount(metadata: ObjectMeta(name: "a")))
            _ = try await accounts.create(ServiceAccount(metadata: ObjectMeta(name: "b")))
            server.store.compactHistory()
            _ = try await accounts.create(ServiceAccount(metadata: ObjectMeta(name: "c")))
            let events = try await collect(try await accounts.watch(resourceVersion: first.metadata.resourceVersion), count: 1)
            guard case .error(let status) = events.first else { Issue.record("expected an ERROR event, got \(events.map(\.summary))"); return }
            #expect(status.code == 410)
            #expect(status.reason == "Expired")
        }
    }

    @Test("bookmarks carry the latest resourceVersion; timeoutSeconds ends the stream cleanly")
    func bookmarksAndTimeout() async throws {
        var options = LocalKubeOptions()
        options.bookmarkInterval = .milliseconds(200)
        try await withLocalKube(options: options) { server, client in
            let accounts = client.namespaced(ServiceAccount.self, in: "default")
            let list = try await accounts.list()
            _ = try await client.namespaced(Deployment.self, in: "default").create(sampleDeployment("elsewhere", namespace: "default"))
            let stream = try await accounts.watch(resourceVersion: list.metadata.resourceVersion, timeoutSeconds: 1, allowBookmarks: true)
            var bookmarks: [String] = []
            for try await event in stream {
                if case .bookmark(let rv) = event { bookmarks.append(rv) }
            }
            #expect(!bookmarks.isEmpty)
            #expect(bookmarks.last == String(server.store.resourceVersion))
        }
    }

    @Test("events written one byte per chunk over HTTP decode unchanged")
    func chunkSplitOverHTTP() async throws {
        try await withLocalKube { server, client in
            server.faults.watchChunkSize = 1
            let accounts = client.namespaced(ServiceAccount.self, in: "default")
            let stream = try await accounts.watch(resourceVersion: String(server.store.resourceVersion), allowBookmarks: false)
            for index in 0..<20 {
                _ = try await accounts.create(ServiceAccount(metadata: ObjectMeta(name: "sa-\(index)", annotations: ["note": "quote \" brace } bracket ] \(index)"])))
            }
            let events = try await collect(stream, count: 20)
            #expect(events.map(\.summary) == (0..<20).map { "ADDED sa-\($0)" })
            #expect(events.last?.object?.metadata.annotations?["note"] == "quote \" brace } bracket ] 19")
        }
    }

    @Test("a dropped watch ends the stream with a transport error")
    func dropped() async throws {
        try await withLocalKube { server, client in
            let stream = try await client.namespaced(ServiceAccount.self, in: "default").watch(resourceVersion: String(server.store.resourceVersion))
            try await Task.sleep(for: .milliseconds(100))
            #expect(server.store.dropAllWatches() == 1)
            await #expect(throws: KubeError.self) { for try await _ in stream {} }
        }
    }
}
