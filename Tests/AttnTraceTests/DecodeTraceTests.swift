import AttnEngine
import AttnTrace
import Foundation
import Testing

/// A CLA2 + GQA decode with its trace settings.
func traceRun(detail: RecordDetail = .summary, seed: UInt64 = 5) throws -> DecodeRun {
    let config = try DecoderConfig(
        layers: 5, dModel: 32, attention: AttentionLayout(qHeads: 4, kvHeads: 2, headDim: 8), ffn: 48,
        vocab: CharVocabulary.count, kvMap: KVPattern.cla(2).map(layers: 5))
    let weights = DecoderWeights(config: config, seed: seed)
    let prompt = try CharVocabulary.encode("kv \"cache\"\n", vocab: config.vocab)
    let decoder = Decoder(config: config, weights: weights, capacityTokens: prompt.count + 4, cacheDType: .bf16)
    var sampler = Sampler(temperature: 0.8, seed: seed)
    let result = decoder.generate(prompt: prompt, tokens: 5, sampler: &sampler, detail: detail)
    return DecodeRun(config: config, seed: seed, temperature: 0.8, cacheDType: .bf16, detail: detail, result: result, maxAbsDiff: nil)
}

func parseLines(_ bytes: [UInt8]) throws -> [[String: Any]] {
    let text = String(decoding: bytes, as: UTF8.self)
    #expect(text.hasSuffix("\n"))
    return try text.split(separator: "\n").map { line in
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }
}

@Suite("Decode trace (attnlab.trace/1)")
struct DecodeTraceTests {
    @Test("every line is a JSON object; the header comes first with the schema and config")
    func header() throws {
        let lines = try parseLines(DecodeTrace.jsonl(try traceRun()))
        let header = lines[0]
        #expect(header["type"] as? String == "header")
        #expect(header["schema"] as? String == "attnlab.trace/1")
        let config = try #require(header["config"] as? [String: Any])
        #expect(config["kv_map"] as? [Int] == [0, 1, 1, 3, 3])  // 5 layers CLA2: first group short
        #expect(config["head_map"] as? [Int] == [0, 0, 1, 1])
        #expect(header["prompt_text"] as? String == "kv \"cache\"\n")
        #expect(lines.dropFirst().allSatisfy { $0["type"] as? String != "header" })
    }

    @Test("events per step: a kv_write per producer, a kv_read per layer, then the step; bytes add up")
    func eventsAddUp() throws {
        let run = try traceRun()
        let lines = try parseLines(DecodeTrace.jsonl(run))
        let steps = run.result.steps.count
        let writes = lines.filter { $0["type"] as? String == "kv_write" }
        let reads = lines.filter { $0["type"] as? String == "kv_read" }
        let stepEvents = lines.filter { $0["type"] as? String == "step" }
        #expect(writes.count == steps * 3)
        #expect(reads.count == steps * 5)
        #expect(stepEvents.count == steps)
        // bf16: one row of one producer = 2 × 2 heads × 8 × 2 bytes.
        #expect(writes.allSatisfy { $0["bytes"] as? Int == 64 && $0["layer"] as? Int == $0["source_layer"] as? Int })
        for read in reads {
            let step = read["step"] as! Int
            #expect(read["tokens"] as? Int == step + 1)
            #expect(read["bytes"] as? Int == 64 * (step + 1))
        }
        // Consumers (layers 2 and 4) read their producer's slot and write nothing.
        #expect(reads.filter { $0["layer"] as? Int == 2 }.allSatisfy { $0["source_layer"] as? Int == 1 })
        #expect(!writes.contains { $0["layer"] as? Int == 2 || $0["layer"] as? Int == 4 })
        let summary = try #require(lines.last)
        #expect(summary["type"] as? String == "summary")
        #expect(summary["kv_bytes_written"] as? Int == writes.reduce(0) { $0 + ($1["bytes"] as! Int) })
        #expect(summary["kv_bytes_read"] as? Int == reads.reduce(0) { $0 + ($1["bytes"] as! Int) })
        #expect(summary["kv_cache_bytes"] as? Int == stepEvents.last?["cache_bytes"] as? Int)
        #expect(summary["kv_cache_bytes"] as? Int == run.budget.bytesPerToken * steps)
        // Events come in step order, each step closed by its step event.
        var lastStep = -1
        for line in lines.dropFirst() where line["type"] as? String != "summary" {
            let s = line["step"] as! Int
            #expect(s >= lastStep)
            lastStep = s
        }
    }

    @Test("full detail adds the K/V rows written and attention weights; summary detail does not")
    func detail() throws {
        let full = try parseLines(DecodeTrace.jsonl(try traceRun(detail: .full)))
        let write = try #require(full.first { $0["type"] as? String == "kv_write" })
        #expect((write["k"] as? [[Double]])?.count == 2)
        #expect((write["k"] as? [[Double]])?.first?.count == 8)
        let attention = full.filter { $0["type"] as? String == "attention" }
        #expect(!attention.isEmpty)
        for event in attention {
            let rows = try #require(event["weights"] as? [[Double]])
            #expect(rows.count == 4)
            // Rounded to 4 decimals, each row still sums to 1 within rounding.
            for row in rows {
                let sum: Double = row.reduce(0, +)
                let tolerance = 0.00005 * Double(row.count) + 1e-9
                #expect(abs(sum - 1) <= tolerance)
            }
        }
        let summary = try parseLines(DecodeTrace.jsonl(try traceRun()))
        #expect(!summary.contains { $0["type"] as? String == "attention" || $0["k"] != nil })
    }

    @Test("two runs give byte-identical traces; another seed does not")
    func determinism() throws {
        #expect(DecodeTrace.jsonl(try traceRun(detail: .full)) == DecodeTrace.jsonl(try traceRun(detail: .full)))
        #expect(DecodeTrace.text(try traceRun(detail: .full)) == DecodeTrace.text(try traceRun(detail: .full)))
        #expect(DecodeTrace.jsonl(try traceRun(seed: 6)) != DecodeTrace.jsonl(try traceRun(seed: 5)))
    }

    @Test("the text trace has one block per step with a row per layer")
    func text() throws {
        let run = try traceRun()
        let text = DecodeTrace.text(run)
        #expect(text.components(separatedBy: "\nstep ").count - 1 == run.result.steps.count)
        #expect(text.contains("kv map  0 1 1 3 3"))
        #expect(text.contains("q0–q1 → kv0, q2–q3 → kv1"))
        #expect(text.contains("← 1"))
        #expect(text.contains("cache 1 token × 3 KV layers = 192 B"))
        #expect(text.contains("cache \(run.result.steps.count) tokens × 3 KV layers = \(Format.grouped(run.result.cache.bytes)) B"))
    }
}

@Suite("JSON and number formatting")
struct FormatTests {
    @Test("decimals, integers and escapes round-trip through a JSON parser")
    func json() throws {
        let value = JSON.object([
            ("a", .rounded(0.12345)), ("b", .rounded(-0.00004)), ("c", .rounded(-0.05)), ("d", .rounded(12.5, digits: 2)),
            ("e", .int(-42)), ("f", .string("q\"\\\n\t\u{1}é日本")), ("g", .double(1e-7)), ("h", .double(.nan)), ("i", .rounded(3)),
        ])
        let text = value.serialized()
        let expectedStart = #"{"a":0.1235,"b":0,"c":-0.05,"d":12.5,"e":-42,"#
        #expect(text.hasPrefix(expectedStart))
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(parsed["a"] as? Double == 0.1235)
        #expect(parsed["c"] as? Double == -0.05)
        #expect(parsed["f"] as? String == "q\"\\\n\t\u{1}é日本")
        #expect(parsed["g"] as? Double == 1e-7)
        #expect(parsed["h"] is NSNull)
        #expect(parsed["i"] as? Int == 3)
    }

    @Test("grouping, units and fixed decimals")
    func numbers() {
        #expect(Format.grouped(33_554_432) == "33,554,432")
        #expect(Format.grouped(-1000) == "-1,000")
        #expect(Format.grouped(999) == "999")
        #expect(Format.bytes(33_554_432) == "33.55 MB")
        #expect(Format.bytes(512) == "512 B")
        #expect(Format.bytes(1 << 30, units: .binary) == "1.00 GiB")
        #expect(Format.percent(0.875) == "87.50%")
        #expect(Format.fixed(0.0049, 2) == "0.00")
        #expect(Format.fixed(-1.005, 1) == "-1.0")
        #expect(Format.fixed(2.5, 0) == "3")
    }
}
