import ArgumentParser
import AttnEngine
import AttnExperiments
import AttnFigures
import AttnLessons
import AttnRender
import AttnTrace
import Foundation

@main
struct AttnLab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attnlab",
        abstract: "Step through how transformers save memory: KV caches, MHA/GQA/MQA, Cross-Layer Attention, FlashAttention.",
        discussion: """
            Every number comes from a real computation: a small Llama-style decoder with a real KV \
            cache, exact calculators for published models, and naive vs tiled attention on a modelled \
            HBM + SRAM. Figures (PNG, SVG, PDF) and lessons are drawn from those runs.

            Examples:
              attnlab lessons && attnlab run 02-gqa
              attnlab kv --preset llama-3-8b --context 8192
              attnlab decode --q-heads 8 --kv-heads 2 --cla 2 --tokens 8 --verify
              attnlab tile --algo fa1 --n 1024 --d 64 --sram 96KiB
              attnlab draw heads --preset llama-3-8b -o output/heads.png
            """,
        subcommands: [Decode.self, Model.self, CorpusCommand.self, Train.self, Study.self, Ppl.self, RetrofitCommand.self, CompareKV.self, KV.self, Params.self, PresetList.self, Tile.self, View.self, Draw.self, Gallery.self, LessonList.self, LessonCheckCommand.self, Run.self, Bench.self]
    )

    /// Parses and runs a command; every failure becomes one line on stderr and exit status 2
    /// (a failed self-check, such as `--verify` over its tolerance, exits 1).
    static func main() {
        Interruption.install()
        do {
            var command = try parseAsRoot()
            try command.run()
            Interruption.exit(0)
        } catch let failure as CheckFailure {
            printError(failure.description)
            Interruption.exit(1)
        } catch let error as any AttnLabError {
            Interruption.exit(2) { printError("\(spelled(error.subject)): \(error.reason)") }
        } catch {
            // Help and --version print as ArgumentParser does; a parse error becomes one line.
            if exitCode(for: error) == .success { exit(withError: error) }
            let message = message(for: error).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }.joined(separator: " ")
            printError(message)
            Interruption.exit(2)
        }
    }

    /// What an error is about, as the command line spells it: a flag, a file, a place in a lesson.
    static func spelled(_ subject: Subject) -> String {
        switch subject {
        case .fields(let fields): fields.map(flag).joined(separator: "/")
        case .file(let path): path
        case .named(let name): "--\(name)"
        case .system(let what): what
        case .lesson(let file, let line, let path): "\(file)\(line.map { ":\($0)" } ?? ""): \(path)"
        }
    }

    /// A field's flag: `--d-model`; `-o` for the output and `LESSON` for run's argument.
    static func flag(_ field: Field) -> String {
        if field == .output { return "-o" }
        if field == .lesson { return "LESSON" }
        return "--\(field.flagName)"
    }

    /// Prints one line whatever the message quotes: control characters of user text in it (a newline
    /// in a token id, a tab in a prompt) print escaped, `\n`, `\t`.
    static func printError(_ message: String) {
        let line = message.unicodeScalars.map { $0.properties.generalCategory == .control ? $0.escaped(asASCII: true) : String($0) }.joined()
        FileHandle.standardError.write(Data("attnlab: error: \(line)\n".utf8))
    }
}

/// What SIGINT and SIGTERM do: remove what this run has half-written, then exit 130 or 143 (128 +
/// the signal, as a shell reports a killed command). The signals are taken from their default
/// action and delivered to a dispatch queue, where removing files is safe (a C signal handler may
/// not allocate). Children need nothing here: they die with the process (`ChildProcess`).
enum Interruption {
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []
    nonisolated(unsafe) private static var cleanup: (@Sendable () -> Void)?
    private static let lock = NSLock()

    static func install() {
        for signal in [SIGINT, SIGTERM] {
            Glibc.signal(signal, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signal, queue: .global())
            source.setEventHandler {
                // Held until exit: a second signal waits here instead of exiting halfway through.
                lock.lock()
                cleanup?()
                _exit(128 + signal)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Exits with `status`, unless an interruption is being handled: then it waits for that to finish
    /// and exit 130 or 143 itself. Without the wait, a run that stopped because it was interrupted
    /// ("the run was interrupted") could exit 2 while its staging folder was still being removed.
    /// `last` (the error line) runs only when this exit is the one that happens.
    static func exit(_ status: Int32, after last: () -> Void = {}) -> Never {
        lock.lock()
        last()
        Foundation.exit(status)
    }

    /// Sets what an interruption removes before the process exits.
    static func onInterrupt(_ body: @escaping @Sendable () -> Void) {
        lock.lock()
        defer { lock.unlock() }
        cleanup = body
    }
}

/// `--max-seconds`, for every verb whose work grows with its flags (decode, ppl, retrofit, bench,
/// draw cache, draw attention).
struct BudgetOption: ParsableArguments {
    @Option(name: .customLong("max-seconds"), parsing: .unconditional,
            help: "Refuse a run estimated to take longer than this on this machine (the error gives the estimate); raise it to run longer ones.")
    var maxSeconds: Double = WorkBudget.defaultSeconds

    var budget: WorkBudget {
        var b = WorkBudget()
        b.maxSeconds = maxSeconds
        return b
    }
}

/// A run whose own check failed (e.g. `--verify` found a difference over its tolerance).
struct CheckFailure: Error, CustomStringConvertible {
    let description: String
}

/// Writes a line to standard output.
func say(_ text: String = "") { print(text) }
