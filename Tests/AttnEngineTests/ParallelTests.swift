import AttnEngine
import Dispatch
import Synchronization
import Testing

/// `Parallel.forEach` runs every part exactly once and returns only when all are done — with the pool
/// free, from inside a part (the pool busy: the parts run on the caller), and from several threads
/// at once.
@Suite("Parallel.forEach: every part once, however it is called")
struct ParallelTests {
    /// Runs `forEach(count)` and returns how often each index ran, read after it returned.
    static func runs(_ count: Int, inner: Int = 0) -> [Int] {
        let seen = Counts(count)
        Parallel.forEach(count) { i in
            if inner > 0 { #expect(ParallelTests.runs(inner) == Array(repeating: 1, count: inner)) }
            seen.counts.withLock { $0[i] += 1 }
        }
        return seen.counts.withLock { $0 }
    }

    /// How often each index ran.
    final class Counts: Sendable {
        let counts: Mutex<[Int]>
        init(_ count: Int) { counts = Mutex(Array(repeating: 0, count: count)) }
    }

    @Test("each index once, for counts 0 to 64, many times over")
    func once() {
        for round in 0..<20 {
            for count in 0...64 { #expect(Self.runs(count) == Array(repeating: 1, count: count), "count \(count), round \(round)") }
        }
    }

    @Test("a split inside a part runs on the caller and finishes")
    func nested() {
        #expect(Self.runs(8, inner: 5) == Array(repeating: 1, count: 8))
    }

    @Test("four threads splitting at once")
    func concurrent() {
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for count in 0..<300 { #expect(Self.runs(count % 17) == Array(repeating: 1, count: count % 17)) }
        }
    }
}
