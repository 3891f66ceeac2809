import AttnEngine
import AttnExperiments
import Testing

@Suite struct FlagReaderTests {
    @Test func readsTypedValuesAndRefusesUnknownFlags() throws {
        let flags = Flags([.init("preset", "llama-3-8b"), .init("cla", "2"), .init("context", "8192")])
        let kv = try #require(try ActionKind.kv.experiment(flags) as? KVExperiment)
        #expect(kv.model.preset == "llama-3-8b" && kv.model.cla == 2 && kv.contextTokens == 8192)
        #expect(throws: ConfigError(.named("contxt"), "unknown flag for this action — did you mean 'context'?")) {
            try ActionKind.kv.experiment(Flags([.init("contxt", "8")]))
        }
        #expect(throws: ConfigError(.layers, "'four' is not a whole number")) {
            try ActionKind.decode.experiment(Flags([.init("layers", "four")]))
        }
        #expect(throws: ConfigError(.verify, "is a switch and takes no value")) {
            try ActionKind.decode.experiment(Flags([.init("verify", "yes")]))
        }
        #expect(throws: ConfigError(.dtype, "unknown value 'fp64' (expected fp32, bf16, fp16, fp8, int8, int4)")) {
            try ActionKind.kv.experiment(Flags([.init("dtype", "fp64")]))
        }
    }
}
