import AttnEngine
import AttnTiling

/// The tiling trace: a header, one `tile` event per step of the algorithm, and a `summary`
/// (schema `attnlab.trace/1`, documented in docs/trace-format.md), plus a text view and a Chrome
/// trace-event timeline.
public enum TileTrace {
    public static func header(_ r: TileResult) -> JSON {
        var config: [(String, JSON)] = [
            ("algo", .string(r.algorithm.rawValue)), ("n", .int(r.n)), ("d", .int(r.d)),
            ("q_heads", .int(r.layout.qHeads)), ("kv_heads", .int(r.layout.kvHeads)), ("rows_per_kv_head", .int(r.rows)),
            ("causal", .bool(r.causal)), ("backward", .bool(r.backward != nil)),
            ("sram_elements", .int(r.sramElements)), ("dtype", .string(r.dtype.rawValue)),
            ("block_rows", .int(r.blocks.br)), ("block_cols", .int(r.blocks.bc)), ("block_source", .string(r.blockSource.rawValue)),
        ]
        if r.batch > 1 { config.append(("batch", .int(r.batch))) }
        if let w = r.watchRow { config.append(("watch_row", .int(w))) }
        var fields: [(String, JSON)] = [("type", .string("header")), ("schema", .string(DecodeTrace.schema)), ("kind", .string("tile")), ("config", .object(config))]
        if let m = r.watchTrueMax, let l = r.watchTrueSum {
            fields.append(("watch_true_max", .double(m)))
            fields.append(("watch_true_sum", .double(l)))
        }
        return .object(fields)
    }

    public static func event(_ s: TileStep) -> JSON {
        func transfers(_ list: [Transfer]) -> JSON {
            .array(list.map { .object([("tensor", .string($0.tensor.description)), ("block", .string($0.name)), ("elements", .int($0.elements))]) })
        }
        var fields: [(String, JSON)] = [
            ("type", .string("tile")), ("step", .int(s.index)), ("phase", .string(s.phase.text)), ("kv_head", .int(s.kvHead)),
            ("i", s.i.map(JSON.int) ?? .null), ("j", s.j.map(JSON.int) ?? .null),
            ("rows", .ints([s.rows.lowerBound, s.rows.upperBound])), ("cols", .ints([s.cols.lowerBound, s.cols.upperBound])),
            ("masked", .bool(s.masked)), ("loads", transfers(s.loads)), ("stores", transfers(s.stores)),
            ("sram", .int(s.sramAfter)), ("sram_peak", .int(s.sramPeak)),
            ("hbm_reads", .int(s.hbmReads)), ("hbm_writes", .int(s.hbmWrites)),
        ]
        if let w = s.watch {
            fields.append(("watch", .object([("row", .int(w.row)), ("m", .double(Double(w.m))), ("l", .double(Double(w.l))),
                                             ("rescale", .double(Double(w.rescale)))])))
        }
        return .object(fields)
    }

    /// The totals (`attnlab tile --json` and the trace's last line); with `--batch`, of every copy.
    public static func summary(_ r: TileResult, type: Bool = false) -> JSON {
        func pass(_ p: PassCounts) -> JSON {
            .object([
                ("hbm_reads", .int(p.hbmReads)), ("hbm_writes", .int(p.hbmWrites)), ("peak_sram", .int(p.peakSram)),
                ("flops", .int(p.flops.total)),
                ("reads", .object(TileTensor.allCases.filter { p.reads($0) > 0 }.map { ($0.description, .int(p.reads($0))) })),
                ("writes", .object(TileTensor.allCases.filter { p.writes($0) > 0 }.map { ($0.description, .int(p.writes($0))) })),
            ])
        }
        var fields: [(String, JSON)] = type ? [("type", .string("summary"))] : []
        let f = r.flops
        fields += [
            ("algo", .string(r.algorithm.rawValue)), ("n", .int(r.n)), ("d", .int(r.d)),
            ("q_heads", .int(r.layout.qHeads)), ("kv_heads", .int(r.layout.kvHeads)), ("causal", .bool(r.causal)),
        ]
        // Only a batched run names its batch, so single runs keep their output.
        if r.batch > 1 { fields.append(("batch", .int(r.batch))) }
        fields += [
            ("sram_elements", .int(r.sramElements)), ("block_rows", .int(r.blocks.br)), ("block_cols", .int(r.blocks.bc)),
            ("block_source", .string(r.blockSource.rawValue)),
            ("hbm_reads", .int(r.hbmReads)), ("hbm_writes", .int(r.hbmWrites)), ("hbm_accesses", .int(r.hbmAccesses)),
            ("hbm_bytes", .int(r.hbmBytes)), ("dtype", .string(r.dtype.rawValue)),
            ("peak_sram", .int(r.peakSram)), ("exceeds_sram", .bool(r.exceedsSram)),
            ("flops", .int(f.total)),
            ("flops_by_kind", .object([("matmul", .int(f.matmul)), ("exp", .int(f.exp)), ("max", .int(f.max)), ("div", .int(f.div)), ("other", .int(f.other))])),
            ("max_abs_error", r.maxAbsError.map(JSON.double) ?? .null), ("checked_rows", .int(r.checkedRows)),
            ("forward", pass(r.forward)),
        ]
        if let b = r.backward {
            fields.append(("backward", pass(b)))
            fields.append(("max_abs_grad_error", r.maxAbsGradError.map(JSON.double) ?? .null))
        }
        return .object(fields)
    }

    public static func jsonl(_ r: TileResult) -> [UInt8] {
        var out: [UInt8] = []
        for line in [header(r)] + r.steps.map(event) + [summary(r, type: true)] {
            line.write(to: &out)
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// Chrome trace-event JSON (Perfetto, chrome://tracing). The time axis is HBM traffic — one
    /// microsecond per element moved — so the widest bars are the steps that move the most; a step
    /// that moves nothing gets 1 µs. Counter tracks show SRAM occupancy and cumulative HBM traffic.
    public static func chrome(_ r: TileResult) -> [UInt8] {
        var events: [JSON] = [
            .object([("name", .string("process_name")), ("ph", .string("M")), ("pid", .int(1)),
                     ("args", .object([("name", .string("\(r.algorithm.rawValue) N=\(r.n) d=\(r.d) M=\(r.sramElements)"))]))]),
        ]
        var ts = 0
        for s in r.steps {
            let moved = s.loads.reduce(0) { $0 + $1.elements } + s.stores.reduce(0) { $0 + $1.elements }
            let dur = max(1, moved)
            var name = s.phase.text
            if let i = s.i, let j = s.j { name += " (\(i),\(j))" } else if let i = s.i { name += " (\(i))" }
            events.append(.object([
                ("name", .string(name)), ("cat", .string(s.phase.text)), ("ph", .string("X")), ("pid", .int(1)), ("tid", .int(s.kvHead + 1)),
                ("ts", .int(ts)), ("dur", .int(dur)),
                ("args", .object([("loads", .string(s.loads.map(\.name).joined(separator: " "))),
                                  ("stores", .string(s.stores.map(\.name).joined(separator: " "))),
                                  ("elements_moved", .int(moved)), ("sram_peak", .int(s.sramPeak)),
                                  ("masked", .bool(s.masked))])),
            ]))
            events.append(.object([("name", .string("SRAM elements")), ("ph", .string("C")), ("pid", .int(1)), ("ts", .int(ts)),
                                   ("args", .object([("in use", .int(s.sramPeak)), ("capacity", .int(r.sramElements))]))]))
            ts += dur
            events.append(.object([("name", .string("HBM elements")), ("ph", .string("C")), ("pid", .int(1)), ("ts", .int(ts)),
                                   ("args", .object([("reads", .int(s.hbmReads)), ("writes", .int(s.hbmWrites))]))]))
        }
        var out: [UInt8] = []
        JSON.object([("traceEvents", .array(events)), ("displayTimeUnit", .string("ms")),
                     ("otherData", .object([("schema", .string(DecodeTrace.schema)), ("time_axis", .string("1 us = 1 HBM element moved"))]))])
            .write(to: &out)
        out.append(UInt8(ascii: "\n"))
        return out
    }

    /// One line per step, aligned: what moved, SRAM after the step, HBM so far, the watched row.
    public static func text(_ r: TileResult) -> String {
        var out = "AttnLab tile trace (\(DecodeTrace.schema))\n"
        out += "algorithm  \(r.algorithm.rawValue), N = \(r.n), d = \(r.d), \(r.layout.qHeads) query / \(r.layout.kvHeads) KV heads\(r.causal ? ", causal" : "")\n"
        out += "SRAM       M = \(Format.grouped(r.sramElements)) elements, \(r.blocks) (\(r.blockSource.rawValue))\n"
        if let w = r.watchRow, let m = r.watchTrueMax, let l = r.watchTrueSum {
            out += "watching   query row \(w) of head 0: true max \(Format.fixed(m, 4)), true sum of exp(s − max) \(Format.fixed(l, 4))\n"
        }
        out += "\n"
        let rows: [[String]] = r.steps.map(textRow)
        out += Format.table(["step", "phase", "i", "j", "rows", "cols", "loads", "stores", "SRAM peak", "HBM reads", "HBM writes", "watched row"],
                            rows, rightAligned: [0, 2, 3, 8, 9, 10])
        out += "\n◩ = block on the causal diagonal, masked. Counts are elements.\n"
        return out
    }

    private static func textRow(_ s: TileStep) -> [String] {
        let rows = "\(s.rows.lowerBound)–\(s.rows.upperBound - 1)"
        let cols = s.cols.isEmpty ? "" : "\(s.cols.lowerBound)–\(s.cols.upperBound - 1)" + (s.masked ? " ◩" : "")
        let loads = s.loads.map(\.name).joined(separator: " ")
        let stores = s.stores.map(\.name).joined(separator: " ")
        var watched = ""
        if let w = s.watch {
            let m = Format.fixed(Double(w.m), 4), l = Format.fixed(Double(w.l), 4), x = Format.fixed(Double(w.rescale), 4)
            watched = "m \(m)  l \(l)  ×\(x)"
        }
        let i = s.i.map(String.init) ?? "", j = s.j.map(String.init) ?? ""
        return [String(s.index), s.phase.text, i, j, rows, cols, loads, stores,
                Format.grouped(s.sramPeak), Format.grouped(s.hbmReads), Format.grouped(s.hbmWrites), watched]
    }
}
