import ArgumentParser
import AttnEngine
import AttnTrace
import AttnViewer
import Foundation

extension AttnLab {
    struct View: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Turn traces into one interactive HTML page: step through a decode, a tile run or a training log in the browser.",
            discussion: """
                The page is one file with everything inline (no network, no library): a step slider, \
                ← → and space, light and dark themes in the figures' colours, printable. Give several \
                traces to see them side by side with a shared slider (naive vs FA1 vs FA2). A trace \
                larger than 4 MiB is sampled (every k-th step and the last) and the page says so; \
                docs/trace-player.md has the details. The same traces give the same bytes.

                Examples:
                  attnlab decode --cla 2 --tokens 8 --trace-detail full --trace output/d.jsonl
                  attnlab view output/d.jsonl -o output/d.html
                  attnlab view naive.jsonl fa1.jsonl fa2.jsonl -o output/tiles.html
                  attnlab view output/run.log.jsonl -o output/run.html --lang ja
                """
        )

        @Argument(help: "Trace files (.jsonl) written by attnlab decode --trace, tile --trace, or a training log (run.log.jsonl).")
        var traces: [String]

        @Option(name: .shortAndLong, help: "The page to write (.html).")
        var output: String

        @Option(help: "The language of the player's words: en or ja (the trace's own names stay as they are).")
        var lang: Language = .en

        func run() throws {
            guard output.hasSuffix(".html") || output.hasSuffix(".htm") else {
                throw ConfigError(.output, "'\(output)' must end in .html (the page is HTML)")
            }
            do { try AtomicFile.checkWritable(output) } catch { throw ConfigError(.output, error.description) }
            var read: [PlayerTrace] = []
            for path in traces {
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw ConfigError(file: path, "cannot be read (\(FileManager.default.fileExists(atPath: path) ? "no permission, or a folder" : "no such file")); give a trace written by attnlab decode/tile --trace or train -o")
                }
                // The page names a trace by its file name only: no absolute path goes into it.
                do { read.append(try PlayerTrace(name: URL(fileURLWithPath: path).lastPathComponent, bytes: [UInt8](data))) } catch {
                    throw ConfigError(file: path, error.reason)
                }
            }
            let page = TracePlayer.page(read, language: lang)
            do { try AtomicFile.write(page, to: output) } catch { throw ConfigError(.output, error.description) }
            say("wrote \(output) (\(Format.grouped(page.count)) bytes, \(read.count) trace\(read.count == 1 ? "" : "s"))")
        }
    }
}
