import AttnEngine
import Foundation
import Testing
import AttnTraining

@Suite struct DataBatchTests {
    let stream = (0..<1000).map { Int32(($0 * 7919) % 251) }

    /// A batch is a function of (seed, step): a sampler made again (a resumed run) gives the same
    /// batch; another step or seed gives another. Each row is a window of the stream, its targets the
    /// same window one token later.
    @Test func trainingBatches() throws {
        let sampler = try BatchSampler(tokens: stream, batchSize: 4, seq: 16, seed: 42)
        let resumed = try BatchSampler(tokens: stream, batchSize: 4, seq: 16, seed: 42)
        #expect(sampler.batch(step: 7) == resumed.batch(step: 7))
        #expect(sampler.batch(step: 7) != sampler.batch(step: 8))
        #expect(sampler.batch(step: 7) != (try BatchSampler(tokens: stream, batchSize: 4, seq: 16, seed: 43)).batch(step: 7))
        for step in 0..<20 {
            let batch = sampler.batch(step: step)
            #expect(batch.targetCount == 64)
            for b in 0..<4 {
                let row = Array(batch.inputs[b * 16..<(b + 1) * 16]), targets = Array(batch.targets[b * 16..<(b + 1) * 16])
                let starts = (0..<(stream.count - 16)).filter { Array(stream[$0..<$0 + 16]) == row && Array(stream[$0 + 1...$0 + 16]) == targets }
                #expect(!starts.isEmpty)
            }
        }
    }

    /// Every start 0…n−T−1 can come up, and nothing past it.
    @Test func windowStartsCoverTheStream() throws {
        let short = (0..<20).map { Int32($0) }
        let sampler = try BatchSampler(tokens: short, batchSize: 8, seq: 16, seed: 1)
        var starts = Set<Int32>()
        for step in 0..<50 {
            let batch = sampler.batch(step: step)
            for b in 0..<8 { starts.insert(batch.inputs[b * 16]) }
        }
        #expect(starts == [0, 1, 2, 3])
        #expect(throws: ConfigError(.seq, "16 tokens per sequence need 17 tokens of training text (a target after each), but there are 16")) {
            try BatchSampler(tokens: Array(short[..<16]), batchSize: 1, seq: 16, seed: 1)
        }
    }

    /// ⌊evalTokens / T⌋ windows, spread evenly, never overlapping, B to a batch, the same every time.
    @Test func validationBatches() throws {
        let batches = try BatchSampler.validationBatches(tokens: stream, evalTokens: 10 * 32 + 5, batchSize: 4, seq: 32)
        #expect(batches.map(\.batchSize) == [4, 4, 2])
        let stride = (stream.count - 1) / 10
        var w = 0
        for batch in batches {
            for b in 0..<batch.batchSize {
                #expect(Array(batch.inputs[b * 32..<(b + 1) * 32]) == Array(stream[w * stride..<w * stride + 32]))
                #expect(Array(batch.targets[b * 32..<(b + 1) * 32]) == Array(stream[w * stride + 1...w * stride + 32]))
                w += 1
            }
        }
        #expect(stride >= 32)
        #expect(try BatchSampler.validationBatches(tokens: stream, evalTokens: 320, batchSize: 4, seq: 32) == batches)
        #expect(throws: ConfigError(.evalTokens, "16 is less than one sequence of 32 tokens")) {
            try BatchSampler.validationBatches(tokens: stream, evalTokens: 16, batchSize: 4, seq: 32)
        }
        #expect(throws: ConfigError(.evalTokens, "32 windows of 32 tokens need 1025 validation tokens, but the split has 1000")) {
            try BatchSampler.validationBatches(tokens: stream, evalTokens: 1024, batchSize: 4, seq: 32)
        }
        // The most that fits: 31 windows of 32 and one target after the last.
        #expect(try BatchSampler.validationBatches(tokens: stream, evalTokens: 31 * 32, batchSize: 31, seq: 32).count == 1)
    }

    @Test func unigramEntropy() throws {
        let uniform = UnigramEntropy(tokens: [0, 1, 2, 3, 3, 2, 1, 0], vocabSize: 6)
        #expect(abs(uniform.natsPerToken - Foundation.log(4)) < 1e-15)
        #expect(abs(uniform.bitsPerToken - 2) < 1e-15)
        #expect(UnigramEntropy(tokens: [5, 5, 5], vocabSize: 6).natsPerToken == 0)
        // p = (1/2, 1/4, 1/4): 1.5 bits.
        #expect(abs(UnigramEntropy(tokens: [0, 0, 1, 2], vocabSize: 3).bitsPerToken - 1.5) < 1e-15)
    }

    /// Each split's stream is its documents encoded one by one, in order; the byte tokenizer's ids
    /// are the UTF-8 bytes.
    @Test func tokenizedCorpus() throws {
        let documents = (0..<30).map { (name: "d\($0)", text: madeUpText(sentences: 20, seed: UInt64($0))) }
        let corpus = Corpus(choice: .file("made-up"), checksum: "c0ffee", documents: documents)
        let bytes = try TokenizedCorpus(corpus, tokenizer: .bytes)
        #expect(bytes.train == corpus.documents(in: .train).flatMap { $0.text.utf8.map { Int32($0) } })
        #expect(bytes.validation == corpus.documents(in: .validation).flatMap { $0.text.utf8.map { Int32($0) } })
        let bpe = try TokenizedCorpus(corpus, tokenizer: .bpe(vocabSize: 400))
        #expect(bpe.tokenizer.merges == TrainingTokenizer.train(on: corpus.documents(in: .train).map(\.text), vocabSize: 400).merges)
        #expect(try bpe.validation == corpus.documents(in: .validation).flatMap { try bpe.tokenizer.encode($0.text) })
        #expect(bpe.unigramEntropy.natsPerToken > bytes.unigramEntropy.natsPerToken)
    }

    /// The cache gives back exactly what tokenizing gives, and a cache that does not check out — a
    /// changed byte, another corpus — is rebuilt, not believed.
    @Test func tokenCache() throws {
        let folder = try TemporaryFolder()
        let documents = (0..<25).map { (name: "d\($0)", text: madeUpText(sentences: 15, seed: UInt64($0))) }
        let corpus = Corpus(choice: .file("made-up"), checksum: String(repeating: "ab", count: 32), documents: documents)
        let cache = folder.path + "/cache"
        let fresh = try TokenizedCorpus(corpus, tokenizer: .bpe(vocabSize: 300))
        let first = try TokenizedCorpus.load(corpus, tokenizer: .bpe(vocabSize: 300), cacheDirectory: cache)
        let file = cache + "/" + TokenizedCorpus.cacheFileName(checksum: corpus.checksum, tokenizer: .bpe(vocabSize: 300))
        #expect(file.hasSuffix("/abababababababab-bpe-300.tokens"))
        let stored = try #require(FileManager.default.contents(atPath: file))
        let second = try TokenizedCorpus.load(corpus, tokenizer: .bpe(vocabSize: 300), cacheDirectory: cache)
        for t in [first, second] {
            #expect(t.train == fresh.train && t.validation == fresh.validation && t.tokenizer.merges == fresh.tokenizer.merges)
        }
        let bytes = [UInt8](stored)
        #expect(TokenizedCorpus(cache: bytes, checksum: corpus.checksum, tokenizer: .bpe(vocabSize: 300)) != nil)
        #expect(TokenizedCorpus(cache: bytes, checksum: String(repeating: "cd", count: 32), tokenizer: .bpe(vocabSize: 300)) == nil)
        #expect(TokenizedCorpus(cache: bytes, checksum: corpus.checksum, tokenizer: .bpe(vocabSize: 301)) == nil)
        #expect(TokenizedCorpus(cache: Array(bytes.dropLast()), checksum: corpus.checksum, tokenizer: .bpe(vocabSize: 300)) == nil)
        var changed = bytes
        changed[changed.count / 2] ^= 1
        #expect(TokenizedCorpus(cache: changed, checksum: corpus.checksum, tokenizer: .bpe(vocabSize: 300)) == nil)
        try Data(changed).write(to: URL(fileURLWithPath: file))
        #expect(try TokenizedCorpus.load(corpus, tokenizer: .bpe(vocabSize: 300), cacheDirectory: cache).train == fresh.train)
        #expect(FileManager.default.contents(atPath: file) == stored)
    }
}
