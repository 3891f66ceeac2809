import AttnEngine
import AttnModels
import Foundation
import Testing

/// Every command that takes `--model` runs on a checkpoint AttnLab wrote, whatever variant it holds;
/// and a checkpoint that cannot be written leaves the one before it.
@Suite("checkpoints on the command line")
struct CheckpointCommandTests {
    /// The 256 byte tokens and one merge.
    static let tokenizer = try! BPETokenizer(tokens: GGUFBuilder.byteAlphabet + ["Ġt"], tokenTypes: [Int32](repeating: 1, count: 257),
                                             merges: ["Ġ t"], file: "test")

    static func config(kvHeads: Int, _ pattern: KVPattern, _ sharing: WeightSharing, dModel: Int = 32) throws -> DecoderConfig {
        try DecoderConfig(layers: 4, dModel: dModel, attention: try AttentionLayout(qHeads: 4, kvHeads: kvHeads, headDim: dModel / 4), ffn: 2 * dModel,
                          vocab: tokenizer.count, kvMap: try pattern.map(layers: 4), weightSharing: sharing)
    }

    static func write(_ config: DecoderConfig, _ type: CheckpointType, to path: String) throws {
        try Checkpoint.write(path: path, config: config, weights: DecoderWeights(config: config, seed: 3), tokenizer: tokenizer,
                             contextTokens: 64, tensorType: type, name: "ckpt", extras: [("attnlab.train.steps", .u32(0))])
    }

    static let variants: [(kvHeads: Int, pattern: KVPattern, sharing: WeightSharing, type: CheckpointType)] = [
        (2, .none, .none, .f16), (1, .cla(2), .none, .f32), (4, .cla(2), .attention, .f32), (4, .keepEnds, .all, .f16),
    ]

    @Test("decode, ppl, retrofit, kv, params, draw attention, draw cache and model info run on a checkpoint", arguments: variants.indices)
    func commands(index: Int) throws {
        let v = Self.variants[index]
        let config = try Self.config(kvHeads: v.kvHeads, v.pattern, v.sharing)
        let dir = try temporaryFolder()
        let model = dir.appendingPathComponent("model.gguf").path, text = dir.appendingPathComponent("text.txt").path
        try Self.write(config, v.type, to: model)
        try Data("the theme of the text, twice: the theme of the text".utf8).write(to: URL(fileURLWithPath: text))
        let kvLine = "\(config.kvMap.kvLayers) of 4"
        let runs: [(arguments: [String], expected: String)] = [
            (["decode", "--model", model, "--prompt", "the", "--tokens", "3", "--verify"], config.layoutName),
            (["ppl", "--model", model, "--text", text], config.layoutName),
            (["retrofit", "--model", model, "--text", text, "--to", "mqa+cla:4"], "mqa+cla:4"),
            (["kv", "--model", model], kvLine),
            (["params", "--model", model], "weight sharing \(config.weightSharing.rawValue)"),
            (["draw", "attention", "--model", model, "--prompt", "the", "-o", dir.appendingPathComponent("a.svg").path], "wrote"),
            (["draw", "cache", "--model", model, "--prompt", "the", "-o", dir.appendingPathComponent("c.svg").path], "wrote"),
            (["model", "info", "--model", model], "attnlab.train.steps = 0"),
        ]
        for (arguments, expected) in runs {
            let run = try Run(arguments)
            #expect(run.status == 0 && run.stderr.isEmpty, "\(arguments): \(run.stderr)")
            #expect(run.stdout.contains(expected), "\(arguments): \(run.stdout)")
        }
        // The count from the shape is the count of values the file holds.
        let params = try Run(["params", "--model", model, "--json"]).json()
        let stored = try PretrainedModel(file: try GGUFFile(path: model), name: "model").weights.storedElements
        #expect(params["total_params"] as? Int == stored && stored == config.paramCount.total, "\(params)")
    }

    @Test("a full disk: one error line naming the file, the checkpoint there before untouched, nothing left beside it")
    func fullDisk() throws {
        guard let disk = try SmallDisk.mount(bytes: 64 * SmallDisk.page, for: "checkpoint on a full disk") else { return }
        defer { disk.unmount() }
        let path = disk.folder.appendingPathComponent("model.gguf").path
        try Self.write(try Self.config(kvHeads: 1, .cla(2), .none), .f16, to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        try disk.fill(leaving: SmallDisk.page)
        let bigger = try Self.config(kvHeads: 4, .none, .none, dModel: 64)
        let error = try #require(throws: ConfigError.self) { try Self.write(bigger, .f32, to: path) }
        #expect(error.subject == .file(path) && error.reason.contains("No space left on device") && !error.reason.contains("\n"), "\(error)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(try contents(of: disk.folder) == ["model.gguf"])
    }
}
