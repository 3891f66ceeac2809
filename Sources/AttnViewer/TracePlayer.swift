import AttnEngine
import AttnFigures
import AttnTrace

/// Builds the interactive trace player: one self-contained HTML page (`attnlab view`), or the same
/// player embedded in a lesson report. The player's HTML, CSS and JavaScript are the files in
/// `Player/`, compiled into the module (`embedInCode`), so the page needs no file at run time; the
/// trace goes in as JSON inside a `<script type="application/json">`. Nothing in the page depends on
/// the time or the machine: the same traces give the same bytes.
public enum TracePlayer {
    /// How many bytes of a trace's lines one player may carry. A longer trace is sampled — every
    /// k-th frame kept, plus the last — and the player says so; the per-step totals it shows stay
    /// exact (they are summed here over every frame), and a tile trace keeps its whole visit order.
    public enum Limit: Sendable {
        /// `attnlab view`: 4 MiB of trace lines per trace.
        case page
        /// A lesson report, which may embed several traces per step: 96 KiB per trace.
        case report

        public var bytesPerTrace: Int {
            switch self {
            case .page: 4 << 20
            case .report: 96 << 10
            }
        }
    }

    /// A whole page: one player per trace, and a shared slider when there are several (naive vs FA1
    /// vs FA2 side by side). `language` is the language of the player's words; the trace's own names
    /// (tensors, phases, tokens) stay as the trace spells them.
    public static func page(_ traces: [PlayerTrace], limit: Limit = .page, language: Language = .en) -> [UInt8] {
        let title = traces.map(\.name).joined(separator: " · ")
        let heading = language.en("AttnLab trace player", ja: "AttnLab トレースプレイヤー")
        let body = "<main>\n<h1>\(heading)</h1>\n" + group(traces, id: "t", limit: limit, language: language) + "</main>\n"
        let noscript = language.en(
            "This page is AttnLab's trace player and needs JavaScript. The trace itself is in the page's source, as JSON; "
                + "<code>attnlab decode … --trace t.txt</code> or <code>attnlab tile … --trace t.txt</code> writes a text view.",
            ja: "このページは AttnLab のトレースプレイヤーで、JavaScript が必要です。トレースそのものはページのソースに JSON として入っています。"
                + "<code>attnlab decode … --trace t.txt</code> や <code>attnlab tile … --trace t.txt</code> でテキスト版を書き出せます。")
        let fills = ["lang": language.rawValue, "title": escape(title) + " — AttnLab", "noscript": noscript,
                     "theme": themeCSS, "css": css, "js": js, "body": body]
        // One pass over the template, so a trace named "{{js}}.jsonl" stays its name.
        var page = "", rest = template[...]
        while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
            page += rest[..<open.lowerBound] + fills[String(rest[open.upperBound..<close.lowerBound])]!
            rest = rest[close.upperBound...]
        }
        return Array((page + rest).utf8)
    }

    /// The player of one lesson step's traces, for a report: a `<details>` element (closed, so the
    /// page reads the same without JavaScript), with its data. `id` must be unique in the page, and
    /// every player in one page must speak the page's one `language`.
    public static func embedded(_ traces: [PlayerTrace], id: String, summary: String, language: Language = .en) -> String {
        let noscript = language.en("The player needs JavaScript; the figure above shows the same run.",
                                   ja: "プレイヤーには JavaScript が必要です。上の図が同じ実行を示しています。")
        return "<details class=\"attnlab-embed\">\n<summary>\(escape(summary))</summary>\n"
            + "<noscript><p>\(noscript)</p></noscript>\n" + group(traces, id: id, limit: .report, language: language) + "</details>\n"
    }

    /// The player's style and script, once per report that embeds players.
    public static var assets: String {
        "<style>\n\(themeCSS)\(css)</style>\n<script>\n\(js)</script>\n"
    }

    /// The markup the script turns into players: a root naming its data blocks, and the data.
    static func group(_ traces: [PlayerTrace], id: String, limit: Limit, language: Language) -> String {
        let ids = traces.indices.map { "\(id)-\($0)" }
        var out = "<div class=\"attnlab-player attnlab-theme\" tabindex=\"0\" data-lang=\"\(language.rawValue)\" data-traces=\"\(ids.joined(separator: " "))\">"
            + "<p class=\"ap-loading\">\(language.en("Loading the player…", ja: "プレイヤーを読み込み中…"))</p></div>\n"
        for (trace, id) in zip(traces, ids) {
            out += "<script type=\"application/json\" id=\"\(id)\">" + data(trace, limit: limit) + "</script>\n"
        }
        return out
    }

    /// The frames a player carries: every `every`-th and the last, the smallest `every` that fits.
    static func sample(_ trace: PlayerTrace, limit: Int) -> (every: Int, kept: [Int]) {
        let count = trace.frames.count
        let sizes = (0..<count).map(trace.frameBytes)
        let total = sizes.reduce(0, +)
        var every = max(1, total / max(1, limit))
        while true {
            let kept = Array(stride(from: 0, to: count, by: every)) + ((count - 1) % every == 0 ? [] : [count - 1])
            if every >= count || kept.reduce(0, { $0 + sizes[$1] }) <= limit { return (every, kept) }
            every += 1
        }
    }

    /// One trace as the JSON the script reads (documented in docs/trace-player.md). Lines go in as
    /// the file spells them; `<` is written `\u003c` so no text in a trace can close the script.
    static func data(_ trace: PlayerTrace, limit: Limit) -> String {
        let (every, kept) = sample(trace, limit: limit.bytesPerTrace)
        var fields: [(String, String)] = [
            ("name", JSON.string(trace.name).serialized()), ("kind", JSON.string(trace.kind.rawValue).serialized()),
            ("header", trace.header ?? "null"), ("summary", trace.summary ?? "null"),
            ("frames", String(trace.frames.count)), ("every", String(every)),
            ("kept", JSON.ints(kept).serialized()),
            ("events", "[" + kept.map { "[" + trace.frames[$0].joined(separator: ",") + "]" }.joined(separator: ",") + "]"),
        ]
        switch trace.kind {
        case .decode: fields += decodeSeries(trace, kept)
        case .tile: fields += tileSeries(trace, kept)
        case .train: fields += trainSeries(trace)
        }
        let text = "{" + fields.map { JSON.string($0.0).serialized() + ":" + $0.1 }.joined(separator: ",") + "}"
        return text.replacing("<", with: "\\u003c")
    }

    /// Per kept frame, bytes written and read so far (summed over every step, kept or not) and the
    /// cache's bytes after it; and every step's token, so the text strip is whole however sampled.
    static func decodeSeries(_ trace: PlayerTrace, _ kept: [Int]) -> [(String, String)] {
        var written = 0, read = 0, running: [Int: JSON] = [:]
        for (f, r) in trace.records.enumerated() {
            written += Int(number(r["bytes_written"]) ?? 0)
            read += Int(number(r["bytes_read"]) ?? 0)
            running[f] = .ints([written, read, Int(number(r["cache_bytes"]) ?? 0)])
        }
        let tokens = trace.records.map { JSON.string($0["text"] as? String ?? "") }
        return [("totals", JSON.array(kept.map { running[$0]! }).serialized()), ("tokens", JSON.array(tokens).serialized())]
    }

    /// Per kept frame, each tensor's HBM reads and writes so far (elements, every step counted); every
    /// step's place in the grid — K/V head, i, j (−1 for none), masked, phase — and every value the
    /// watched row took.
    static func tileSeries(_ trace: PlayerTrace, _ kept: [Int]) -> [(String, String)] {
        var tensors: [String] = [], phases: [String] = []
        var reads: [String: Int] = [:], writes: [String: Int] = [:], totals: [Int: JSON] = [:]
        var visits: [Int] = [], watch: [JSON] = []
        visits.reserveCapacity(trace.records.count * 5)
        for (f, r) in trace.records.enumerated() {
            for (key, into) in [("loads", 0), ("stores", 1)] {
                for transfer in r[key] as? [[String: Any]] ?? [] {
                    let tensor = transfer["tensor"] as? String ?? "?", elements = Int(number(transfer["elements"]) ?? 0)
                    if !tensors.contains(tensor) { tensors.append(tensor) }
                    if into == 0 { reads[tensor, default: 0] += elements } else { writes[tensor, default: 0] += elements }
                }
            }
            totals[f] = .ints(tensors.map { reads[$0] ?? 0 } + tensors.map { writes[$0] ?? 0 })
            let phase = r["phase"] as? String ?? ""
            if !phases.contains(phase) { phases.append(phase) }
            visits += [Int(number(r["kv_head"]) ?? 0), Int(number(r["i"]) ?? -1), Int(number(r["j"]) ?? -1),
                       (r["masked"] as? Bool ?? false) ? 1 : 0, phases.firstIndex(of: phase)!]
            if let w = r["watch"] as? [String: Any] {
                watch.append(.array([.int(f)] + ["m", "l", "rescale"].map { JSON.double(number(w[$0]) ?? .nan) }))
            }
        }
        // A tensor first moved after a kept frame counts 0 there: pad every row to the full list.
        let rows = kept.map { f -> JSON in
            guard case .array(let row) = totals[f]! else { return totals[f]! }
            let n = row.count / 2
            let zeros = [JSON](repeating: .int(0), count: tensors.count - n)
            return .array(Array(row[..<n]) + zeros + Array(row[n...]) + zeros)
        }
        return [("tensors", JSON.array(tensors.map(JSON.string)).serialized()), ("phases", JSON.array(phases.map(JSON.string)).serialized()),
                ("totals", JSON.array(rows).serialized()), ("visits", JSON.ints(visits).serialized()),
                ("watch", JSON.array(watch).serialized())]
    }

    /// Every step's loss and every validation, for the chart; validations before the first step too.
    static func trainSeries(_ trace: PlayerTrace) -> [(String, String)] {
        let loss = trace.records.map { JSON.array([JSON.double(number($0["step"]) ?? 0), .double(number($0["loss"]) ?? .nan)]) }
        return [("loss", JSON.array(loss).serialized()), ("preamble", "[" + trace.preamble.joined(separator: ",") + "]")]
    }

    /// CSS variables of both themes, from the figures' own `Theme`: the player and the Cairo figures
    /// share one palette.
    static var themeCSS: String {
        func hex(_ c: Color) -> String {
            let digits = Array("0123456789abcdef")
            return "#" + [c.r, c.g, c.b].map { v -> String in
                let byte = Int((min(1, max(0, v)) * 255).rounded())
                return String([digits[byte >> 4], digits[byte & 15]])
            }.joined()
        }
        // Each theme has its own palette of the same size: group g is --c<g> in either.
        func variables(_ t: Theme) -> String {
            var out = "--bg: \(hex(t.background)); --fg: \(hex(t.foreground)); --muted: \(hex(t.muted)); "
            out += "--grid: \(hex(t.grid)); --panel: \(hex(t.panel)); --hl: \(hex(t.highlight)); "
            return out + t.palette.enumerated().map { "--c\($0.offset): \(hex($0.element));" }.joined(separator: " ")
        }
        return """
            .attnlab-theme { --palette-size: \(Theme.light.palette.count); \(variables(.light)) }
            .attnlab-theme[data-theme=dark] { \(variables(.dark)) }
            @media (prefers-color-scheme: dark) { .attnlab-theme:not([data-theme=light]) { \(variables(.dark)) } }
            @media print { .attnlab-theme, .attnlab-theme[data-theme=dark] { \(variables(.light)) } }

            """
    }

    static func escape(_ s: String) -> String { Format.xmlEscaped(s) }

    static let template = String(decoding: PackageResources.page_html, as: UTF8.self)
    static let css = String(decoding: PackageResources.player_css, as: UTF8.self)
    static let js = String(decoding: PackageResources.player_js, as: UTF8.self)
}
