import AttnEngine
import Testing

@Suite("Layer → K/V source maps (CLA paper conventions)")
struct KVSourceMapTests {
    @Test("10 layers CLA3: the first group is the short one → producers 0, 1, 4, 7")
    func cla3Uneven() throws {
        let map = try KVPattern.cla(3).map(layers: 10)
        #expect(map.producers == [0, 1, 4, 7])
        #expect(map.source == [0, 1, 1, 1, 4, 4, 4, 7, 7, 7])
    }

    @Test("10 layers CLA2 → producers 0, 2, 4, 6, 8")
    func cla2() throws {
        #expect(try KVPattern.cla(2).map(layers: 10).producers == [0, 2, 4, 6, 8])
    }

    @Test("kv_layers = ceil(L / S) for every L ≤ 40 and S ≤ L")
    func ceilLayers() throws {
        for L in 1...40 {
            for S in 1...L {
                let map = try KVPattern.cla(S).map(layers: L)
                #expect(map.kvLayers == (L + S - 1) / S)
                // Every group after the first has exactly S layers.
                let sizes = map.producers.map { map.readers(of: $0).count }
                #expect(sizes.dropFirst().allSatisfy { $0 == S } && sizes.first! <= S)
            }
        }
    }

    @Test("20-layer KeepEnds: 0 alone, pairs (1,2)…(17,18), 19 alone")
    func keepEnds() throws {
        let map = try KVPattern.keepEnds.map(layers: 20)
        #expect(map.producers == [0] + Array(stride(from: 1, through: 17, by: 2)) + [19])
        #expect(map.kvLayers == 11)
        #expect(map.source[18] == 17 && map.source[19] == 19)
    }

    @Test("20-layer DenseFront: 0–9 own, 10–18 reuse 9, 19 own")
    func denseFront() throws {
        let map = try KVPattern.denseFront.map(layers: 20)
        #expect(map.source == Array(0...9) + Array(repeating: 9, count: 9) + [19])
        #expect(map.kvLayers == 11)
    }

    @Test("20-layer DenseBack: 0–1 own, 2–10 reuse 1, 11–19 own")
    func denseBack() throws {
        let map = try KVPattern.denseBack.map(layers: 20)
        #expect(map.source == [0, 1] + Array(repeating: 1, count: 9) + Array(11...19))
        #expect(map.kvLayers == 11)
    }

    @Test("the non-uniform patterns keep the paper's proportion L/2 + 1 KV layers", arguments: [KVPattern.keepEnds, .denseFront, .denseBack])
    func proportions(pattern: KVPattern) throws {
        for L in stride(from: 4, through: 40, by: 2) {
            #expect(try pattern.map(layers: L).kvLayers == L / 2 + 1, "\(pattern) L=\(L)")
        }
    }

    @Test("explicit maps that point forward or at a consumer are rejected, naming the layer")
    func badMaps() {
        #expect(throws: ConfigError(.kvMap, "layer 2 points forward at layer 3; a layer can only reuse the K/V of an earlier layer")) {
            try KVPattern.explicit([0, 1, 3, 3]).map(layers: 4, field: .kvMap)
        }
        #expect(throws: ConfigError(.kvMap, "layer 2 points at layer 1, which stores no K/V of its own (it reuses layer 0's)")) {
            try KVPattern.explicit([0, 0, 1, 3]).map(layers: 4, field: .kvMap)
        }
        #expect(throws: ConfigError.self) { try KVPattern.explicit([0, 0]).map(layers: 3) }
        #expect(throws: ConfigError.self) { try KVPattern.explicit([-1, 0]).map(layers: 2) }
        #expect(throws: ConfigError.self) { try KVPattern.cla(5).map(layers: 4) }
        #expect(throws: ConfigError.self) { try KVPattern.parse("cla:x") }
        #expect(throws: ConfigError.self) { try KVPattern.parse("dense-middle") }
    }

    @Test("pattern names parse to the same maps")
    func parsing() throws {
        #expect(try KVPattern.parse("cla:3") == .cla(3))
        #expect(try KVPattern.parse("CLA2") == .cla(2))
        #expect(try KVPattern.parse("keep-ends") == .keepEnds)
        #expect(try KVPattern.parse("0,0,2,2,4") == .explicit([0, 0, 2, 2, 4]))
        #expect(try KVPattern.parse("0,0,2,2,4").map(layers: 5).producers == [0, 2, 4])
    }
}
