import AttnFigures
import Foundation
import Testing

/// The palette's promises, recomputed from first principles: sRGB → CIELAB (D65), colour-vision
/// deficiency simulated with Machado, Oliveira & Fernandes (2009)'s matrices at full severity, and
/// WCAG 2's contrast ratio.
@Suite struct PaletteTests {
    static func linear(_ c: Double) -> Double { c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4) }

    static func lab(_ rgb: [Double]) -> [Double] {
        let (r, g, b) = (rgb[0], rgb[1], rgb[2])
        let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047, y = 0.2126 * r + 0.7152 * g + 0.0722 * b
        let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883
        func f(_ t: Double) -> Double { t > 216.0 / 24389 ? pow(t, 1.0 / 3) : (24389.0 / 27 * t + 16) / 116 }
        return [116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))]
    }

    static let deuteranopia = [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]
    static let protanopia = [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]

    /// The colour as linear RGB, as seen with `matrix` (nil: normal vision).
    static func seen(_ c: Color, _ matrix: [[Double]]?) -> [Double] {
        let rgb = [c.r, c.g, c.b].map(linear)
        guard let m = matrix else { return rgb }
        return (0..<3).map { i in min(1, max(0, (0..<3).reduce(0) { $0 + m[i][$1] * rgb[$1] })) }
    }

    static func luminance(_ c: Color) -> Double {
        let rgb = seen(c, nil)
        return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
    }

    static func contrast(_ a: Color, _ b: Color) -> Double {
        let (la, lb) = (luminance(a), luminance(b))
        return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
    }

    @Test(arguments: [Theme.light, Theme.dark])
    func eightColoursDistinctForNormalAndColourBlindVision(theme: Theme) {
        #expect(theme.palette.count >= 8)
        for (vision, matrix) in [("normal", nil), ("deuteranopia", Self.deuteranopia), ("protanopia", Self.protanopia)] as [(String, [[Double]]?)] {
            for i in theme.palette.indices {
                for j in theme.palette.indices where j > i {
                    let a = Self.lab(Self.seen(theme.palette[i], matrix)), b = Self.lab(Self.seen(theme.palette[j], matrix))
                    let distance = ((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) + (a[2] - b[2]) * (a[2] - b[2])).squareRoot()
                    #expect(distance >= 12, "\(theme.name) colours \(i) and \(j) are \(distance) apart with \(vision) vision")
                }
            }
        }
    }

    @Test(arguments: [Theme.light, Theme.dark])
    func everyColourStandsOutFromTheBackground(theme: Theme) {
        for (i, c) in theme.palette.enumerated() {
            #expect(Self.contrast(c, theme.background) >= 3, "\(theme.name) colour \(i): contrast \(Self.contrast(c, theme.background))")
        }
        // Footnotes and subtitles are muted text: WCAG's 4.5:1 for text.
        #expect(Self.contrast(theme.muted, theme.background) >= 4.5)
    }

    @Test func theSimulationSeesRedAndGreenAlikeButBlueAndOrangeApart() {
        // The method's own sanity check: the classic chart red and green (D62728, 2CA02C) are far
        // apart for normal vision and collapse under deuteranopia; Okabe & Ito's blue and orange do not.
        func distance(_ x: UInt32, _ y: UInt32, _ matrix: [[Double]]?) -> Double {
            let a = Self.lab(Self.seen(Color(hex: x), matrix)), b = Self.lab(Self.seen(Color(hex: y), matrix))
            return zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        }
        #expect(distance(0xD62728, 0x2CA02C, nil) > 100)
        #expect(distance(0xD62728, 0x2CA02C, Self.deuteranopia) < 12)
        #expect(distance(0x0072B2, 0xE69F00, Self.deuteranopia) > 40)
    }
}
