import Dispatch

/// Splitting work across the machine's cores. Used only where each worker writes its own part of the
/// output, so the result is the same whatever the number of cores.
enum Parallel {
    static let cores: Int = {
        #if canImport(Glibc) || canImport(Darwin)
        return max(1, min(8, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
        #else
        return 1
        #endif
    }()

    static func forEach(_ count: Int, _ body: @Sendable (Int) -> Void) {
        DispatchQueue.concurrentPerform(iterations: count, execute: body)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
