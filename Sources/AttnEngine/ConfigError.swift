/// An input a user gives AttnLab — a model's shape, a run's size, an output — named by what it means.
/// Front ends spell it: the CLI as a flag (`--d-model`), a lesson as a key (`d-model`); the engine
/// never does.
public enum Field: Sendable, Hashable, CaseIterable {
    // The model.
    case preset, model, modelsDir, layers, dModel, qHeads, kvHeads, headDim, ffn, vocab
    case cla, kvPattern, kvMap, shareWeights, weightSharing, encoder, embedding
    // Caches and decoding.
    case context, batch, dtype, prompt, promptIds, tokens, seed, temperature, chat, verify, traceDetail
    // Simulated attention.
    case algorithm, n, d, sramElements, sram, causal, br, bc, fitSram, watchRow, backward, sweepAxis, values
    // Perplexity.
    case text, evalWindow, maxTokens, variants
    // Figures and their files.
    case step, layer, contexts, logScale, output, size, scale, theme, title, frames
    // Traces and other outputs.
    case trace, traceFormat, format, json
    // Lessons.
    case lesson, all, out, language, formats, stepThrough
    // Benchmarks and model files.
    case promptTokens, repeats, numpyScript, noNumpy, llamaScript, force
    // How long a run may take.
    case maxSeconds
    // Training: data, optimizer, schedule, checkpoints, studies.
    case corpus, task, tokenizer, dataDir, steps, seq, lr, optimizer, schedule, warmup, weightDecay, clip
    case from, retrofit, seeds, evalTokens, checkpointType, mqarPairs, resume, study, jaxScript
    // The KV toolbox: quantized, evicted, windowed, latent and paged caches; what fits on a GPU.
    case kvQuant, kvGroup, kvQuantPreRope, evict, kvBudget, sinks, window, kvLatentRank, pageTokens, requests
    case gpuMemory, weightsDtype
}

/// What an error is about.
public enum Subject: Sendable, Hashable {
    /// An input field, or several that contradict each other.
    case fields([Field])
    /// A file, by the path the user gave or AttnLab writes.
    case file(String)
    /// An input named as the user wrote it, not matched to a field (an unknown or repeated flag).
    case named(String)
    /// A place in a lesson file: `lesson.yaml:17` and the field's path, `steps[1].action.decode`.
    case lesson(file: String, line: Int?, path: String)
    /// Something AttnLab needs from the machine (fonts, Cairo).
    case system(String)
}

/// Every error AttnLab reports to a user: what it is about and why, in one line. The CLI and the
/// lesson runner each spell the subject in their own terms, in one place each.
public protocol AttnLabError: Error, Sendable {
    var subject: Subject { get }
    var reason: String { get }
}

/// A configuration that cannot describe a model or a run, with the field at fault and the reason.
public struct ConfigError: AttnLabError, Equatable, CustomStringConvertible {
    public let subject: Subject
    public let reason: String

    public init(_ field: Field, _ reason: String) { self.init(.fields([field]), reason) }

    public init(_ subject: Subject, _ reason: String) {
        self.subject = subject
        self.reason = reason
    }

    /// An error about a file (a model file, a text).
    public init(file: String, _ reason: String) { self.init(.file(file), reason) }

    public var description: String { "\(subject): \(reason)" }

    /// Throws unless `value` is in 1...limit, so that every product of sizes stays far inside Int.
    public static func requireSize(_ value: Int, atMost limit: Int, _ field: Field) throws(ConfigError) {
        guard value > 0 else { throw ConfigError(field, "must be positive, got \(value)") }
        guard value <= limit else { throw ConfigError(field, "\(value) is above AttnLab's limit of \(limit)") }
    }
}
