import AttnLessons
import AttnTrace
import Foundation

/// The small text pictures the step-through shows under a step's narration, read from what the step
/// wrote: the tiles of S in the order a `tile` run visited them, which layers of a `decode` write
/// their own K/V cache and which read another's (←), a `kv` run's bytes per token against MHA.
enum StepPictures {
    /// The picture of a step's runs, no wider than `width` columns; empty when it has none.
    /// - Parameters:
    ///   - folder: the lesson's output folder, which `r.engineTraces` are relative to.
    ///   - maxRows: the rows the picture may take; a tile grid taller than that is said in one line.
    static func lines(_ r: StepResult, folder: String, width: Int, maxRows: Int, language: Language) -> [String] {
        let traces = r.engineTraces.filter { $0.hasSuffix(".jsonl") }.map { (name: runName($0), path: "\(folder)/\($0)") }
        let headers = traces.compactMap { t in header(t.path).map { (t.name, t.path, $0) } }
        let decodes = headers.compactMap { name, _, header in
            header["kind"] as? String == "decode" ? ((header["config"] as? [String: Any])?["kv_map"] as? [Int]).map { (name, $0) } : nil
        }
        if !decodes.isEmpty {
            return layerTable(decodes, r, width: width, language: language)
        }
        // A `kv` run's map (`kv_map.0`, `cla2.kv_map.0`, …) when a layer reads another's cache.
        let kvMaps = r.values.keys.filter { $0.hasSuffix("kv_map.0") }.sorted().map { key in
            let prefix = String(key.dropLast("kv_map.0".count))
            let map = (0...).lazy.map { r.values[prefix + "kv_map.\($0)"] }.prefix { $0 != nil }.map { Int($0!) }
            return (name: prefix.isEmpty ? "" : String(prefix.dropLast()), map: Array(map))
        }
        if !kvMaps.isEmpty, kvMaps.count <= 4, kvMaps.contains(where: { $0.map.enumerated().contains { $0.offset != $0.element } }) {
            return layerTable(kvMaps, r, width: width, language: language)
        }
        let tileRuns = headers.filter { $0.2["kind"] as? String == "tile" }
        if !tileRuns.isEmpty {
            return tiles(tileRuns.map { ($0.0, $0.1, $0.2) }, width: width, maxRows: maxRows, language: language)
        }
        if let bytes = r.values["kv_bytes_per_token"], let mha = r.values["mha_kv_bytes_per_token"], mha > 0 {
            let labels = [language.en("this model", ja: "このモデル"), "MHA"]
            let labelWidth = labels.map { Format.columns($0) }.max()!
            let barWidth = max(8, min(48, width - labelWidth - 4))
            return zip(labels, [max(1, Int(Double(barWidth) * bytes / mha)), barWidth]).map { label, n in
                "  " + label + String(repeating: " ", count: labelWidth - Format.columns(label)) + " " + String(repeating: "█", count: n)
            }
        }
        return []
    }

    /// `traces/step-03-cla2.jsonl` → "cla2"; a single run's `traces/step-03.jsonl` → "".
    static func runName(_ path: String) -> String {
        let base = (path as NSString).lastPathComponent.replacingOccurrences(of: ".jsonl", with: "")
        let parts = base.split(separator: "-", maxSplits: 2)
        return parts.count == 3 ? String(parts[2]) : ""
    }

    /// The first line of a trace: its header object.
    static func header(_ path: String) -> [String: Any]? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var data = Data()
        while let chunk = try? handle.read(upToCount: 4096), !chunk.isEmpty {
            if let newline = chunk.firstIndex(of: UInt8(ascii: "\n")) {
                data.append(chunk[chunk.startIndex..<newline])
                break
            }
            data.append(chunk)
        }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    /// One row per run: for each layer, "own" if it writes its own cache, "←s" if it reads layer
    /// s's (CLA); then the run's layout, KV layers and the cache rows each holds.
    static func layerTable(_ maps: [(name: String, map: [Int])], _ r: StepResult, width: Int, language: Language) -> [String] {
        guard let layers = maps.map(\.1.count).max(), layers > 0 else { return [] }
        let own = language.en("own", ja: "自前")
        let names = maps.map { $0.0.isEmpty ? "KV" : $0.0 }
        let labelWidth = max(Format.columns(language.en("layer", ja: "層")), names.map { Format.columns($0) }.max()!)
        func cells(_ map: [Int], arrowsOnly: Bool) -> [String] {
            map.enumerated().map { l, s in s == l ? (arrowsOnly ? "■" : own) : (arrowsOnly ? "←" : "←\(s)") }
        }
        // Wide enough for "own" and "←12"; a model too deep for that keeps one column per layer.
        var cellWidth = max(Format.columns(own), String(layers - 1).count + 1) + 1
        var arrowsOnly = false
        if labelWidth + 2 + layers * cellWidth > width {
            (cellWidth, arrowsOnly) = (2, true)
        }
        func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - Format.columns(s))) + s }
        func row(_ label: String, _ items: [String]) -> String {
            label + String(repeating: " ", count: labelWidth - Format.columns(label)) + " " + items.map { pad($0, cellWidth) }.joined()
        }
        var lines = [row(language.en("layer", ja: "層"), (0..<layers).map { arrowsOnly ? String($0 % 10) : String($0) })]
        for ((name, map), label) in zip(maps, names) {
            let prefix = name.isEmpty ? "" : "\(name)."
            var line = row(label, cells(map, arrowsOnly: arrowsOnly))
            if let kvLayers = r.values[prefix + "kv_layers"] {
                let rows = r.values[prefix + "cache_tokens"].map { language.en(" × \(Int($0)) rows", ja: " × \(Int($0))行") } ?? ""
                let note = "  " + (r.texts[prefix + "layout"].map { "\($0): " } ?? "")
                    + language.en("\(Int(kvLayers)) KV layers", ja: "KV層\(Int(kvLayers))個") + rows
                if Format.columns(line + note) <= width { line += note }
            }
            lines.append(line)
        }
        lines.append(language.en("own: the layer writes its own K/V cache; ←s: it reads layer s's",
                                   ja: "自前:その層が自分のK/Vキャッシュを書く。←s:層sのキャッシュを読む"))
        return lines.map { StepThrough.clip("  " + $0, width) }
    }

    /// The Tr × Tc tiles of S of each run, numbered in the order the run first computed them (from
    /// its trace's forward `tile` events), `·` for tiles causal masking skipped: side by side, else
    /// one under another, else each said in a line when the grids do not fit.
    static func tiles(_ runs: [(name: String, path: String, header: [String: Any])], width: Int, maxRows: Int, language: Language) -> [String] {
        let blocks = runs.compactMap { tileBlock($0.name, $0.path, $0.header, width: width, language: language) }
        guard !blocks.isEmpty else { return [] }
        var legend = [language.en("numbers: the order the tiles of S are computed; ·: skipped by the causal mask",
                                    ja: "数字:Sのタイルを計算する順番。·:因果マスクで省くタイル")]
        if blocks.contains(where: { $0.order == .rows }) {
            legend.append(language.en("row by row: Q block i outside, K/V blocks j inside", ja: "行ごと:外側がQブロックi、内側がK/Vブロックj"))
        }
        if blocks.contains(where: { $0.order == .columns }) {
            legend.append(language.en("column by column: K/V block j outside, Q blocks i inside", ja: "列ごと:外側がK/Vブロックj、内側がQブロックi"))
        }
        let grids = blocks.map { $0.title + $0.grid }
        let widths = grids.map { $0.map { Format.columns($0) }.max() ?? 0 }
        let tallest = grids.map(\.count).max() ?? 0
        if blocks.allSatisfy({ !$0.grid.isEmpty }) {
            if 2 + widths.reduce(0, +) + 4 * (grids.count - 1) <= width, tallest + legend.count <= maxRows {
                let rows = (0..<tallest).map { r in
                    zip(grids, widths).map { g, w in
                        let cell = r < g.count ? g[r] : ""
                        return cell + String(repeating: " ", count: w - Format.columns(cell))
                    }.joined(separator: "    ")
                }
                return (rows + legend).map { StepThrough.clip("  " + $0, width) }
            }
            if grids.map(\.count).reduce(0, +) + grids.count - 1 + legend.count <= maxRows {
                return (grids.enumerated().flatMap { $0.offset == 0 ? $0.element : [""] + $0.element } + legend).map { StepThrough.clip("  " + $0, width) }
            }
        }
        return (blocks.map { $0.title.joined(separator: language.en(", ", ja: "、")) } + legend.dropFirst()).map { StepThrough.clip("  " + $0, width) }
    }

    enum VisitOrder { case rows, columns }

    /// One run's tiles: a title ("FA1: 16 of 4 × 4 tiles", "column by column") and the numbered
    /// grid, empty when it is wider than `width`.
    static func tileBlock(_ name: String, _ path: String, _ header: [String: Any], width: Int, language: Language)
        -> (title: [String], order: VisitOrder?, grid: [String])? {
        guard let config = header["config"] as? [String: Any], let br = config["block_rows"] as? Int, let bc = config["block_cols"] as? Int,
              let rows = config["rows_per_kv_head"] as? Int, let n = config["n"] as? Int, br > 0, bc > 0,
              let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let Tr = (rows + br - 1) / br, Tc = (n + bc - 1) / bc
        var order: [Int: Int] = [:]  // i·Tc + j → first visit number
        var visits: [(i: Int, j: Int)] = []
        for line in text.split(separator: "\n") where line.hasPrefix("{\"type\":\"tile\"") {
            guard let event = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                  ["forward", "S = QKᵀ"].contains(event["phase"] as? String ?? ""), let i = event["i"] as? Int, let j = event["j"] as? Int,
                  order[i * Tc + j] == nil else { continue }
            order[i * Tc + j] = order.count + 1
            visits.append((i, j))
        }
        guard !visits.isEmpty else { return nil }
        // The loop order, as the visits show it: sorted by (j, i) is K/V blocks outside.
        let byRow = visits.elementsEqual(visits.sorted { ($0.i, $0.j) < ($1.i, $1.j) }) { $0 == $1 }
        let byColumn = visits.elementsEqual(visits.sorted { ($0.j, $0.i) < ($1.j, $1.i) }) { $0 == $1 }
        let visitOrder: VisitOrder? = byRow ? .rows : byColumn ? .columns : nil
        let algo = config["algo"] as? String ?? ""
        let algoName = algo == "naive" ? language.en("standard", ja: "標準") : algo.uppercased()
        let label = name.isEmpty || name == algo ? algoName : "\(name) (\(algoName))"
        let title = [language.en("\(label): \(order.count) of \(Tr) × \(Tc) tiles", ja: "\(label):\(Tr) × \(Tc)個中\(order.count)個")]
            + (visitOrder.map { [$0 == .rows ? language.en("row by row", ja: "行ごと") : language.en("column by column", ja: "列ごと")] } ?? [])
        let cell = String(order.count).count + 1
        guard 4 + Tc * cell <= width - 2 else { return (title, visitOrder, []) }
        func pad(_ s: String) -> String { String(repeating: " ", count: cell - s.count) + s }
        var grid = [" i\\j" + (0..<Tc).map { pad(String($0)) }.joined()]
        for i in 0..<Tr {
            let label = String(i)
            grid.append(String(repeating: " ", count: max(0, 4 - label.count)) + label + (0..<Tc).map { j in pad(order[i * Tc + j].map(String.init) ?? "·") }.joined())
        }
        return (title, visitOrder, grid)
    }
}
