import ArgumentParser
import AttnEngine
import AttnTrace
import AttnTraining
import Foundation

/// The folder corpora and token caches live in, shared by every verb that reads a corpus.
struct DataDirOption: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Folder of corpora. (default: $ATTNLAB_DATA_DIR, else data)")
    var dir: String?
}

extension AttnLab {
    struct CorpusCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "corpus",
            abstract: "Fetch and inspect the text corpus that training reads (python-docs, from a Debian package).",
            subcommands: [Fetch.self, Info.self]
        )

        struct Fetch: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Download the Python documentation's sources with apt-get, check them and keep them in the data folder.",
                discussion: """
                    Runs `apt-get download \(CorpusStore.package)=\(CorpusStore.packageVersion)` (no root needed: \
                    nothing is installed) into a temporary folder, extracts the reStructuredText sources \
                    under usr/share/doc/python3.11/html/_sources/, joins them in path order into one file, \
                    checks its SHA-256 and moves it into the data folder (default: data/, or \
                    $ATTNLAB_DATA_DIR, or --data-dir). A valid copy already there is kept. The Python \
                    documentation is licensed under the PSF License Version 2.

                    Example: attnlab corpus fetch
                    """)

            @OptionGroup var data: DataDirOption

            @Flag(help: "Fetch again even if a valid copy is there.")
            var force = false

            func run() throws {
                let directory = CorpusStore.directory(data.dir)
                let staging = CorpusStore.stagingFolder(directory: directory)
                Interruption.onInterrupt { try? FileManager.default.removeItem(atPath: staging) }
                let (path, fetched) = try CorpusStore.fetch(directory: directory, force: force) { say("corpus fetch: \($0)") }
                say(fetched ? "fetched python-docs → \(path) (\(Format.grouped(CorpusStore.fileBytes)) bytes, SHA-256 checked)"
                            : "python-docs is already in \(path) (\(Format.grouped(CorpusStore.fileBytes)) bytes, SHA-256 checked)")
            }
        }

        struct Info: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "What a corpus holds: bytes, documents, the train/validation split, its checksum; with --tokenizer, its tokens.",
                discussion: """
                    Every document whose index (in path order) is 7 mod 20 is held out for validation, \
                    about 5%. A text file given with --corpus is first cut into documents at the first \
                    line end after every 4 KiB. --tokenizer bpe:N trains the BPE on the training split \
                    and reports token counts and the unigram entropy of the training tokens; the \
                    tokens are kept in DATA-DIR/cache/ for the next run.

                    Examples:
                      attnlab corpus info
                      attnlab corpus info --tokenizer bpe:1024
                      attnlab corpus info --corpus notes.txt --tokenizer bytes
                    """)

            @Option(help: "python-docs (`attnlab corpus fetch` gets it) or a path to a UTF-8 text file. (default: python-docs)")
            var corpus = "python-docs"

            @OptionGroup var data: DataDirOption

            @Option(help: "Also tokenize: bytes, or bpe:N (a byte-level BPE of N tokens, 257…8192, trained on the training split).")
            var tokenizer: String?

            func run() throws {
                let choice = try CorpusChoice(parsing: corpus)
                let tokenizerChoice = try tokenizer.map { (value: String) throws(ConfigError) in try TokenizerChoice(parsing: value) }
                let directory = CorpusStore.directory(data.dir)
                let c = try Corpus.load(choice, dataDirectory: directory)
                let all = c.textBytes(), train = c.textBytes(in: .train), validation = c.textBytes(in: .validation)
                let validationDocuments = c.documents(in: .validation).count
                func share(_ part: Int) -> String { Format.fixed(100 * Double(part) / Double(max(all, 1)), 1) + "%" }
                var out = ""
                switch choice {
                case .pythonDocs:
                    out += "python-docs: the reStructuredText sources of the Python 3.11 documentation (Debian \(CorpusStore.package) \(CorpusStore.packageVersion); PSF License Version 2)\n"
                    out += "file        \(CorpusStore.path(directory: directory))\n"
                case .file(let path):
                    out += "\(path): a UTF-8 text file, cut into documents of about \(Format.grouped(Corpus.chunkBytes)) bytes at line ends\n"
                }
                out += "SHA-256     \(c.checksum)\n"
                out += "documents   \(c.documents.count): \(c.documents.count - validationDocuments) train, \(validationDocuments) validation (index mod 20 = 7)\n"
                out += "text        \(Format.grouped(all)) bytes: train \(Format.grouped(train)) (\(share(train))), validation \(Format.grouped(validation)) (\(share(validation)))\n"
                if let tokenizerChoice {
                    let t = try TokenizedCorpus.load(c, tokenizer: tokenizerChoice, cacheDirectory: CorpusStore.cacheDirectory(directory))
                    let h = t.unigramEntropy
                    out += "tokenizer   \(tokenizerChoice): \(Format.grouped(t.tokenizer.vocabSize)) tokens, \(Format.grouped(t.tokenizer.merges.count)) merges\n"
                    out += "tokens      train \(Format.grouped(t.train.count)) (\(Format.fixed(Double(train) / Double(max(t.train.count, 1)), 2)) bytes/token), validation \(Format.grouped(t.validation.count))\n"
                    out += "unigram H   \(Format.fixed(h.natsPerToken, 4)) nats = \(Format.fixed(h.bitsPerToken, 4)) bits per token (training tokens)\n"
                }
                say(String(out.dropLast()))
            }
        }
    }
}
