import AttnEngine
import AttnTrace
import Foundation

/// Which run a trace file describes: what the player shows for it.
public enum PlayerTraceKind: String, Sendable {
    /// `attnlab decode --trace`: one frame per decode step.
    case decode
    /// `attnlab tile --trace`: one frame per tile step, forward then backward.
    case tile
    /// `attnlab train -o run.gguf` writes `run.log.jsonl`: one frame per optimizer step.
    case train
}

/// A trace read for the player: its lines kept as the file spells them (so every number shown is the
/// trace's own text), grouped into frames — the unit the player steps through.
public struct PlayerTrace {
    /// The file's name as the user gave it, shown as the panel's title.
    public let name: String
    public let kind: PlayerTraceKind
    /// The header line (decode, tile), verbatim; nil for a training log, which has none.
    let header: String?
    /// The `summary` line, verbatim, when the trace has one.
    let summary: String?
    /// Per frame, its lines verbatim: a decode step's kv_write/kv_read/attention/… lines and its
    /// `step` line; one `tile` line; one training step and the validations measured after it.
    let frames: [[String]]
    /// Per frame, the parsed object of its last line (the `step`, `tile` or training record).
    let records: [[String: Any]]
    /// Validations measured before the first training step (step 0).
    let preamble: [String]

    /// Reads a trace file's bytes.
    /// - Parameter name: the path the user gave, for the title and for errors.
    /// - Throws: `ConfigError` naming the file when the bytes are not a trace AttnLab writes.
    public init(name: String, bytes: [UInt8]) throws(ConfigError) {
        self.name = name
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigError(file: name, "is not UTF-8 text; give a .jsonl trace written by attnlab decode, tile or train")
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        var objects: [[String: Any]] = []
        objects.reserveCapacity(lines.count)
        for (n, line) in lines.enumerated() {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                throw ConfigError(file: name, "line \(n + 1) is not a JSON object; give a .jsonl trace written by attnlab decode, tile or train")
            }
            objects.append(object)
        }
        guard let first = objects.first else { throw ConfigError(file: name, "is empty; give a .jsonl trace written by attnlab decode, tile or train") }
        if first["type"] as? String == "header" {
            guard first["schema"] as? String == DecodeTrace.schema else {
                throw ConfigError(file: name, "has schema \(first["schema"].map { "\($0)" } ?? "none"), not \(DecodeTrace.schema)")
            }
            let kindName = first["kind"] as? String ?? ""
            guard let kind = PlayerTraceKind(rawValue: kindName), kind != .train else {
                throw ConfigError(file: name, "is a '\(kindName)' trace; the player shows decode and tile traces and training logs (a lesson's trace.jsonl lists its steps' engine traces under traces/)")
            }
            self.kind = kind
            header = lines[0]
            let last = objects.count - 1
            summary = objects[last]["type"] as? String == "summary" ? lines[last] : nil
            let body = 1..<(summary == nil ? objects.count : last)
            let frameType = kind == .decode ? "step" : "tile"
            var frames: [[String]] = [], records: [[String: Any]] = [], pending: [String] = []
            for n in body {
                pending.append(lines[n])
                if objects[n]["type"] as? String == frameType {
                    frames.append(pending)
                    records.append(objects[n])
                    pending = []
                }
            }
            guard !frames.isEmpty else { throw ConfigError(file: name, "has no '\(frameType)' events; it is cut short or not a \(kind.rawValue) trace") }
            self.frames = frames
            self.records = records
            preamble = []
        } else {
            // A training log: flat records, a step's validation right after it.
            guard number(first["step"]) != nil, number(first["loss"]) != nil || number(first["val_loss"]) != nil else {
                throw ConfigError(file: name, "is not an AttnLab trace: its first line is neither a header nor a training log record")
            }
            kind = .train
            header = nil
            summary = nil
            var frames: [[String]] = [], records: [[String: Any]] = [], preamble: [String] = []
            for (n, object) in objects.enumerated() {
                if number(object["loss"]) != nil {
                    frames.append([lines[n]])
                    records.append(object)
                } else if number(object["val_loss"]) != nil {
                    if frames.isEmpty { preamble.append(lines[n]) } else { frames[frames.count - 1].append(lines[n]) }
                } else {
                    throw ConfigError(file: name, "line \(n + 1) is not a training log record (step, loss or val_loss)")
                }
            }
            guard !frames.isEmpty else { throw ConfigError(file: name, "has no training steps") }
            self.frames = frames
            self.records = records
            self.preamble = preamble
        }
    }

    /// The bytes a frame's lines take in the page.
    func frameBytes(_ f: Int) -> Int { frames[f].reduce(0) { $0 + $1.utf8.count + 1 } }
}

/// A JSON number as JSONSerialization returns it.
func number(_ value: Any?) -> Double? { (value as? NSNumber)?.doubleValue }
