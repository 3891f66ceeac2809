// Interface of the latent bases (LatentKV.swift) while they are being written on another branch;
// this file goes when they land.
public struct LatentKV: Sendable {
    public var rank: Int { 1 }
    public func project(layer: Int, kv: UnsafePointer<Float>, rows: Int, into c: UnsafeMutablePointer<Float>) {}
    public func expand(layer: Int, latent: UnsafePointer<Float>, rows: Int, into kv: UnsafeMutablePointer<Float>) {}
}
