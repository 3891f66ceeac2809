import AttnEngine
import AttnExperiments
import Foundation
import Testing

/// The CLI and lessons read the same typed experiments; these tests keep their flags from drifting.
@Suite("one registry: CLI verbs and lesson actions take the same flags")
struct RegistryTests {
    /// Flags that only the command line has: where output goes, how it looks and its language. Lessons set these
    /// themselves (the runner refuses them in a lesson file).
    static let frontEndOnly: Set<String> = ["output", "size", "scale", "theme", "title", "frames", "trace", "trace-format", "json", "format", "help", "plot", "out", "lang"]
    /// Values the CLI takes as an argument, not a flag (`attnlab study cla-mini`); a lesson names them.
    static let positional: Set<String> = ["study"]

    /// The long flag names of an `attnlab` subcommand, from ArgumentParser's own description of it.
    static func cliFlags(_ verb: [String]) throws -> Set<String> {
        let run = try Run(verb + ["--experimental-dump-help"])
        let root = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let command = try #require(root["command"] as? [String: Any])
        let arguments = command["arguments"] as? [[String: Any]] ?? []
        return Set(arguments.flatMap { ($0["names"] as? [[String: Any]] ?? []).filter { $0["kind"] as? String == "long" }.compactMap { $0["name"] as? String } })
            .subtracting(frontEndOnly)
    }

    /// The flags an experiment reads, by running its reader over no flags at all.
    static func libraryFlags(_ read: (inout FlagReader) throws -> Void) throws -> Set<String> {
        var reader = try FlagReader(Flags())
        try read(&reader)
        return Set(reader.known.map(\.flagName)).subtracting(frontEndOnly).subtracting(positional)
    }

    @Test("every action's CLI verb takes exactly the flags its experiment reads", arguments: ActionKind.allCases)
    func actions(kind: ActionKind) throws {
        let library = try Self.libraryFlags { r in _ = try kind.experimentType.init(&r) }
        // `tile` is `tile run`, its default subcommand.
        let cli = try Self.cliFlags(kind == .tile ? ["tile", "run"] : kind.verb.split(separator: " ").map(String.init))
        #expect(cli == library, "\(kind.verb): only the CLI has \(cli.subtracting(library).sorted()), only lessons have \(library.subtracting(cli).sorted())")
    }

    @Test("every figure kind's draw verb takes exactly the flags its figure reads", arguments: FigureKind.allCases)
    func figures(kind: FigureKind) throws {
        let library = try Self.libraryFlags { r in _ = try kind.figureType.init(&r) }
        let cli = try Self.cliFlags(["draw", kind.rawValue])
        #expect(cli == library, "draw \(kind.rawValue): only the CLI has \(cli.subtracting(library).sorted()), only lessons have \(library.subtracting(cli).sorted())")
    }

    @Test("every field has its own spelling, and the CLI's flags are those spellings")
    func spellings() {
        let names = Field.allCases.map(\.flagName)
        // `step` is both run's --step (step through) and draw cache's --step (which decode step): never on one verb.
        #expect(Set(names).count == names.count - 1)
    }
}
