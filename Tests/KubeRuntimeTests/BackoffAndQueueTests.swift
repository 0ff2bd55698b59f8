import Foundation
import KubeRuntime
import KubeSupport
import Synchronization
import Testing

/// Lets tasks spawned by the code under test run before the next step.
func settle(_ rounds: Int = 50) async {
    for _ in 0..<rounds { await Task.yield() }
}

@Suite("Backoff")
struct BackoffTests {
    @Test("doubles from 0.8 s to a 30 s cap, and resets after two healthy minutes")
    func growsAndResets() {
        var backoff = Backoff(jitter: 0)
        var now = Duration.zero
        var delays: [Duration] = []
        for _ in 0..<8 {
            delays.append(backoff.next(now: now))
            now += .seconds(1)
        }
        #expect(delays == [.milliseconds(800), .milliseconds(1_600), .milliseconds(3_200), .milliseconds(6_400), .milliseconds(12_800), .milliseconds(25_600), .seconds(30), .seconds(30)])
        now += .seconds(118)
        #expect(backoff.next(now: now) == .seconds(30), "less than two minutes since the last failure")
        now += .seconds(120)
        #expect(backoff.next(now: now) == .milliseconds(800), "two healthy minutes reset the backoff")
    }

    @Test("jitter stays within its band")
    func jitter() {
        var backoff = Backoff(jitter: 0.25)
        #expect(backoff.next(now: .zero, random: 1) == .milliseconds(1_000))
        var again = Backoff(jitter: 0.25)
        #expect(again.next(now: .zero, random: -1) == .milliseconds(600))
        for _ in 0..<100 {
            var sample = Backoff(jitter: 0.25)
            let delay = sample.next(now: .zero)
            #expect(delay >= .milliseconds(600) && delay <= .milliseconds(1_000))
        }
    }
}

@Suite("Work queue")
struct WorkQueueTests {
    @Test("duplicate adds merge into one entry")
    func merge() async {
        let queue = WorkQueue<String>(clock: ManualClock())
        for _ in 0..<5 { await queue.add("a") }
        await queue.add("b")
        #expect(await queue.depth == 2)
        #expect(await queue.next() == "a")
        #expect(await queue.next() == "b")
    }

    @Test("a key added while it runs runs again afterwards, never on two workers at once")
    func rerunWhenChanged() async {
        let queue = WorkQueue<String>(clock: ManualClock())
        await queue.add("a")
        let first = await queue.next()
        #expect(first == "a")
        await queue.add("a")
        #expect(await queue.depth == 0, "not handed out while a worker has it")
        await queue.done("a")
        #expect(await queue.depth == 1)
        #expect(await queue.next() == "a")
    }

    @Test("property: under random adds and many workers no key runs twice at once and every add is honoured")
    func concurrentWorkers() async {
        let queue = WorkQueue<Int>(clock: ManualClock())
        let inFlight = Locked<Set<Int>>([])
        let overlaps = Locked(0)
        let runs = Locked<[Int: Int]>([:])
        let lastAdd = Locked<[Int: Int]>([:])
        let lastRunStart = Locked<[Int: Int]>([:])
        let tick = Locked(0)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    while let key = await queue.next() {
                        let fresh = inFlight.withLock { $0.insert(key).inserted }
                        if !fresh { overlaps.withLock { $0 += 1 } }
                        let now = tick.withLock { $0 += 1; return $0 }
                        lastRunStart.withLock { $0[key] = now }
                        runs.withLock { $0[key, default: 0] += 1 }
                        await Task.yield()
                        inFlight.withLock { _ = $0.remove(key) }
                        await queue.done(key)
                    }
                }
            }
            for _ in 0..<2_000 {
                let key = Int.random(in: 0..<20)
                let now = tick.withLock { $0 += 1; return $0 }
                lastAdd.withLock { $0[key] = now }
                await queue.add(key)
                if Bool.random() { await Task.yield() }
            }
            // Let the workers drain (bounded), then stop them. A key added while a
            // worker had it is queued again only when that worker finishes.
            let deadline = ContinuousClock.now + .seconds(5)
            while ContinuousClock.now < deadline {
                let honoured = lastAdd.value.allSatisfy { key, added in (lastRunStart.value[key] ?? 0) > added }
                if honoured, await queue.depth == 0, inFlight.value.isEmpty { break }
                try? await Task.sleep(for: .milliseconds(1))
            }
            await queue.shutDown()
        }
        #expect(overlaps.withLock { $0 } == 0)
        // Every key's last add was followed by a run that started after it.
        for (key, added) in lastAdd.withLock({ $0 }) {
            #expect((lastRunStart.withLock { $0[key] } ?? 0) > added, "key \(key) lost its last add")
        }
    }

    @Test("failures back off per key: 5 ms doubling, forget resets")
    func perKeyBackoff() async {
        let clock = ManualClock()
        var limit = RateLimit()
        limit.bucketBurst = 1_000
        let queue = WorkQueue<String>(clock: clock, rateLimit: limit)
        var waits: [Duration] = []
        for _ in 0..<4 {
            await queue.addRateLimited("k")
            await settle()
            var waited = Duration.zero
            while await queue.depth == 0 && waited < .seconds(1) {
                clock.advance(by: .milliseconds(1))
                waited += .milliseconds(1)
                await settle(10)
            }
            waits.append(waited)
            _ = await queue.next()
            await queue.done("k")
        }
        #expect(waits == [.milliseconds(5), .milliseconds(10), .milliseconds(20), .milliseconds(40)])
        #expect(await queue.failureCount("k") == 4)
        await queue.forget("k")
        #expect(await queue.failureCount("k") == 0)
        #expect(RateLimit().delay(afterFailures: 30) == .seconds(1_000), "capped")
    }

    @Test("the global token bucket spaces retries once the burst is spent")
    func tokenBucket() async {
        let clock = ManualClock()
        var limit = RateLimit()
        limit.baseDelay = .zero
        limit.bucketRate = 10
        limit.bucketBurst = 5
        let queue = WorkQueue<Int>(clock: clock, rateLimit: limit)
        for key in 0..<7 { await queue.addRateLimited(key) }
        await settle()
        #expect(await queue.depth == 5, "the burst goes at once")
        clock.advance(by: .milliseconds(100))
        await settle()
        #expect(await queue.depth == 6, "then one per 100 ms")
        clock.advance(by: .milliseconds(100))
        await settle()
        #expect(await queue.depth == 7)
    }

    @Test("delayed adds wait on the clock; the earlier of two delays wins")
    func delayed() async {
        let clock = ManualClock()
        let queue = WorkQueue<String>(clock: clock)
        await queue.add("a", after: .seconds(10))
        await queue.add("a", after: .seconds(2))
        await queue.add("a", after: .seconds(5))
        await settle()
        clock.advance(by: .seconds(1))
        await settle()
        #expect(await queue.depth == 0)
        clock.advance(by: .seconds(1))
        await settle()
        #expect(await queue.depth == 1)
        clock.advance(by: .seconds(20))
        await settle()
        _ = await queue.next()
        #expect(await queue.depth == 0, "later delays were dropped")
    }

    @Test("shutting down releases waiting workers")
    func shutdown() async {
        let queue = WorkQueue<String>(clock: ManualClock())
        async let waiting = queue.next()
        await settle()
        await queue.shutDown()
        #expect(await waiting == nil)
        await queue.add("late")
        #expect(await queue.next() == nil)
    }
}
