import AttnEngine
import AttnFigures
import AttnRender
import Foundation
import Testing

/// The regular expression the byte scan replaced, kept here as the independent truth: ids in order
/// of first appearance after `id="`, every token after `id="` or `#` with a known id rewritten.
private func regexRenumbering(_ svg: String, prefix: String) -> String {
    let token = /(id="|#)([A-Za-z][A-Za-z_]*)([0-9][0-9-]*)/
    var mapping: [String: String] = [:]
    var counters: [String: Int] = [:]
    for match in svg.matches(of: token) where match.output.1 == "id=\"" {
        let kind = String(match.output.2), old = kind + match.output.3
        if mapping[old] == nil {
            counters[kind, default: 0] += 1
            mapping[old] = prefix + kind + String(counters[kind]!)
        }
    }
    return svg.replacing(token) { match in
        let old = String(match.output.2) + match.output.3
        return match.output.1 + (mapping[old] ?? old)
    }
}

@Suite("SVG id renumbering")
struct SVGIDTests {
    @Test("hand-written cases: adjacent and nested-looking ids, references before and without ids, prefixes")
    func cases() {
        let cases: [(svg: String, prefix: String, expected: String)] = [
            ("", "", ""),
            ("<g id=\"glyph7-3\"/><use xlink:href=\"#glyph7-3\"/>", "", "<g id=\"glyph1\"/><use xlink:href=\"#glyph1\"/>"),
            // A reference before its id is rewritten too; one to no id stays as it is.
            ("#clip9 id=\"clip9\" #clip4", "p-", "#p-clip1 id=\"p-clip1\" #clip4"),
            // Counters are per kind; a repeated id keeps its first number.
            ("id=\"a5\" id=\"b5\" id=\"a2\" id=\"a5\" #a2", "", "id=\"a1\" id=\"b1\" id=\"a2\" id=\"a1\" #a2"),
            // Adjacent: a token ends at the first byte outside [0-9-], the next may start right there.
            ("id=\"x1\"id=\"x2\"#x1#x2", "", "id=\"x1\"id=\"x2\"#x1#x2"),
            ("#a1id=\"b7\"", "", "#a1id=\"b1\""),
            // A failed token does not swallow an id inside it: `#abid="…` fails at `=`, the id still counts.
            ("#abid=\"q3\" #q3", "", "#abid=\"q1\" #q1"),
            // Kinds with underscores; digits and dashes end the kind; no digit, no token.
            ("id=\"source_surface12\" #source_surface12 id=\"image\" #image", "s-",
             "id=\"s-source_surface1\" #s-source_surface1 id=\"image\" #image"),
            ("id=\"1a\" id=\"_a1\" id=\"a_1\"", "", "id=\"1a\" id=\"_a1\" id=\"a_1\""),
            // The prefix's bytes are copied, not scanned.
            ("id=\"m3\"", "#m9-é-", "id=\"#m9-é-m1\""),
            // Cut off at the end of the input.
            ("id=\"", "", "id=\""), ("#", "", "#"), ("id=\"z", "", "id=\"z"), ("id=\"z4", "", "id=\"z1"),
        ]
        for (svg, prefix, expected) in cases {
            #expect(Renderer.svgForInlining(svg, prefix: prefix) == expected, "\(svg)")
            #expect(regexRenumbering(svg, prefix: prefix) == expected, "the regex on \(svg)")
        }
    }

    @Test("random strings of id-like pieces: the byte scan and the regex agree")
    func random() {
        let pieces = ["id=\"", "#", "i", "d", "=", "\"", "a", "Z", "g", "_", "0", "7", "-", " ", "<", "/>"]
        var rng = SplitMix64(seed: 11)
        for _ in 0..<2_000 {
            let svg = (0..<Int(rng.next() % 40)).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
            let prefix = rng.next() % 2 == 0 ? "" : "s3-"
            #expect(Renderer.svgForInlining(svg, prefix: prefix) == regexRenumbering(svg, prefix: prefix), "\(svg)")
        }
    }

    @Test("every figure's SVG as Cairo writes it: the byte scan and the regex agree; it is ASCII")
    func figures() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, figure) in try allFigures() {
            try Renderer.write(figure, to: "\(dir)/\(name).svg")
            let svg = try String(contentsOfFile: "\(dir)/\(name).svg", encoding: .utf8)
            #expect(svg.utf8.allSatisfy { $0 < 0x80 }, "\(name)")
            #expect(svg.contains("id=\"glyph1\""), "\(name)")
            #expect(Renderer.svgForInlining(svg, prefix: "\(name)-") == regexRenumbering(svg, prefix: "\(name)-"), "\(name)")
            // Numbered as Cairo might after other figures (descending, with dashes): back to the file's ids.
            let scrambled = svg.replacing(/(id="|#)([A-Za-z][A-Za-z_]*)([0-9]+)/) { "\($0.output.1)\($0.output.2)\(900 - Int($0.output.3)!)-0" }
            #expect(scrambled != svg)
            #expect(Renderer.svgForInlining(scrambled, prefix: "") == svg, "\(name)")
        }
    }
}
