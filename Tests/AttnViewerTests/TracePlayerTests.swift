import AttnEngine
import AttnTiling
import AttnTrace
import AttnViewer
import Foundation
import Testing

/// A small FA2 run (forward and backward) with every step recorded.
func tileRun(n: Int = 64, sram: Int = 1024, algorithm: TileAlgorithm = .fa2, backward: Bool = true) throws -> TileResult {
    var o = TileOptions(algorithm: algorithm, sramElements: sram)
    o.backward = backward
    o.recordSteps = true
    o.check = false
    return try TiledAttention.run(try TileProblem(n: n, d: 16), o)
}

/// A CLA2 decode of a short prompt.
func decodeRun(detail: RecordDetail = .full) throws -> DecodeRun {
    let config = try DecoderConfig(
        layers: 4, dModel: 32, attention: AttentionLayout(qHeads: 4, kvHeads: 2, headDim: 8), ffn: 48,
        vocab: CharVocabulary.count, kvMap: KVPattern.cla(2).map(layers: 4))
    let prompt = try CharVocabulary.encode("ab", vocab: config.vocab)
    let decoder = Decoder(config: config, weights: DecoderWeights(config: config, seed: 3), capacityTokens: prompt.count + 3, cacheDType: .fp32)
    var sampler = Sampler(temperature: 0, seed: 3)
    let result = decoder.generate(prompt: prompt, tokens: 3, sampler: &sampler, detail: detail)
    return DecodeRun(config: config, seed: 3, temperature: 0, cacheDType: .fp32, detail: detail, result: result, maxAbsDiff: nil)
}

/// The JSON data blocks of a page, by id, parsed.
func dataBlocks(_ page: [UInt8]) throws -> [String: [String: Any]] {
    let html = String(decoding: page, as: UTF8.self)
    var out: [String: [String: Any]] = [:]
    for part in html.components(separatedBy: "<script type=\"application/json\" id=\"").dropFirst() {
        let id = String(part.prefix { $0 != "\"" })
        let body = part.drop { $0 != ">" }.dropFirst()
        let end = try #require(body.range(of: "</script>"))
        out[id] = try #require(try JSONSerialization.jsonObject(with: Data(body[..<end.lowerBound].utf8)) as? [String: Any])
    }
    return out
}

@Suite("Trace player pages")
struct TracePlayerTests {
    @Test("the same trace gives the same page, byte for byte, and a page holds no network address")
    func deterministic() throws {
        let tile = try PlayerTrace(name: "fa2.jsonl", bytes: TileTrace.jsonl(try tileRun()))
        let decode = try PlayerTrace(name: "d.jsonl", bytes: DecodeTrace.jsonl(try decodeRun()))
        let a = TracePlayer.page([tile, decode]), b = TracePlayer.page([tile, decode])
        #expect(a == b)
        let again = TracePlayer.page([try PlayerTrace(name: "fa2.jsonl", bytes: TileTrace.jsonl(try tileRun())),
                                      try PlayerTrace(name: "d.jsonl", bytes: DecodeTrace.jsonl(try decodeRun()))])
        #expect(a == again)
        // Nothing that loads: the only address is SVG's namespace name, which is never fetched.
        let html = String(decoding: a, as: UTF8.self).replacing("\"http://www.w3.org/2000/svg\"", with: "")
        let found = ["http:", "https:", "src=", "<link", "@import", "url(", "fetch(", "XMLHttpRequest", "WebSocket"].filter { html.contains($0) }
        #expect(found.isEmpty, "the page holds \(found)")
    }

    @Test("text in a trace cannot end the data block: '<' is written \\u003c, and the data reads back as the trace's text")
    func escaping() throws {
        // A real trace whose prompt text (a tokenizer's text can be anything) could end a script early.
        let text = String(decoding: DecodeTrace.jsonl(try decodeRun()), as: UTF8.self)
        #expect(text.contains(#""prompt_text":"ab""#))
        let bytes = Array(text.replacing(#""prompt_text":"ab""#, with: #""prompt_text":"a</script><!--b""#).utf8)
        let page = TracePlayer.page([try PlayerTrace(name: "d.jsonl", bytes: bytes)])
        let html = String(decoding: page, as: UTF8.self)
        // The page's own closing tags: the style has none; one per script (data and player).
        #expect(html.components(separatedBy: "</script>").count - 1 == 2)
        #expect(!html.contains("<!--b"))
        let data = try #require(try dataBlocks(page)["t-0"])
        let header = try #require(data["header"] as? [String: Any])
        #expect(header["prompt_text"] as? String == "a</script><!--b")
    }

    @Test("HBM reads and writes per tensor so far equal the sum of the run's own transfers up to each step")
    func tileTotals() throws {
        let r = try tileRun()
        let data = try #require(try dataBlocks(TracePlayer.page([try PlayerTrace(name: "t.jsonl", bytes: TileTrace.jsonl(r))]))["t-0"])
        let tensors = try #require(data["tensors"] as? [String])
        let kept = try #require(data["kept"] as? [Int]), totals = try #require(data["totals"] as? [[Int]])
        #expect(data["every"] as? Int == 1 && kept == Array(0..<r.steps.count))
        var reads: [String: Int] = [:], writes: [String: Int] = [:]
        for (k, step) in r.steps.enumerated() {
            for t in step.loads { reads[t.tensor.description, default: 0] += t.elements }
            for t in step.stores { writes[t.tensor.description, default: 0] += t.elements }
            #expect(totals[k] == tensors.map { reads[$0] ?? 0 } + tensors.map { writes[$0] ?? 0 })
        }
        #expect(reads.values.reduce(0, +) == r.hbmReads && writes.values.reduce(0, +) == r.hbmWrites)
        // Every step's place in the grid is kept, five numbers per step.
        #expect((data["visits"] as? [Int])?.count == 5 * r.steps.count)
    }

    @Test("a trace over the size limit is sampled: every k-th step and the last, totals still over every step")
    func sampled() throws {
        let r = try tileRun(n: 256, sram: 1024)
        let page = TracePlayer.page([try PlayerTrace(name: "big.jsonl", bytes: TileTrace.jsonl(r))], limit: .report)
        let data = try #require(try dataBlocks(page)["t-0"])
        let every = try #require(data["every"] as? Int), kept = try #require(data["kept"] as? [Int])
        #expect(every > 1)
        #expect(data["frames"] as? Int == r.steps.count)
        #expect(kept == Array(stride(from: 0, to: r.steps.count, by: every)) + ((r.steps.count - 1) % every == 0 ? [] : [r.steps.count - 1]))
        let events = try #require(data["events"] as? [[[String: Any]]])
        #expect(events.map { $0[0]["step"] as? Int } == kept.map { r.steps[$0].index })
        let kept_bytes = kept.map { TileTrace.event(r.steps[$0]).serialized().utf8.count + 1 }.reduce(0, +)
        #expect(kept_bytes <= TracePlayer.Limit.report.bytesPerTrace)
        // The last step's totals are the run's.
        let last = try #require((data["totals"] as? [[Int]])?.last)
        #expect(last.reduce(0, +) == r.hbmReads + r.hbmWrites)
    }

    @Test("decode totals: bytes written and read so far are the sums of the steps', stored is the cache after the step")
    func decodeTotals() throws {
        let run = try decodeRun(detail: .summary)
        let data = try #require(try dataBlocks(TracePlayer.page([try PlayerTrace(name: "d.jsonl", bytes: DecodeTrace.jsonl(run))]))["t-0"])
        let totals = try #require(data["totals"] as? [[Int]])
        var written = 0, read = 0
        for (k, s) in run.result.steps.enumerated() {
            written += s.record.layers.reduce(0) { $0 + $1.bytesWritten }
            read += s.record.layers.reduce(0) { $0 + $1.bytesRead }
            #expect(totals[k] == [written, read, s.record.cacheBytes])
        }
        #expect(written == run.result.kvBytesWritten && read == run.result.kvBytesRead)
    }

    @Test("what is not a trace is refused with the reason")
    func refused() throws {
        let cases: [(String, String)] = [
            ("hello\n", "not a JSON object"),
            ("", "empty"),
            (#"{"type":"header","schema":"attnlab.trace/1","kind":"lesson","lesson":"x"}"# + "\n", "'lesson' trace"),
            (#"{"type":"header","schema":"other/2","kind":"tile"}"# + "\n", "schema"),
            (#"{"type":"header","schema":"attnlab.trace/1","kind":"tile","config":{}}"# + "\n", "no 'tile' events"),
            (#"{"a":1}"# + "\n", "not an AttnLab trace"),
        ]
        for (text, reason) in cases {
            #expect { try PlayerTrace(name: "x.jsonl", bytes: Array(text.utf8)) } throws: { error in
                (error as? ConfigError)?.reason.contains(reason) == true && (error as? ConfigError)?.subject == .file("x.jsonl")
            }
        }
    }

    @Test("a training log is read as one frame per step, validations attached to the step before them")
    func trainingLog() throws {
        let log = """
            {"step":0,"tokens":0,"val_loss":5.5,"val_ppl":244.7,"val_accuracy":0.01}
            {"step":1,"loss":5.4,"lr":0.001,"grad_norm":2.5,"tokens":512}
            {"step":2,"loss":5.1,"lr":0.001,"grad_norm":2.1,"tokens":1024}
            {"step":2,"tokens":1024,"val_loss":5.0,"val_ppl":148.4,"val_accuracy":0.05}

            """
        let trace = try PlayerTrace(name: "run.log.jsonl", bytes: Array(log.utf8))
        #expect(trace.kind == .train)
        let data = try #require(try dataBlocks(TracePlayer.page([trace]))["t-0"])
        #expect(data["frames"] as? Int == 2)
        #expect((data["preamble"] as? [[String: Any]])?.first?["val_loss"] as? Double == 5.5)
        let events = try #require(data["events"] as? [[[String: Any]]])
        #expect(events[1].count == 2 && events[1][1]["val_loss"] as? Double == 5.0)
    }
}
