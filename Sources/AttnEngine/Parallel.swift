import Dispatch

/// Splitting work across the machine's cores. Used only where each worker computes its own output
/// from its own inputs, so the result is the same whatever the number of cores.
enum Parallel {
    static func forEach(_ count: Int, _ body: @Sendable (Int) -> Void) {
        DispatchQueue.concurrentPerform(iterations: count, execute: body)
    }
}

/// One result slot per parallel task; each task writes only its own slot.
final class TensorSlots: @unchecked Sendable {
    private var slots: [[Float]]
    init(count: Int) { slots = Array(repeating: [], count: count) }
    func set(_ i: Int, _ value: [Float]) { slots.withUnsafeMutableBufferPointer { $0[i] = value } }
    var values: [[Float]] { slots }
}
