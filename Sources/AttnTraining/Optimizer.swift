import AttnEngine

/// How parameters follow their gradients.
public enum OptimizerKind: String, CaseIterable, Sendable, Codable {
    /// Adam with decoupled weight decay (Loshchilov & Hutter 2019).
    case adamw
    /// Plain stochastic gradient descent: p ← p − lr·g (plus decay if asked for).
    case sgd
}

/// How the learning rate moves over a run.
public enum ScheduleKind: String, CaseIterable, Sendable, Codable {
    /// Linear warmup, then cosine decay to `minLRFraction` of the peak (GPT-3, Llama, the CLA paper).
    case cosine
    /// The peak rate at every step (no warmup): with SGD a step a student can check by hand.
    case constant
}

/// The optimizer's settings; the defaults are nanoGPT's / Llama's.
public struct OptimizerSettings: Sendable, Hashable, Codable {
    public var kind: OptimizerKind = .adamw
    /// Peak learning rate.
    public var lr: Double = 3e-3
    public var beta1: Double = 0.9
    public var beta2: Double = 0.95
    public var eps: Double = 1e-8
    /// Decoupled weight decay, on projection matrices only (`TensorSlot.isProjection`).
    public var weightDecay: Double = 0.1
    /// Clip the gradient to this global L2 norm; nil: never.
    public var clipNorm: Double? = 1.0
    public var schedule: ScheduleKind = .cosine
    public var warmupSteps: Int = 0
    /// Where cosine decay ends, as a fraction of the peak.
    public var minLRFraction: Double = 0.1

    public init() {}

    /// Plain SGD: constant rate, no decay, no clipping — one step is `p − lr·g`.
    public static func plainSGD(lr: Double) -> OptimizerSettings {
        var s = OptimizerSettings()
        s.kind = .sgd
        s.lr = lr
        s.weightDecay = 0
        s.clipNorm = nil
        s.schedule = .constant
        return s
    }

    /// The learning rate of step `step` (0-based) of `totalSteps`.
    public func learningRate(step: Int, totalSteps: Int) -> Double {
        switch schedule {
        case .constant:
            return lr
        case .cosine:
            // A warmup longer than the run ends with the run: the peak is reached at the last step.
            let warmup = min(warmupSteps, totalSteps)
            if step < warmup { return lr * Double(step + 1) / Double(warmup) }
            let span = max(1, totalSteps - warmup)
            let progress = min(1, Double(step - warmup) / Double(span))
            let floor = lr * minLRFraction
            return floor + 0.5 * (lr - floor) * (1 + DetMath.sincos(Double.pi * progress).cos)
        }
    }
}

/// An optimizer's state for one model: AdamW's first and second moments (none for SGD) and the
/// step count. Every update is element-wise in Float32 with the same constants everywhere.
public final class Optimizer: @unchecked Sendable {
    public let settings: OptimizerSettings
    /// AdamW's moments, in the parameter buffer's layout.
    public let m: Buffer<Float>?, v: Buffer<Float>?
    /// Steps taken so far.
    public private(set) var steps: Int = 0
    /// β1^t and β2^t, multiplied up step by step (no `pow`, whose last bit may differ by library).
    private var beta1Power = 1.0, beta2Power = 1.0

    public init(settings: OptimizerSettings, parameterCount: Int) {
        self.settings = settings
        let adam = settings.kind == .adamw
        m = adam ? Buffer(count: parameterCount) : nil
        v = adam ? Buffer(count: parameterCount) : nil
    }

    /// Bytes of optimizer state.
    public var stateBytes: Int { (m?.bytes ?? 0) + (v?.bytes ?? 0) }

    /// Restores a saved state (a resumed run).
    public func restore(steps: Int, m: [Float]?, v: [Float]?) {
        self.steps = steps
        beta1Power = 1
        beta2Power = 1
        for _ in 0..<steps {
            beta1Power *= settings.beta1
            beta2Power *= settings.beta2
        }
        if let m, let own = self.m { own.base.update(from: m, count: own.count) }
        if let v, let own = self.v { own.base.update(from: v, count: own.count) }
    }

    /// The global L2 norm of `g`, summed in float64 in buffer order.
    public static func norm(_ g: Buffer<Float>) -> Double {
        var s = 0.0
        for i in 0..<g.count { s += Double(g.base[i]) * Double(g.base[i]) }
        return s.squareRoot()
    }

    /// One update of `p` by `g` at learning rate `lr`; clips `g` first if the settings say so.
    /// Returns the gradient's norm before clipping; a norm that is not finite updates nothing.
    @discardableResult
    public func step(parameters p: Buffer<Float>, gradients g: Buffer<Float>, layout: ParameterLayout, lr: Double) -> Double {
        let norm = Self.norm(g)
        // A gradient that overflowed would turn every weight into NaN: leave them, and let the
        // caller stop the run (its loss check sees the norm).
        guard norm.isFinite else { return norm }
        var scale: Float = 1
        if let clip = settings.clipNorm, norm > clip { scale = Float(clip / norm) }
        steps += 1
        beta1Power *= settings.beta1
        beta2Power *= settings.beta2
        let s = settings
        let lrF = Float(lr), decay = Float(lr * s.weightDecay)
        let b1 = Float(s.beta1), b2 = Float(s.beta2), eps = Float(s.eps)
        let c1 = Float(1 / (1 - beta1Power)), c2 = Float(1 / (1 - beta2Power))
        for t in layout.tensors {
            let pt = p[t], gt = g[t], n = t.elements
            let decays = t.isProjection && decay != 0
            switch s.kind {
            case .sgd:
                for i in 0..<n {
                    if decays { pt[i] -= decay * pt[i] }
                    pt[i] -= lrF * (gt[i] * scale)
                }
            case .adamw:
                let mt = m!.base + t.offset, vt = v!.base + t.offset
                for i in 0..<n {
                    let gi = gt[i] * scale
                    mt[i] = b1 * mt[i] + (1 - b1) * gi
                    vt[i] = b2 * vt[i] + (1 - b2) * gi * gi
                    if decays { pt[i] -= decay * pt[i] }
                    pt[i] -= lrF * (mt[i] * c1) / ((vt[i] * c2).squareRoot() + eps)
                }
            }
        }
        return norm
    }
}
