import Foundation

/// Independent jobs on every core, their results taken in order: how `run --all` runs lessons and
/// `gallery` draws figures on both cores while printing and writing exactly what one core would.
///
/// Each job computes its own result from its own inputs, so what a job returns does not depend on
/// the number of threads; the calling thread takes the results in index order, so neither does
/// anything done with them.
public enum Workers {
    /// The environment variable that sets the number of threads (tests run 1 and 2 and compare).
    public static let variable = "ATTNLAB_WORKERS"

    /// Threads for independent jobs: `ATTNLAB_WORKERS` if it is a positive number, else the cores
    /// this process may use.
    public static var count: Int {
        if let text = ProcessInfo.processInfo.environment[variable], let n = Int(text), n >= 1 { return n }
        return ProcessInfo.processInfo.activeProcessorCount
    }

    /// Runs `job(0)`, `job(1)`, … `job(count − 1)` on up to `workers` threads of their own, each
    /// taking the next job not yet started, and hands each result to `take` on the calling thread
    /// in index order, as soon as it and every one before it are done.
    ///
    /// A job starts only while fewer than `2 × workers` results wait to be taken or are being
    /// computed, so a long job holds back at most that many results (and what they keep, such as
    /// staging folders). After a job or `take` throws, no job starts; the jobs running are waited
    /// for, every result not taken goes to `discard` (on the calling thread), and the first error in
    /// index order is rethrown. With one worker the jobs run one at a time, in order.
    ///
    /// - Parameters:
    ///   - count: how many jobs.
    ///   - workers: threads to run them on (at least one; more than `count` are not started).
    ///   - job: computes result `i`; called on a worker thread.
    ///   - take: uses result `i`; called on the calling thread.
    ///   - discard: releases a finished result that will not be taken (e.g. removes its files).
    public static func inOrder<T: Sendable>(_ count: Int, workers: Int = Workers.count, job: @escaping @Sendable (Int) throws -> T,
                                            take: (Int, T) throws -> Void, discard: (T) -> Void = { _ in }) throws {
        let threads = max(1, min(workers, count))
        let state = JobState<T>(count: count, ahead: 2 * threads)
        state.running = count == 0 ? 0 : threads
        for _ in 0..<state.running {
            let thread = Thread { state.work(job) }
            // The main thread's usual stack: a lesson's run must not find less room here.
            thread.stackSize = 8 << 20
            thread.start()
        }
        var taken = 0
        do {
            while taken < count {
                let result = state.wait(for: taken)
                taken += 1
                try take(taken - 1, try result.get())
            }
        } catch {
            for result in state.stop(after: taken) { discard(result) }
            throw error
        }
        _ = state.stop(after: count)
    }
}

/// What the workers of one `Workers.inOrder` share, under `condition`.
private final class JobState<T: Sendable>: @unchecked Sendable {
    let condition = NSCondition()
    /// The next job no worker has started.
    var next = 0
    /// Results handed to the calling thread so far.
    var taken = 0
    /// How far `next` may run ahead of `taken`.
    let ahead: Int
    /// Workers not yet finished.
    var running = 0
    var stopped = false
    /// Result `i` once job `i` has finished, until it is taken.
    var results: [Result<T, any Error>?]

    init(count: Int, ahead: Int) {
        results = Array(repeating: nil, count: count)
        self.ahead = ahead
    }

    /// A worker's loop: the next job, until there is none or the run stopped.
    func work(_ job: (Int) throws -> T) {
        while true {
            condition.lock()
            while !stopped && next < results.count && next - taken >= ahead { condition.wait() }
            guard !stopped, next < results.count else {
                running -= 1
                condition.broadcast()
                condition.unlock()
                return
            }
            let i = next
            next += 1
            condition.unlock()
            let result = Result { try job(i) }
            condition.lock()
            results[i] = result
            if case .failure = result { stopped = true }
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Result `i`, once its job has finished. Every job before it has been taken, so job `i` has
    /// started or will: a failure stops new jobs only after the failed one, which comes first.
    func wait(for i: Int) -> Result<T, any Error> {
        condition.lock()
        defer { condition.unlock() }
        while results[i] == nil { condition.wait() }
        let result = results[i]!
        results[i] = nil
        taken = i + 1
        condition.broadcast()
        return result
    }

    /// Starts no more jobs, waits for the workers to finish, and returns the successful results
    /// from index `first` on that were not taken.
    func stop(after first: Int) -> [T] {
        condition.lock()
        defer { condition.unlock() }
        stopped = true
        // Wakes the workers waiting for room ahead: they see the stop and finish.
        condition.broadcast()
        while running > 0 { condition.wait() }
        return results[min(first, results.count)...].compactMap { try? $0?.get() }
    }
}
