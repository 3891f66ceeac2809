import AttnEngine
import Testing
import AttnTraining

@Suite struct DataMQARTests {
    /// Every sequence: N distinct keys (lower half) with N distinct values (upper half), then each key
    /// asked once at an even offset of the query region, its target the value paired with it in the
    /// same sequence; no other target.
    @Test func everyAnswerIsItsKeysValue() throws {
        let task = try MQAR(vocabSize: 64, seq: 48, pairs: 8)
        for step in 0..<10 {
            let batch = task.batch(seed: 3, step: step, batchSize: 6)
            #expect(batch.targetCount == 6 * 8)
            for b in 0..<6 {
                let x = Array(batch.inputs[b * 48..<(b + 1) * 48]), y = Array(batch.targets[b * 48..<(b + 1) * 48])
                let keys = (0..<8).map { x[2 * $0] }, values = (0..<8).map { x[2 * $0 + 1] }
                #expect(Set(keys).count == 8 && keys.allSatisfy { (0..<32).contains($0) })
                #expect(Set(values).count == 8 && values.allSatisfy { (32..<64).contains($0) })
                #expect(y[..<16].allSatisfy { $0 == Batch.noTarget })
                var asked: [Int32] = []
                for t in 16..<48 where y[t] != Batch.noTarget {
                    #expect((t - 16) % 2 == 0)
                    let key = x[t]
                    let i = try #require(keys.firstIndex(of: key))
                    #expect(y[t] == values[i])
                    asked.append(key)
                }
                #expect(asked.sorted() == keys.sorted())
                #expect(x.allSatisfy { (0..<64).contains($0) })
            }
        }
    }

    /// A batch is a function of (seed, split, step).
    @Test func deterministic() throws {
        let task = try MQAR(vocabSize: 256, seq: 64, pairs: 4)
        #expect(task.batch(seed: 1, step: 5, batchSize: 3) == task.batch(seed: 1, step: 5, batchSize: 3))
        #expect(task.batch(seed: 1, step: 5, batchSize: 3) != task.batch(seed: 1, step: 6, batchSize: 3))
        #expect(task.batch(seed: 1, step: 5, batchSize: 3) != task.batch(seed: 2, step: 5, batchSize: 3))
        #expect(task.batch(seed: 1, step: 5, batchSize: 3, split: .train) != task.batch(seed: 1, step: 5, batchSize: 3, split: .validation))
    }

    /// The power law puts queries early: over many sequences the first slot of the query region is
    /// used far more often than the last (weights 1 : 28^−0.99 before removal).
    @Test func gapsFollowThePowerLaw() throws {
        let task = try MQAR(vocabSize: 128, seq: 64, pairs: 4)  // 28 slots
        let batch = task.batch(seed: 9, step: 0, batchSize: 400)
        var used = [Int](repeating: 0, count: 28)
        for b in 0..<400 {
            for slot in 0..<28 where batch.targets[b * 64 + 8 + 2 * slot] != Batch.noTarget { used[slot] += 1 }
        }
        #expect(used.reduce(0, +) == 1600)
        #expect(used[0] > 3 * used[27])
        #expect(used[0] > used[13])
    }

    @Test func parameterErrors() {
        #expect(throws: ConfigError(.mqarPairs, "must be at least 1, got 0")) { try MQAR(vocabSize: 64, seq: 64, pairs: 0) }
        #expect(throws: ConfigError(.fields([.vocab, .mqarPairs]), "40 pairs need 40 distinct keys and 40 distinct values, a vocabulary of at least 80 tokens; got 64")) {
            try MQAR(vocabSize: 64, seq: 256, pairs: 40)
        }
        #expect(throws: ConfigError(.fields([.seq, .mqarPairs]), "8 pairs need a sequence of at least 32 tokens (2 per pair, then 8 queries with a slot after each); got 31")) {
            try MQAR(vocabSize: 64, seq: 31, pairs: 8)
        }
        // The smallest that fit.
        #expect((try? MQAR(vocabSize: 16, seq: 32, pairs: 8)) != nil)
    }

    /// Accuracy counts the positions with a target whose row's (first) maximum is the target.
    @Test func accuracy() {
        let v = 4
        let logits: [Float] = [
            0, 9, 0, 0,  // no target
            1, 0, 5, 0,  // target 2: right
            3, 3, 0, 0,  // target 1: a tie goes to the first maximum, 0: wrong
            0, 0, 0, 7,  // target 3: right
        ]
        let accuracy = RecallAccuracy(logits: logits, vocabSize: v, targets: [Batch.noTarget, 2, 1, 3])
        #expect(accuracy.correct == 2 && accuracy.queries == 3)
        #expect(abs(accuracy.fraction - 2.0 / 3) < 1e-15)
        #expect(RecallAccuracy(logits: [], vocabSize: v, targets: []).fraction == 0)
    }
}
