import Dispatch

/// Splitting work across the machine's cores. Used only where each worker computes its own output
/// from its own inputs, so the result is the same whatever the number of cores.
package enum Parallel {
    /// How many parts a split kernel cuts its outputs into. Fixed, so the parts never depend on the
    /// machine (and each output is computed whole by whichever thread takes its part, so neither
    /// do its bits). More parts than the two cores AttnLab is tuned for: a thread that finds its
    /// core busy (another process) holds back only a small part, which the other thread takes.
    package static let parts = 8

    package static func forEach(_ count: Int, _ body: @Sendable (Int) -> Void) {
        DispatchQueue.concurrentPerform(iterations: count, execute: body)
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
