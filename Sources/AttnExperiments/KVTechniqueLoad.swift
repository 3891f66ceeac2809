import AttnEngine

extension KVTechniqueSpec {
    /// The engine's technique for a loaded model: the storage and eviction `check` allows, with the
    /// latent bases computed from `weights` (a truncated SVD per producer layer) when a rank is asked for.
    public func technique(_ config: DecoderConfig, _ weights: DecoderWeights) throws(ConfigError) -> KVTechnique {
        let storage = try storage(for: config), eviction = try eviction(for: config)
        var latent: LatentKV? = nil
        if let latentRank { latent = try LatentBasis(config: config, weights: weights).truncated(rank: latentRank) }
        let technique = try KVTechnique(storage: storage, eviction: eviction, latent: latent)
        try technique.check(config)
        return technique
    }

}
