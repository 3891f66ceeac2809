import CKernels
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Splitting work across the machine's cores. Used only where each worker computes its own output
/// from its own inputs, so the result is the same whatever the number of cores.
package enum Parallel {
    /// How many parts a split kernel cuts its outputs into. Fixed, so the parts never depend on the
    /// machine (and each output is computed whole by whichever thread takes its part, so neither
    /// do its bits). More parts than the two cores AttnLab is tuned for: a thread that finds its
    /// core busy (another process) holds back only a small part, which the other thread takes.
    package static let parts = 8

    /// Set (with `$singleThreaded.withValue(true)`) to run every split's parts in order on the calling
    /// thread: for tests that compare one thread with all cores bit for bit.
    @TaskLocal package static var singleThreaded = false

    /// Runs `body(0)`, …, `body(count − 1)` on the calling thread and the pool's workers, and returns
    /// when all have finished.
    ///
    /// Decoding one token of SmolLM2 splits about 120 products of a few tens of microseconds each: a
    /// split that wakes sleeping threads (as `DispatchQueue.concurrentPerform` does) costs about as
    /// much as the product, and two cores decoded only 1.25× faster than one. The pool's workers
    /// spin a short while after each split, so the next one starts at once, then sleep. A call made
    /// while the pool is busy (from another thread, or from inside a part) runs its parts in order
    /// on its own thread: the same results, since every part is computed whole.
    package static func forEach(_ count: Int, _ body: @Sendable (Int) -> Void) {
        if count > 1, !singleThreaded, let pool = WorkerPool.shared, pool.busy.withLockIfAvailable({ _ in pool.run(count, body) }) != nil {
            return
        }
        for i in 0..<count { body(i) }
    }
}

/// Threads that take parts of one `Parallel.forEach` at a time: one fewer than the cores this
/// process may use (the caller is the other), none on a single core.
private final class WorkerPool: @unchecked Sendable {
    static let shared: WorkerPool? = {
        let cores = Int(attn_allowed_cores())
        return cores > 1 ? WorkerPool(workers: min(cores - 1, 15)) : nil
    }()

    /// Held by the one `forEach` using the pool; others run on their own thread.
    let busy = Mutex(())
    /// Bumped for each split; workers wait for it to change.
    private let generation = Atomic<Int>(0)
    /// The split in progress.
    private let slot = Mutex<Split?>(nil)
    /// Workers asleep on `wake`, or about to be.
    private let sleeping = Atomic<Int>(0)
    private let wake = DispatchSemaphore(value: 0)

    /// How long a worker spins for the next split before it sleeps: longer than the gaps between
    /// the splits of a decoding step, far shorter than a scheduler's time slice.
    private static let spinNanoseconds: UInt64 = 200_000

    private init(workers: Int) {
        for _ in 0..<workers {
            var thread = pthread_t()
            let context = Unmanaged.passRetained(self).toOpaque()
            pthread_create(&thread, nil, { context in
                Unmanaged<WorkerPool>.fromOpaque(context!).takeRetainedValue().work()
                return nil
            }, context)
            pthread_detach(thread)
        }
    }

    /// One split: its parts are claimed one at a time by whichever thread is free.
    private final class Split: @unchecked Sendable {
        let count: Int
        /// The caller's body, valid until `done` reaches `count`.
        let body: UnsafePointer<@Sendable (Int) -> Void>
        let next = Atomic<Int>(0)
        let done = Atomic<Int>(0)

        init(count: Int, body: UnsafePointer<@Sendable (Int) -> Void>) {
            self.count = count
            self.body = body
        }

        /// Runs parts until none is left. A part is claimed before `body` is read, so a thread that
        /// comes late to a finished split never touches a body that is gone.
        func help() {
            while true {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard i < count else { return }
                run(part: i)
                done.wrappingAdd(1, ordering: .releasing)
            }
        }

        /// Calls the body in a function of its own, so that the copy of the closure the call takes
        /// is released before the part is counted done: the caller's `withoutActuallyEscaping`
        /// traps if any copy is still alive when `forEach` returns.
        @inline(never)
        private func run(part i: Int) {
            body.pointee(i)
        }
    }

    /// Publishes a split, helps with it, and waits until every part is done. Called with `busy` held.
    func run(_ count: Int, _ body: @Sendable (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            withUnsafePointer(to: body) { pointer in
                let split = Split(count: count, body: pointer)
                slot.withLock { $0 = split }
                generation.wrappingAdd(1, ordering: .sequentiallyConsistent)
                for _ in 0..<sleeping.load(ordering: .sequentiallyConsistent) { wake.signal() }
                split.help()
                var waited = 0
                while split.done.load(ordering: .acquiring) < count {
                    attn_spin_pause()
                    waited += 1
                    // A worker holding the last part may have lost its core to another process.
                    if waited % 4096 == 0 { sched_yield() }
                }
                slot.withLock { $0 = nil }
            }
        }
    }

    /// A worker's loop: spin for the next split, sleep when none comes for a while.
    private func work() {
        var seen = 0
        while true {
            var since = DispatchTime.now().uptimeNanoseconds, spun = 0
            while generation.load(ordering: .acquiring) == seen {
                attn_spin_pause()
                spun += 1
                guard spun % 256 == 0, DispatchTime.now().uptimeNanoseconds - since > Self.spinNanoseconds else { continue }
                sleeping.wrappingAdd(1, ordering: .sequentiallyConsistent)
                // A split published before the count went up is seen here; one published after it
                // signals `wake`.
                if generation.load(ordering: .sequentiallyConsistent) == seen { wake.wait() }
                sleeping.wrappingSubtract(1, ordering: .sequentiallyConsistent)
                since = DispatchTime.now().uptimeNanoseconds
            }
            seen = generation.load(ordering: .acquiring)
            slot.withLock { $0 }?.help()
        }
    }
}

/// One result slot per parallel task; each task writes only its own slot. The slots live in one
/// buffer allocated up front, so concurrent writes never touch shared array storage.
package final class TensorSlots: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<[Float]>

    package init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: [])
    }

    package func set(_ i: Int, _ value: [Float]) { slots[i] = value }

    package var values: [[Float]] { Array(slots) }

    deinit {
        slots.deinitialize()
        slots.deallocate()
    }
}
