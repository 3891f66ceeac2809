/// ALBERT-style cross-layer *weight* sharing (Lan et al. 2019): layers reuse parameters, which cuts
/// the parameter count but leaves every layer computing — and caching — its own activations.
public enum WeightSharing: String, CaseIterable, Sendable, Codable {
    /// Every layer has its own weights.
    case none
    /// One set of attention and FFN weights for all layers (ALBERT's default, "all-shared").
    case all
    /// Attention weights shared, FFN weights per layer (ALBERT's "shared-attention").
    case attention
    /// FFN weights shared, attention weights per layer (ALBERT's "shared-FFN").
    case ffn

    /// The index of the attention weight set that layer `l` uses.
    @inline(__always)
    public func attentionSet(layer l: Int) -> Int { (self == .all || self == .attention) ? 0 : l }

    /// The index of the FFN weight set that layer `l` uses.
    @inline(__always)
    public func ffnSet(layer l: Int) -> Int { (self == .all || self == .ffn) ? 0 : l }

    /// How many distinct attention (FFN) weight sets a model of `layers` layers holds.
    public func attentionSets(layers: Int) -> Int { (self == .all || self == .attention) ? 1 : layers }
    public func ffnSets(layers: Int) -> Int { (self == .all || self == .ffn) ? 1 : layers }
}
