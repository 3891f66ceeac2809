/// Which layer's K/V cache each layer attends to: the one mechanism behind every Cross-Layer
/// Attention pattern (Brandon et al. 2024, arXiv 2405.12981).
///
/// `source[l] == l` means layer `l` is a *producer*: it has its own W_K, W_V and writes a cache.
/// Otherwise layer `l` is a *consumer*: it computes only queries and reads the cache of the earlier
/// producer `source[l]`. Named patterns (`cla:S`, `keep-ends`, …) are only ways to build this map.
public struct KVSourceMap: Equatable, Hashable, Sendable {
    /// `source[l]`: the layer whose K/V layer `l` reads.
    public let source: [Int]

    /// Checks an explicit map: it must start with a producer, never point forward, and point only at
    /// producers (a consumer's cache does not exist).
    public init(source: [Int], field: Field = .kvMap) throws(ConfigError) {
        guard !source.isEmpty else { throw ConfigError(field, "the map is empty") }
        for (l, s) in source.enumerated() {
            guard s >= 0 else { throw ConfigError(field, "layer \(l) points at layer \(s), which does not exist") }
            guard s <= l else {
                throw ConfigError(field, "layer \(l) points forward at layer \(s); a layer can only reuse the K/V of an earlier layer")
            }
            guard source[s] == s else {
                throw ConfigError(field, "layer \(l) points at layer \(s), which stores no K/V of its own (it reuses layer \(source[s])'s)")
            }
        }
        self.source = source
    }

    /// Every layer its own K/V: an ordinary transformer.
    public static func unshared(layers: Int) -> KVSourceMap {
        KVSourceMap(checked: Array(0..<layers))
    }

    private init(checked source: [Int]) { self.source = source }

    public var layers: Int { source.count }

    /// Layers that compute and store K/V, in order.
    public var producers: [Int] { source.indices.filter { source[$0] == $0 } }

    /// Number of layers that store K/V (`ceil(L/S)` for CLA-S).
    public var kvLayers: Int { producers.count }

    public func isProducer(_ layer: Int) -> Bool { source[layer] == layer }

    /// Layers that read `producer`'s cache, the producer itself first.
    public func readers(of producer: Int) -> [Int] { source.indices.filter { source[$0] == producer } }
}

/// A named way to build a `KVSourceMap` for any number of layers.
public enum KVPattern: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Every layer stores its own K/V.
    case none
    /// CLA with sharing factor S: groups of S consecutive layers share the first one's cache. When S
    /// does not divide L the *first* group is the short one (the paper's convention: 10 layers, CLA3
    /// → producers 0, 1, 4, 7).
    case cla(Int)
    /// The paper's CLA2-KeepEnds: first and last layer alone, the layers between in CLA2 pairs.
    case keepEnds
    /// The paper's CLA2-DenseFront (20 layers: 0–9 own, 10–18 reuse 9, 19 own), scaled to L layers.
    case denseFront
    /// The paper's CLA2-DenseBack (20 layers: 0–1 own, 2–10 reuse 1, 11–19 own), scaled to L layers.
    case denseBack
    /// An explicit `source[l]` list such as `0,0,2,2,4`.
    case explicit([Int])

    /// Names accepted by `parse`, for help text and suggestions.
    public static let names = ["none", "cla:S", "keep-ends", "dense-front", "dense-back"]

    /// Parses `none`, `cla:S` (or `claS`), `keep-ends`, `dense-front`, `dense-back`, or a comma list.
    public static func parse(_ text: String, field: Field = .kvPattern) throws(ConfigError) -> KVPattern {
        let t = text.lowercased()
        switch t {
        case "none", "mha", "off": return .none
        case "keep-ends", "keepends": return .keepEnds
        case "dense-front", "densefront": return .denseFront
        case "dense-back", "denseback": return .denseBack
        default: break
        }
        for prefix in ["cla:", "cla"] where t.hasPrefix(prefix) {
            let digits = t.dropFirst(prefix.count)
            guard let s = Int(digits), s > 0 else {
                throw ConfigError(field, "'\(text)': the sharing factor after cla: must be a positive integer")
            }
            return .cla(s)
        }
        if t.contains(",") || Int(t) != nil {
            var list: [Int] = []
            for part in t.split(separator: ",", omittingEmptySubsequences: false) {
                guard let v = Int(part.filter { $0 != " " }) else {
                    throw ConfigError(field, "'\(part)' in '\(text)' is not a layer index")
                }
                list.append(v)
            }
            return .explicit(list)
        }
        throw ConfigError(field, "unknown pattern '\(text)' (expected one of \(names.joined(separator: ", ")) or a list such as 0,0,2,2)")
    }

    public var description: String {
        switch self {
        case .none: "none"
        case .cla(let s): "cla:\(s)"
        case .keepEnds: "keep-ends"
        case .denseFront: "dense-front"
        case .denseBack: "dense-back"
        case .explicit(let list): list.map(String.init).joined(separator: ",")
        }
    }

    /// The layer → source map of this pattern for `layers` layers.
    public func map(layers: Int, field: Field = .kvPattern) throws(ConfigError) -> KVSourceMap {
        guard layers > 0 else { throw ConfigError(.layers, "must be positive, got \(layers)") }
        switch self {
        case .none:
            return .unshared(layers: layers)
        case .cla(let s):
            guard s >= 1 else { throw ConfigError(field, "the CLA sharing factor must be at least 1") }
            guard s <= layers else {
                throw ConfigError(field, "sharing factor \(s) is larger than the \(layers) layers")
            }
            return try KVSourceMap(source: Self.claGroups(Array(0..<layers), factor: s), field: field)
        case .keepEnds:
            guard layers > 2 else { return .unshared(layers: layers) }
            let middle = Self.claGroups(Array(1..<(layers - 1)), factor: 2)
            return try KVSourceMap(source: [0] + middle + [layers - 1], field: field)
        case .denseFront:
            // 20 layers: the first half (0–9) own, the rest but the last reuse the half's last producer.
            let half = layers / 2
            guard half >= 1, layers > 2 else { return .unshared(layers: layers) }
            let source = (0..<layers).map { l in (l < half || l == layers - 1) ? l : half - 1 }
            return try KVSourceMap(source: source, field: field)
        case .denseBack:
            // 20 layers: k = L/2 − 1 = 9 reusers of layer 1, then the last k own; L − 2k front producers.
            let k = layers / 2 - 1
            guard k >= 1 else { return .unshared(layers: layers) }
            let front = layers - 2 * k
            let source = (0..<layers).map { l in (l < front || l >= front + k) ? l : front - 1 }
            return try KVSourceMap(source: source, field: field)
        case .explicit(let list):
            guard list.count == layers else {
                throw ConfigError(field, "has \(list.count) entries but the model has \(layers) layers")
            }
            return try KVSourceMap(source: list, field: field)
        }
    }

    /// Splits `layers` into groups of `factor`, the first group short when `factor` does not divide
    /// the count; every layer maps to its group's first layer.
    private static func claGroups(_ layers: [Int], factor: Int) -> [Int] {
        let short = layers.count % factor
        return layers.indices.map { i in
            let groupStart = i < short ? 0 : short + ((i - short) / factor) * factor
            return layers[groupStart]
        }
    }
}
