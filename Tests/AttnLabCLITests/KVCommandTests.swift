import Foundation
import Testing

@Suite("attnlab kv: windows, techniques, paged caches, what fits")
struct KVCommandTests {
    @Test("the text shows the window, the formula of a technique's bytes, and the table of what fits")
    func text() throws {
        let mistral = try Run(["kv", "--preset", "mistral-7b", "--context", "32768"]).stdout
        #expect(mistral.contains("min(context 32,768, window 4,096): a rolling buffer"))
        #expect(mistral.contains("536,870,912 B"))
        let int4 = try Run(["kv", "--preset", "llama-3-8b", "--kv-quant", "int4"]).stdout
        #expect(int4.contains("32 layers × (2 × ⌈1,024 × 4 bits / 8⌉ codes + 2 × 1,024/32 × 4 B fp16 scale and minimum)"))
        let fit = try Run(["kv", "--preset", "llama-2-7b", "--gpu-memory", "80GiB"]).stdout
        #expect(fit.contains("What fits on 80 GiB = 80×2³⁰ B (85,899,345,920 B), requests of 4,096 tokens:"))
        for row in ["as given", "GQA-8", "MQA (1 KV head)", "CLA2", "int8 codes", "int4 codes"] { #expect(fit.contains(row), "\(row)") }
        #expect(!fit.contains("MHA (32 KV heads)"), "Llama 2 7B is MHA already: no second row for it")
    }

    @Test("paged: blocks, fragmentation and the block tables, in text and JSON")
    func paged() throws {
        let run = try Run(["kv", "--preset", "llama-3-8b", "--page-tokens", "16", "--requests", "300,1000,4096,77"])
        #expect(run.stdout.contains("15 empty slots in last blocks"))
        #expect(run.stdout.contains("request 3 (77 tokens): "))
        let json = try Run(["kv", "--preset", "llama-3-8b", "--page-tokens", "16", "--requests", "300,77", "--json"]).json()
        #expect(json["paged_blocks"] as? Int == 19 + 5)
        #expect(json["paged_fragmentation_slots"] as? Int == 4 + 3)
        #expect((json["block_tables"] as? [[Int]])?.map(\.count) == [19, 5])
    }
}
