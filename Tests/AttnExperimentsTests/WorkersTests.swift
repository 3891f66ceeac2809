import AttnExperiments
import Foundation
import Testing

private struct Failed: Error, Equatable { let index: Int }

/// Collects what the calling thread sees, for comparing 1 worker with several.
private final class Seen {
    var taken: [Int] = []
    var discarded: [Int] = []
}

/// Jobs that sleep a pseudo-random few milliseconds each, so that with several workers they finish
/// out of order; job `failing` throws.
private func sleepy(_ i: Int, failing: Int?) throws -> Int {
    Thread.sleep(forTimeInterval: Double((i * 7919) % 5) / 1000)
    if i == failing { throw Failed(index: i) }
    return i * i
}

private func run(_ count: Int, workers: Int, failing: Int? = nil, takeFails: Int? = nil) -> (Seen, (any Error)?) {
    let seen = Seen()
    do {
        try Workers.inOrder(count, workers: workers, job: { try sleepy($0, failing: failing) }, take: { i, value in
            #expect(value == i * i)
            if i == takeFails { throw Failed(index: -i) }
            seen.taken.append(i)
        }, discard: { seen.discarded.append($0) })
        return (seen, nil)
    } catch {
        return (seen, error)
    }
}

@Suite("Jobs on several threads, taken in order")
struct WorkersTests {
    @Test("every result is taken once, in order, whatever the number of workers", arguments: [1, 2, 3, 8])
    func inOrder(workers: Int) {
        for count in [0, 1, 2, 17] {
            let (seen, error) = run(count, workers: workers)
            #expect(error == nil)
            #expect(seen.taken == Array(0..<count))
            #expect(seen.discarded == [])
        }
    }

    @Test("a failed job: the results before it are taken, the finished ones after it discarded, its error rethrown", arguments: [1, 2, 3])
    func failure(workers: Int) {
        let (seen, error) = run(17, workers: workers, failing: 5)
        #expect(error as? Failed == Failed(index: 5))
        #expect(seen.taken == Array(0..<5))
        // Jobs start in order and none starts after the failure: at most the ones already running.
        #expect(seen.discarded.allSatisfy { $0 > 25 && $0 < (5 + workers) * (5 + workers) })
        if workers == 1 { #expect(seen.discarded == []) }
    }

    @Test("a failing take stops the jobs: nothing after it is taken, the finished results are discarded", arguments: [1, 2])
    func takeFails(workers: Int) {
        let (seen, error) = run(17, workers: workers, takeFails: 3)
        #expect(error as? Failed == Failed(index: -3))
        #expect(seen.taken == [0, 1, 2])
        #expect(Set(seen.discarded).count == seen.discarded.count)
        #expect(seen.discarded.allSatisfy { $0 > 9 })
    }

}
