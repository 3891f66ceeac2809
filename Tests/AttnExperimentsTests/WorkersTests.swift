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
        // Jobs start in order, at most 2 × workers ahead of the next result taken, and none after
        // the failure: only jobs 6 ..< 5 + 2 × workers can have finished.
        #expect(seen.discarded.allSatisfy { $0 > 25 && $0 < (5 + 2 * workers) * (5 + 2 * workers) })
        if workers == 1 { #expect(seen.discarded == []) }
    }

    /// Every worker is waiting for room ahead (results 1… are done, 0 is slow) when the first
    /// `take` throws: the stop must wake them. (With one worker, nothing runs ahead of job 0.)
    @Test("a take failing while every worker waits for room ahead returns", arguments: [2, 3])
    func takeFailsWhileWorkersWait(workers: Int) {
        var discarded: [Int] = []
        do {
            try Workers.inOrder(40, workers: workers, job: { i in
                if i == 0 { Thread.sleep(forTimeInterval: 0.2) }
                return i
            }, take: { _, _ in throw Failed(index: 0) }, discard: { discarded.append($0) })
            Issue.record("no error")
        } catch {
            #expect(error as? Failed == Failed(index: 0))
        }
        // Jobs 1 up to the 2 × workers allowed ahead had finished, and taking result 0 made room
        // for one more that may have started before the stop; none after it.
        #expect(discarded == Array(1..<(2 * workers)) || discarded == Array(1...(2 * workers)), "\(discarded)")
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
