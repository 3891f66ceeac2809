import AttnEngine
import AttnTrace
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Repeated measurements of one quantity, in the order they were taken. On a shared machine a single
/// run can be slowed by anything; the median says how fast, and the spread (min–max) how far one run
/// strayed from it. Public only for the tests (the CLI target is not built for `@testable` in release).
public struct Samples: Equatable {
    public let values: [Double]

    public init(_ values: [Double]) {
        precondition(!values.isEmpty, "no samples")
        self.values = values
    }

    /// The middle value; the mean of the two middle values of an even count.
    public var median: Double {
        let sorted = values.sorted(), m = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2
    }

    public var min: Double { values.min()! }
    public var max: Double { values.max()! }

    /// Every sample transformed (seconds → tokens/s). A rate's median is taken over the rates: for an
    /// even count the mean of two middle times is not the time of the mean of two middle rates.
    public func map(_ transform: (Double) -> Double) -> Samples { Samples(values.map(transform)) }

    /// "min–max" with `decimals` decimals (the smaller first, whatever the transform did to the order).
    public func spread(_ decimals: Int) -> String { "\(Format.fixed(min, decimals))–\(Format.fixed(max, decimals))" }
}

/// Seconds of a `Duration`, for timings.
func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }

/// The high-water resident memory of this process so far, in bytes (getrusage's `ru_maxrss`, KiB on
/// Linux): everything it ever held at once, not only a model.
func peakResidentBytes() -> Int {
    var usage = rusage()
    #if canImport(Glibc)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    return Int(usage.ru_maxrss) * 1024
}

/// The machine's 1-minute load average before and after `bench`'s runs, and whether others were
/// busy enough to disturb them.
struct MachineLoad {
    let cores: Int
    /// Cores kept busy by other processes just before the runs (nil where `/proc/stat` is missing).
    let busyCores: Double?
    let before: Double

    /// Samples the load now, before the runs: the CPU time all processes took over a quarter of a
    /// second while this one waited, and the load average.
    init() {
        cores = ProcessInfo.processInfo.activeProcessorCount
        before = Self.loadAverage()
        let start = Self.cpuTicks()
        Thread.sleep(forTimeInterval: 0.25)
        if let start, let end = Self.cpuTicks(), end.total > start.total {
            busyCores = Double(end.busy - start.busy) / Double(end.total - start.total) * Double(cores)
        } else {
            busyCores = nil
        }
    }

    static func loadAverage() -> Double {
        var loads = [0.0, 0.0, 0.0]
        return getloadavg(&loads, 3) >= 1 ? loads[0] : 0
    }

    /// Busy and total CPU ticks of all cores since boot (the first line of `/proc/stat`).
    static func cpuTicks() -> (busy: Int, total: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8), let line = text.split(separator: "\n").first,
              line.hasPrefix("cpu ") else { return nil }
        let ticks = line.split(separator: " ").dropFirst().compactMap { Int($0) }
        guard ticks.count >= 5 else { return nil }
        // user nice system idle iowait …: idle and iowait are the ticks nobody used.
        let total = ticks.reduce(0, +)
        return (total - ticks[3] - ticks[4], total)
    }

    /// "2 cores (AttnLab's kernels: AVX2), 0.02 busy with other processes just before the runs (load
    /// average 1.14 before the runs, 2.05 after)", and
    /// a warning when other processes kept more than half a core busy: timings then mostly measure
    /// the machine, and a program whose threads wait for each other spinning (`spinning`:
    /// llama.cpp) loses the most. The load average alone would also count what ran before bench (a
    /// build just finished), not only what competes with it.
    func line(spinning: String? = nil) -> String {
        let after = "load average \(Format.fixed(before, 2)) before the runs, \(Format.fixed(Self.loadAverage(), 2)) after"
        let machine = "\(cores) cores (AttnLab's kernels: \(Kernels.instructionSet))"
        guard let busyCores else { return "\(machine), \(after)" }
        var text = "\(machine), \(Format.fixed(busyCores, 2)) busy with other processes just before the runs (\(after))"
        if busyCores > 0.5 {
            text += " — a busy machine: the timings are unreliable"
            if let spinning { text += ", \(spinning)'s most (its threads wait for each other spinning)" }
        }
        return text
    }
}

/// The read bandwidth of main memory as one program sees it: `threads` threads each summing its own
/// part of a buffer far larger than the caches, as the decoder streams its weights.
enum MemoryBandwidth {
    /// Bytes per second of each of `runs` passes over a buffer of `bytes`.
    static func measure(bytes: Int = 256 << 20, threads: Int = 2, runs: Int = 5) -> Samples {
        let buffer = ReadBuffer(bytes: bytes, parts: threads)
        let clock = ContinuousClock()
        var rates: [Double] = []
        for _ in 0..<runs {
            let start = clock.now
            DispatchQueue.concurrentPerform(iterations: threads) { buffer.sum(part: $0) }
            rates.append(Double(buffer.bytes) / seconds(clock.now - start))
        }
        return Samples(rates)
    }

    /// A buffer of 64-byte lanes split into equal parts, each summed by one thread into its own slot.
    /// The sums are kept so that the reads cannot be optimized away.
    private final class ReadBuffer: @unchecked Sendable {
        typealias Lane = SIMD16<UInt32>
        let lanes: UnsafeMutableBufferPointer<Lane>
        let sums: UnsafeMutableBufferPointer<UInt32>
        let lanesPerPart: Int
        var bytes: Int { lanes.count * MemoryLayout<Lane>.stride }

        init(bytes: Int, parts: Int) {
            lanesPerPart = bytes / MemoryLayout<Lane>.stride / (2 * parts) * 2   // even: two lanes per step
            lanes = .allocate(capacity: lanesPerPart * parts)
            // Written once, so that page faults are not timed.
            lanes.initialize(repeating: Lane(repeating: 1))
            sums = .allocate(capacity: parts)
            sums.initialize(repeating: 0)
        }

        func sum(part: Int) {
            // Two accumulators, so that one add's latency does not bound the loads.
            var a = Lane(), b = Lane()
            var i = part * lanesPerPart
            let end = i + lanesPerPart
            while i < end {
                a &+= lanes[i]
                b &+= lanes[i + 1]
                i += 2
            }
            sums[part] &+= (a &+ b).wrappedSum()
        }

        deinit {
            lanes.deallocate()
            sums.deallocate()
        }
    }
}
