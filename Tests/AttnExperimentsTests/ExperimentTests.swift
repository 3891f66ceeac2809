import AttnEngine
import AttnExperiments
import AttnFigures
import AttnRender
import AttnTiling
import Testing

@Suite struct ExperimentTests {
    static func flags(_ pairs: KeyValuePairs<String, String?>) -> Flags { Flags(pairs.map { Flags.Flag($0.key, $0.value) }) }

    @Test("a figure of the same run as its step's action draws from that run instead of running it again")
    func figuresShareTheActionsRun() throws {
        let runs = Runs()
        let tileFlags = Self.flags(["algo": "fa1", "n": "64", "d": "16", "sram-elements": "1024"])
        let action = try #require(try runs.output(of: try ActionKind.tile.experiment(tileFlags)) as? TileOutput)
        let figure = try FigureKind.tiles.figure(tileFlags).draw(Style(), allPages: true, runs: runs)
        #expect(runs.count == 1)
        // One page per forward step after the overview: the figure shows the action's recorded steps.
        #expect(figure.pages.count == action.result.steps.count + 1)

        let decodeFlags = Self.flags(["layers": "2", "tokens": "3", "prompt": "the cat"])
        _ = try runs.output(of: try ActionKind.decode.experiment(decodeFlags))
        _ = try FigureKind.cache.figure(decodeFlags).draw(Style(), allPages: false, runs: runs)
        #expect(runs.count == 2, "the cache figure reuses the decode")
        _ = try FigureKind.attention.figure(decodeFlags).draw(Style(), allPages: false, runs: runs)
        #expect(runs.count == 3, "the attention figure needs the weights, which only a full-detail decode records")
    }

    @Test("kv from flags is the closed form 2 × kv_layers × kv_heads × head_dim × bytes, at any context")
    func kvClosedForm() throws {
        for (layers, q, kv, hd, cla) in [(32, 32, 8, 128, 1), (20, 16, 1, 128, 2), (10, 8, 2, 64, 3)] {
            let e = try #require(try ActionKind.kv.experiment(Self.flags([
                "layers": "\(layers)", "q-heads": "\(q)", "kv-heads": "\(kv)", "head-dim": "\(hd)", "d-model": "\(q * hd)",
                "cla": "\(cla)", "dtype": "fp16", "context": "1000", "batch": "3",
            ])) as? KVExperiment)
            let r = try e.run()
            let kvLayers = (layers + cla - 1) / cla
            #expect(r.budget.bytesPerToken == 2 * kvLayers * kv * hd * 2)
            #expect(r.cacheBytes == r.budget.bytesPerToken * 1000 * 3)
        }
    }

    @Test("decode with verify: the cached run equals one uncached causal pass")
    func decodeVerifies() throws {
        let e = try #require(try ActionKind.decode.experiment(Self.flags([
            "layers": "3", "q-heads": "4", "kv-heads": "2", "kv-map": "0,0,2", "tokens": "6", "verify": nil,
        ])) as? DecodeExperiment)
        let out = try e.run()
        #expect(out.verified == true)
        #expect(out.run.config.kvMap.source == [0, 0, 2])
    }

    @Test("the tile experiment's run agrees with the float64 reference and with its closed form")
    func tileChecks() throws {
        let e = try #require(try ActionKind.tile.experiment(Self.flags(["algo": "fa2", "n": "128", "d": "16", "sram-elements": "2048"])) as? TileExperiment)
        let out = try e.run()
        #expect(out.checked)
        let c = try #require(out.result.closedForm(.forward))
        #expect(c.equalsCount)
    }

    @Test("every action and figure kind can be built from no flags, and refuses a flag it does not know")
    func registry() throws {
        for kind in ActionKind.allCases {
            #expect(throws: ConfigError.self) { try kind.experiment(Self.flags(["no-such-flag": "1"])) }
        }
        for kind in FigureKind.allCases {
            _ = try kind.figure(Flags())
            #expect(throws: ConfigError.self) { try kind.figure(Self.flags(["no-such-flag": "1"])) }
        }
    }
}
