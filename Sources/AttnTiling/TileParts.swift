import AttnEngine

/// Independent parts of a pass (row blocks of Q, chunks of rows) spread over the cores. Each part
/// computes its own outputs from its own inputs and counts in a memory of its own
/// (`MemoryHierarchy.part`); the memories are appended in part order afterwards. So every value,
/// count and step is what running the parts one after another gives, whichever core ran which part
/// and however many cores there are.
enum TileParts {
    /// Runs `body(t)` for t in 0..<count, on all cores unless `TiledAttention.singleThreaded`. Parts
    /// write disjoint outputs.
    static func forEach(_ count: Int, _ body: (Int) -> Void) {
        if TiledAttention.singleThreaded || count < 2 {
            for t in 0..<count { body(t) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let shared = Unchecked(body)
            Parallel.forEach(count) { shared.value($0) }
        }
    }

    /// Runs `count` parts, part t counting in a fresh `memory.part()`, then appends those memories
    /// to `memory` in order. Returns each part's result, in order.
    static func map<T>(_ count: Int, memory: MemoryHierarchy, _ body: (Int, MemoryHierarchy) -> T) -> [T] {
        let memories = (0..<count).map { _ in memory.part() }
        let results = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
        results.initialize(repeating: nil)
        defer { results.deinitialize().deallocate() }
        forEach(count) { t in results[t] = body(t, memories[t]) }
        for part in memories { memory.append(part) }
        return results.map { $0! }
    }
}

/// A value handed to the worker threads of one `TileParts.forEach`: the pointers and memories the
/// parts share are each written by one part only.
private struct Unchecked<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
