/// The memory a training run allocates, counted from its buffers (not estimated).
public struct TrainingMemory: Sendable, Equatable {
    /// What the forward pass keeps for backward, and the backward pass's scratch.
    public struct Activations: Sendable, Equatable {
        /// Per layer; with CLA a consumer's total holds no K/V rows.
        public let perLayerBytes: [Int]
        /// Of `perLayerBytes`, the K and V rows (0 for a CLA consumer), with a latent model's latents.
        public let perLayerKVBytes: [Int]
        /// Of `perLayerKVBytes`, a latent model's latents: R elements per token on each producer, all
        /// that its inference cache holds (0 without a latent rank).
        public let perLayerLatentBytes: [Int]
        /// Final norm, logits and per-row losses.
        public let finalBytes: Int
        /// Gradients of activations (one layer's at a time) and per-producer dK, dV.
        public let backwardScratchBytes: Int

        public var totalBytes: Int { perLayerBytes.reduce(0, +) + finalBytes + backwardScratchBytes }
    }

    public let parameterBytes: Int
    public let gradientBytes: Int
    public let optimizerBytes: Int
    public let activations: Activations

    public var totalBytes: Int { parameterBytes + gradientBytes + optimizerBytes + activations.totalBytes }
}
