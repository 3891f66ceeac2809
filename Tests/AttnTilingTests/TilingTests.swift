import AttnEngine
import AttnTiling
import Foundation
import Testing

func run(_ algo: TileAlgorithm, n: Int, d: Int = 16, M: Int, q: Int = 1, kv: Int = 1, causal: Bool = false,
         blocks: BlockSizes? = nil, backward: Bool = false, record: Bool = false, watch: Int? = nil, check: Bool = true) throws -> TileResult {
    let p = try TileProblem(n: n, d: d, qHeads: q, kvHeads: kv, causal: causal, seed: 3)
    var o = TileOptions(algorithm: algo, sramElements: M)
    o.blocks = blocks
    o.backward = backward
    o.recordSteps = record
    o.watchRow = watch
    o.check = check
    return try TiledAttention.run(p, o)
}

func ceilDiv(_ a: Int, _ b: Int) -> Int { (a + b - 1) / b }

@Suite("Tiled attention: outputs")
struct TilingOutputTests {
    static let cases: [(TileAlgorithm, Int, Bool, Int, Int)] = [
        (.naive, 64, false, 1, 1), (.fa1, 64, false, 1, 1), (.fa2, 64, false, 1, 1),
        (.naive, 100, true, 1, 1), (.fa1, 100, true, 1, 1), (.fa2, 100, true, 1, 1),
        (.fa1, 77, true, 4, 2), (.fa2, 77, true, 6, 2), (.naive, 77, true, 4, 1), (.fa2, 50, false, 3, 3),
    ]

    @Test("O equals the float64 reference to 1e-5 (ragged N, causal, GQA)", arguments: cases)
    func matchesReference(algo: TileAlgorithm, n: Int, causal: Bool, q: Int, kv: Int) throws {
        let r = try run(algo, n: n, M: 1024, q: q, kv: kv, causal: causal)
        let err = try #require(r.maxAbsError)
        #expect(err <= 1e-5, "\(algo) N=\(n): \(err)")
        #expect(r.checkedRows == n)
    }

    @Test("naive, FA1 and FA2 agree with each other")
    func agree() throws {
        for causal in [false, true] {
            let a = try run(.naive, n: 90, M: 2000, q: 4, kv: 2, causal: causal)
            let b = try run(.fa1, n: 90, M: 2000, q: 4, kv: 2, causal: causal)
            let c = try run(.fa2, n: 90, M: 2000, q: 4, kv: 2, causal: causal)
            #expect(zip(a.o, b.o).allSatisfy { abs($0 - $1) <= 2e-6 })
            #expect(zip(a.o, c.o).allSatisfy { abs($0 - $1) <= 2e-6 })
        }
    }

    @Test("an independent float64 attention, written here, agrees on a small causal case")
    func independentReference() throws {
        let n = 9, d = 4
        let p = try TileProblem(n: n, d: d, causal: true, seed: 8)
        var o = TileOptions(algorithm: .fa1, sramElements: 80)
        o.blocks = BlockSizes(br: 2, bc: 3)
        let r = try TiledAttention.run(p, o)
        for t in 0..<n {
            var w = (0...t).map { c in (0..<d).reduce(0.0) { $0 + Double(p.q[t * d + $1]) * Double(p.k[c * d + $1]) } / 2 }
            let m = w.max()!
            w = w.map { exp($0 - m) }
            let z = w.reduce(0, +)
            for e in 0..<d {
                let expected = (0...t).reduce(0.0) { $0 + w[$1] / z * Double(p.v[$1 * d + e]) }
                #expect(abs(Double(r.o[t * d + e]) - expected) < 1e-6)
            }
        }
    }

    @Test("the watched row's online softmax ends at the true row max and sum")
    func onlineSoftmaxConverges() throws {
        for algo in [TileAlgorithm.fa1, .fa2] {
            let r = try run(algo, n: 200, M: 1024, record: true, watch: 150)
            let states = r.steps.compactMap(\.watch)
            #expect(states.count == ceilDiv(200, r.blocks.bc))
            let last = try #require(states.last)
            #expect(abs(Double(last.m) - r.watchTrueMax!) < 1e-5)
            #expect(abs(Double(last.l) - r.watchTrueSum!) / r.watchTrueSum! < 1e-5)
            // The running max never decreases, and the rescale factor is e^(m_old − m_new) ≤ 1.
            #expect(zip(states, states.dropFirst()).allSatisfy { $0.m <= $1.m })
            #expect(states.allSatisfy { $0.rescale <= 1 })
        }
    }
}

/// Counting needs no float64 check.
func count(_ algo: TileAlgorithm, n: Int, d: Int = 16, M: Int, q: Int = 1, kv: Int = 1, causal: Bool = false,
           backward: Bool = false) throws -> TileResult {
    try run(algo, n: n, d: d, M: M, q: q, kv: kv, causal: causal, backward: backward, check: false)
}

@Suite("Tiled attention: HBM counts against closed forms")
struct TilingCountTests {
    static let sizes: [(Int, Int, Int)] = [(256, 16, 1024), (300, 16, 1024), (500, 32, 4096), (97, 8, 200)]

    @Test("FA1: reads 2Nd + Tc·(2Nd + 2N), writes Tc·(Nd + 2N)", arguments: sizes)
    func fa1(n: Int, d: Int, M: Int) throws {
        let r = try count(.fa1, n: n, d: d, M: M)
        let Tc = ceilDiv(n, r.blocks.bc)
        #expect(r.forward.hbmReads == 2 * n * d + Tc * (2 * n * d + 2 * n))
        #expect(r.forward.hbmWrites == Tc * (n * d + 2 * n))
        #expect(r.forward.reads(.K) == n * d && r.forward.reads(.Q) == Tc * n * d && r.forward.reads(.l) == Tc * n)
        #expect(r.blocks == BlockSizes(br: min(ceilDiv(M, 4 * d), d), bc: min(ceilDiv(M, 4 * d), n)))
    }

    @Test("FA2: reads Nd + Tr·2Nd, writes Nd + N", arguments: sizes)
    func fa2(n: Int, d: Int, M: Int) throws {
        let r = try count(.fa2, n: n, d: d, M: M)
        let Tr = ceilDiv(n, r.blocks.br)
        #expect(r.forward.hbmReads == n * d + Tr * 2 * n * d)
        #expect(r.forward.hbmWrites == n * d + n)
        #expect(r.forward.writes(.O) == n * d && r.forward.writes(.L) == n && r.forward.writes(.l) == 0)
    }

    @Test("naive: the documented closed form (docs/io-model.md)", arguments: sizes)
    func naive(n: Int, d: Int, M: Int) throws {
        let r = try count(.naive, n: n, d: d, M: M)
        let Tr = ceilDiv(n, r.blocks.br)
        let softmaxPasses = M / (n + 2) >= 1 ? 1 : 3
        #expect(r.forward.reads(.S) == softmaxPasses * n * n)
        #expect(r.forward.writes(.S) == n * n && r.forward.writes(.P) == n * n && r.forward.reads(.P) == n * n)
        #expect(r.forward.hbmReads == n * d + 2 * Tr * n * d + (softmaxPasses + 1) * n * n)
        #expect(r.forward.hbmWrites == 2 * n * n + n * d)
    }

    @Test("backward: FA1 reads 2Nd + Tc(4Nd + 2N), writes Tc·Nd + 2Nd; FA2 adds the D pass", arguments: sizes)
    func backward(n: Int, d: Int, M: Int) throws {
        let a = try count(.fa1, n: n, d: d, M: M, backward: true)
        let b = try #require(a.backward)
        let Tc = ceilDiv(n, a.blocks.bc)
        #expect(b.hbmReads == 2 * n * d + Tc * (4 * n * d + 2 * n))
        #expect(b.hbmWrites == Tc * n * d + 2 * n * d)
        let f2 = try count(.fa2, n: n, d: d, M: M, backward: true)
        let b2 = try #require(f2.backward)
        let Tc2 = ceilDiv(n, f2.blocks.bc)
        #expect(b2.hbmReads == 2 * n * d + 2 * n * d + Tc2 * (3 * n * d + 2 * n))
        #expect(b2.hbmWrites == n + Tc2 * n * d + 2 * n * d)
        // Standard backward reads the stored P twice and writes dP and dS: Θ(N²).
        let nv = try count(.naive, n: n, d: d, M: M, backward: true)
        #expect(try #require(nv.backward).reads(.P) >= 2 * n * n)
        #expect(try #require(nv.backward).writes(.dS) == n * n)
    }

    @Test("the model's closed forms predict every run exactly", arguments: TileAlgorithm.allCases)
    func ioModel(algo: TileAlgorithm) throws {
        for (n, d, M) in Self.sizes {
            let r = try count(algo, n: n, d: d, M: M, backward: true)
            let f = algo.traffic(.forward, R: n, C: n, d: d, blocks: r.blocks, sramElements: M)
            let b = algo.traffic(.backward, R: n, C: n, d: d, blocks: r.blocks, sramElements: M)
            #expect(r.forward.hbmReads == f.reads && r.forward.hbmWrites == f.writes, "\(algo) \(n)")
            #expect(r.backward!.hbmReads == b.reads && r.backward!.hbmWrites == b.writes, "\(algo) \(n)")
            #expect(r.forward.peakSram == algo.peakSram(.forward, R: n, C: n, d: d, blocks: r.blocks, sramElements: M))
            #expect(r.backward!.peakSram == algo.peakSram(.backward, R: n, C: n, d: d, blocks: r.blocks, sramElements: M))
        }
    }

    @Test("GQA: every count is kv_heads × the closed form with R = G·N stacked rows", arguments: TileAlgorithm.allCases)
    func gqaClosedForms(algo: TileAlgorithm) throws {
        let n = 90, d = 16, M = 2048
        let r = try count(algo, n: n, d: d, M: M, q: 6, kv: 2, backward: true)
        let f = algo.traffic(.forward, R: 3 * n, C: n, d: d, blocks: r.blocks, sramElements: M)
        let b = algo.traffic(.backward, R: 3 * n, C: n, d: d, blocks: r.blocks, sramElements: M)
        #expect(r.forward.hbmReads == 2 * f.reads && r.forward.hbmWrites == 2 * f.writes)
        #expect(r.backward!.hbmReads == 2 * b.reads && r.backward!.hbmWrites == 2 * b.writes)
        // The independent form for FA1 forward: K and V once per K/V head; Q, O, l, m once per column block.
        if algo == .fa1 {
            let Tc = ceilDiv(n, r.blocks.bc)
            #expect(r.forward.hbmReads == 2 * (2 * n * d + Tc * (2 * 3 * n * d + 2 * 3 * n)))
        }
    }

    @Test("causal backward: FA1 moves only the visited blocks")
    func causalBackward() throws {
        let n = 200, d = 16, M = 2048
        let r = try count(.fa1, n: n, d: d, M: M, causal: true, backward: true)
        let (br, bc) = (r.blocks.br, r.blocks.bc)
        var reads = 0, writes = 0
        for j in 0..<ceilDiv(n, bc) {
            let nc = min(n, (j + 1) * bc) - j * bc
            reads += 2 * nc * d
            writes += 2 * nc * d
            for i in 0..<ceilDiv(n, br) where j * bc <= min(n, (i + 1) * br) - 1 {
                let nr = min(n, (i + 1) * br) - i * br
                reads += 4 * nr * d + 2 * nr
                writes += nr * d
            }
        }
        #expect(r.backward!.hbmReads == reads && r.backward!.hbmWrites == writes)
    }

    @Test("causal: only blocks on or below the diagonal move, counted block by block")
    func causal() throws {
        let n = 300, d = 16, M = 1024
        let r = try count(.fa1, n: n, d: d, M: M, causal: true)
        let (br, bc) = (r.blocks.br, r.blocks.bc)
        var reads = 2 * n * d, writes = 0
        for j in 0..<ceilDiv(n, bc) {
            for i in 0..<ceilDiv(n, br) where j * bc <= min(n, (i + 1) * br) - 1 {
                let nr = min(n, (i + 1) * br) - i * br
                reads += 2 * nr * d + 2 * nr
                writes += nr * d + 2 * nr
            }
        }
        #expect(r.forward.hbmReads == reads && r.forward.hbmWrites == writes)
        let full = try count(.fa1, n: n, d: d, M: M)
        #expect(Double(r.forward.hbmAccesses) < 0.6 * Double(full.forward.hbmAccesses))
        let f2 = try count(.fa2, n: n, d: d, M: M, causal: true)
        var kv = 0
        for i in 0..<ceilDiv(n, f2.blocks.br) {
            let last = min(n, (i + 1) * f2.blocks.br) - 1
            for j in 0...(last / f2.blocks.bc) { kv += 2 * (min(n, (j + 1) * f2.blocks.bc) - j * f2.blocks.bc) * d }
        }
        #expect(f2.forward.hbmReads == n * d + kv)
    }

    @Test("GQA: FA1 loads each K/V block once for its whole group; FA2 streams K/V once per Q row block either way")
    func gqa() throws {
        let mha = try count(.fa1, n: 128, M: 1024, q: 4, kv: 4)
        let gqa = try count(.fa1, n: 128, M: 1024, q: 4, kv: 1)
        #expect(mha.forward.reads(.Q) == gqa.forward.reads(.Q))
        #expect(mha.forward.reads(.K) == 4 * gqa.forward.reads(.K))
        let mha2 = try count(.fa2, n: 128, M: 1024, q: 4, kv: 4)
        let gqa2 = try count(.fa2, n: 128, M: 1024, q: 4, kv: 1)
        #expect(mha2.forward.reads(.K) == gqa2.forward.reads(.K))
    }

    @Test("scaling: FA totals grow as N² at fixed M and fall about as 1/M; naive keeps its 4N²")
    func scaling() throws {
        for algo in [TileAlgorithm.fa1, .fa2] {
            // M ≤ 4d² keeps Br = min(⌈M/4d⌉, d) below its cap d, where the Θ(N²d²/M) law holds.
            let a = try count(algo, n: 512, d: 64, M: 2048), b = try count(algo, n: 1024, d: 64, M: 2048)
            let growth = Double(b.forward.hbmAccesses) / Double(a.forward.hbmAccesses)
            #expect(growth > 3.5 && growth < 4.1, "\(algo) N² growth \(growth)")
            let c = try count(algo, n: 1024, d: 64, M: 8192)
            let fall = Double(c.forward.hbmAccesses) / Double(b.forward.hbmAccesses)
            #expect(fall > 0.2 && fall < 0.35, "\(algo) 4× M → \(fall)")
        }
        // Naive: the S and P round trips cost 4N² whatever M is (only its blocked-matmul rereads shrink).
        for M in [2048, 8192, 32768] {
            let f = try count(.naive, n: 1024, d: 64, M: M).forward
            #expect(f.reads(.S) + f.writes(.S) + f.reads(.P) + f.writes(.P) == 4 * 1024 * 1024)
        }
    }

    @Test("the published blocks overshoot M; --fit-sram blocks fit and never move more than needed")
    func fitSram() throws {
        let published = try count(.fa1, n: 512, d: 32, M: 4096)
        #expect(published.exceedsSram)
        #expect(published.peakSram == 2 * 32 * 32 + 2 * 32 * 32 + 32 * 32 + 6 * 32)
        for algo in TileAlgorithm.allCases {
            let p = try TileProblem(n: 512, d: 32, seed: 1)
            var o = TileOptions(algorithm: algo, sramElements: 4096)
            o.fitSram = true
            o.backward = true
            let r = try TiledAttention.run(p, o)
            #expect(!r.exceedsSram, "\(algo): \(r.peakSram)")
            #expect(r.blockSource == .fit)
            // No fitting block pair moves fewer elements (brute force over a grid).
            for bc in stride(from: 1, through: 512, by: 7) {
                for br in stride(from: 1, through: 512, by: 7) {
                    let b = BlockSizes(br: br, bc: bc)
                    let fitsF = algo.peakSram(.forward, R: 512, C: 512, d: 32, blocks: b, sramElements: 4096) <= 4096
                    let fitsB = algo.peakSram(.backward, R: 512, C: 512, d: 32, blocks: b, sramElements: 4096) <= 4096
                    guard fitsF && fitsB else { continue }
                    let f = algo.traffic(.forward, R: 512, C: 512, d: 32, blocks: b, sramElements: 4096)
                    let g = algo.traffic(.backward, R: 512, C: 512, d: 32, blocks: b, sramElements: 4096)
                    #expect(f.reads + f.writes + g.reads + g.writes >= r.hbmAccesses)
                }
            }
        }
    }
}

@Suite("Tiled attention: the algorithm protocol and the typed phases")
struct TilingStructureTests {
    static let shapes: [(n: Int, d: Int, M: Int, q: Int, kv: Int)] = [
        (64, 16, 1024, 1, 1), (97, 8, 200, 1, 1), (130, 16, 3000, 4, 2), (50, 32, 8192, 3, 3), (40, 8, 100, 2, 1),
    ]

    @Test("every algorithm's closed form equals its counted I/O, both passes, for non-causal shapes", arguments: TileAlgorithm.allCases)
    func closedFormEqualsCount(algo: TileAlgorithm) throws {
        for s in Self.shapes {
            let r = try count(algo, n: s.n, d: s.d, M: s.M, q: s.q, kv: s.kv, backward: true)
            for (pass, counted) in [(TilePass.forward, r.forward), (.backward, r.backward!)] {
                let c = try #require(r.closedForm(pass))
                #expect(c.equalsCount, "\(algo) \(pass) \(s)")
                #expect(c.reads == counted.hbmReads && c.writes == counted.hbmWrites, "\(algo) \(pass) \(s)")
                let perHead = algo.traffic(pass, R: s.n * s.q / s.kv, C: s.n, d: s.d, blocks: r.blocks, sramElements: s.M)
                #expect(c.reads == s.kv * perHead.reads && c.writes == s.kv * perHead.writes)
            }
        }
    }

    @Test("the closed-form check is absent for causal runs and for a backward pass that did not run")
    func closedFormAbsent() throws {
        for algo in TileAlgorithm.allCases {
            #expect(try count(algo, n: 64, M: 1024, causal: true, backward: true).closedForm(.forward) == nil)
            let forwardOnly = try count(algo, n: 64, M: 1024)
            #expect(forwardOnly.closedForm(.backward) == nil)
            #expect(forwardOnly.closedForm(.forward) != nil)
        }
    }

    @Test("a run's forward steps come first and belong to the forward pass; the rest to the backward", arguments: TileAlgorithm.allCases)
    func phasePasses(algo: TileAlgorithm) throws {
        for causal in [false, true] {
            let forwardOnly = try run(algo, n: 48, M: 1024, q: 2, kv: 1, causal: causal, record: true, check: false)
            let both = try run(algo, n: 48, M: 1024, q: 2, kv: 1, causal: causal, backward: true, record: true, check: false)
            let k = forwardOnly.steps.count
            #expect(k > 0 && both.steps.count > k)
            #expect(forwardOnly.steps.allSatisfy { $0.phase.pass == .forward })
            #expect(both.steps.prefix(k).map(\.phase) == forwardOnly.steps.map(\.phase))
            #expect(both.steps.dropFirst(k).allSatisfy { $0.phase.pass == .backward }, "\(algo) causal \(causal)")
        }
    }

    @Test("FA2's backward opens with one D = rowsum(dO∘O) step per row block, then the block loop")
    func fa2BackwardPhases() throws {
        let r = try run(.fa2, n: 64, M: 1024, backward: true, record: true, check: false)
        let Tr = ceilDiv(64, r.blocks.br), Tc = ceilDiv(64, r.blocks.bc)
        #expect(r.steps.map(\.phase) == Array(repeating: .forward, count: Tr * Tc) + Array(repeating: .rowDot, count: Tr)
            + Array(repeating: .backward, count: Tr * Tc))
    }

    @Test("each phase prints distinct text")
    func phaseText() {
        #expect(Set(TilePhase.allCases.map(\.text)).count == TilePhase.allCases.count)
    }

    @Test("block sources: default without blocks, given with --br/--bc, fit with --fit-sram")
    func blockSources() throws {
        #expect(try count(.fa1, n: 64, M: 1024).blockSource == .default)
        #expect(try run(.fa1, n: 64, M: 1024, blocks: BlockSizes(br: 8, bc: 8), check: false).blockSource == .given)
        let p = try TileProblem(n: 64, d: 16)
        var o = TileOptions(algorithm: .fa2, sramElements: 1024)
        o.fitSram = true
        #expect(try TiledAttention.run(p, o).blockSource == .fit)
        #expect([BlockSource.default, .given, .fit].map(\.rawValue) == ["default", "given", "fit"])
    }

    @Test("default blocks fit the published formula, and naive's largest Br fits its product working set", arguments: [(1024, 16), (4096, 32), (200, 8)])
    func defaultBlocks(M: Int, d: Int) {
        let n = 300, bc = min(ceilDiv(M, 4 * d), n)
        for algo in [TileAlgorithm.fa1, .fa2] {
            #expect(algo.defaultBlocks(R: n, C: n, d: d, sramElements: M) == BlockSizes(br: min(bc, d), bc: bc))
        }
        let b = TileAlgorithm.naive.defaultBlocks(R: n, C: n, d: d, sramElements: M)
        #expect(b.bc == bc)
        #expect(b.br == 1 || b.br * d + bc * d + b.br * bc <= M)
        #expect(b.br == n || (b.br + 1) * d + bc * d + (b.br + 1) * bc > M)
    }
}

@Suite("Tiled attention: backward pass")
struct TilingBackwardTests {
    @Test("dQ, dK, dV equal the float64 reference for all three algorithms", arguments: TileAlgorithm.allCases)
    func gradients(algo: TileAlgorithm) throws {
        for causal in [false, true] {
            let r = try run(algo, n: 70, M: 1024, q: 4, kv: 2, causal: causal, backward: true)
            let err = try #require(r.maxAbsGradError)
            #expect(err <= 1e-5, "\(algo) causal \(causal): \(err)")
        }
    }

    @Test("gradients match central finite differences of L = Σ O ∘ dO")
    func finiteDifferences() throws {
        let n = 6, d = 4
        let p = try TileProblem(n: n, d: d, causal: true, seed: 2)
        var o = TileOptions(algorithm: .fa2, sramElements: 128)
        o.backward = true
        o.blocks = BlockSizes(br: 2, bc: 2)
        let r = try TiledAttention.run(p, o)
        func loss(q: [Double], k: [Double], v: [Double]) -> Double {
            var total = 0.0
            for t in 0..<n {
                var w = (0...t).map { c in (0..<d).reduce(0.0) { $0 + q[t * d + $1] * k[c * d + $1] } / 2 }
                let m = w.max()!
                w = w.map { exp($0 - m) }
                let z = w.reduce(0, +)
                for e in 0..<d { total += (0...t).reduce(0.0) { $0 + w[$1] / z * v[$1 * d + e] } * Double(p.dO[t * d + e]) }
            }
            return total
        }
        let q = p.q.map(Double.init), k = p.k.map(Double.init), v = p.v.map(Double.init), h = 1e-5
        for i in 0..<(n * d) {
            var qp = q, qm = q; qp[i] += h; qm[i] -= h
            var kp = k, km = k; kp[i] += h; km[i] -= h
            var vp = v, vm = v; vp[i] += h; vm[i] -= h
            #expect(abs((loss(q: qp, k: k, v: v) - loss(q: qm, k: k, v: v)) / (2 * h) - Double(r.dq![i])) < 1e-4)
            #expect(abs((loss(q: q, k: kp, v: v) - loss(q: q, k: km, v: v)) / (2 * h) - Double(r.dk![i])) < 1e-4)
            #expect(abs((loss(q: q, k: k, v: vp) - loss(q: q, k: k, v: vm)) / (2 * h) - Double(r.dv![i])) < 1e-4)
        }
    }

    @Test("recomputation costs FLOPs and saves bytes: FA backward moves far less than the standard one")
    func recomputeTradeoff() throws {
        let naive = try count(.naive, n: 512, d: 32, M: 8192, backward: true)
        let fa2 = try count(.fa2, n: 512, d: 32, M: 8192, backward: true)
        #expect(fa2.backward!.hbmAccesses * 2 < naive.backward!.hbmAccesses)
        #expect(fa2.backward!.flops.matmul > naive.backward!.flops.matmul)
    }
}

@Suite("Tiled attention: bad input")
struct TilingBadInputTests {
    @Test("impossible configurations name their flag")
    func errors() throws {
        #expect(throws: ConfigError.self) { try TileProblem(n: 0, d: 8) }
        #expect(throws: ConfigError.self) { try TileProblem(n: 8, d: -1) }
        func subject(_ body: () throws -> Void) -> Subject? {
            do { try body(); return nil } catch let e as ConfigError { return e.subject } catch { return nil }
        }
        #expect(subject { _ = try run(.fa1, n: 64, d: 64, M: 32) } == .fields([.d]))
        #expect(subject { _ = try run(.fa1, n: 64, d: 16, M: 70) } == .fields([.sramElements]))
        #expect(subject { _ = try run(.fa1, n: 64, d: 16, M: 1024, blocks: BlockSizes(br: 64, bc: 64)) } == .fields([.br, .bc]))
        #expect(subject { _ = try run(.naive, n: 20000, d: 16, M: 100_000) } == .fields([.n]))
        #expect(subject { _ = try run(.fa2, n: 64, M: 1024, watch: 64) } == .fields([.watchRow]))
    }
}
