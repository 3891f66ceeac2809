/// How a trace file is written.
public enum TraceFormat: String, CaseIterable, Sendable {
    /// One JSON object per line (the format documented in docs/trace-format.md).
    case jsonl
    /// Aligned text tables, for reading.
    case text
    /// Chrome's trace-event JSON (tile runs only), for chrome://tracing and Perfetto.
    case chrome

    /// The format a file name implies: text for `.txt`, chrome for `.chrome.json`, else JSON Lines.
    public static func implied(by path: String) -> TraceFormat {
        if path.hasSuffix(".txt") { return .text }
        if path.hasSuffix(".chrome.json") { return .chrome }
        return .jsonl
    }
}
