import Foundation
import Testing

/// A tmpfs of a few pages, mounted for one test, so that a writer runs out of space exactly where the
/// test says. Mounting needs root and a kernel that lets this process mount; where it cannot, the
/// test prints why and is skipped.
final class SmallDisk {
    let folder: URL
    static let page = Int(sysconf(Int32(_SC_PAGESIZE)))

    private init(folder: URL) { self.folder = folder }

    /// A new tmpfs of `bytes`, or nil after printing why it cannot be mounted here.
    static func mount(bytes: Int, for test: String) throws -> SmallDisk? {
        guard getuid() == 0 else {
            print("skipped \(test): mounting a small tmpfs needs root")
            return nil
        }
        let folder = try temporaryFolder()
        let (status, message) = try command("mount", ["-t", "tmpfs", "-o", "size=\(bytes)", "tmpfs", folder.path])
        guard status == 0 else {
            print("skipped \(test): mount -t tmpfs was refused (\(message.trimmingCharacters(in: .whitespacesAndNewlines)))")
            try? FileManager.default.removeItem(at: folder)
            return nil
        }
        return SmallDisk(folder: folder)
    }

    /// Fills the disk with a file `filler` until exactly `free` bytes (whole pages) are left.
    func fill(leaving free: Int) throws {
        var info = statvfs()
        #expect(statvfs(folder.path, &info) == 0)
        let available = Int(info.f_bavail) * Int(info.f_frsize)
        try #require(available >= free, "the disk has \(available) bytes free, less than \(free)")
        try Data(count: available - free).write(to: folder.appendingPathComponent("filler"))
    }

    func unmount() {
        _ = try? Self.command("umount", [folder.path])
        try? FileManager.default.removeItem(at: folder)
    }

    /// Whole pages for `bytes`: what a file of that size takes on tmpfs.
    static func pages(_ bytes: Int) -> Int { (bytes + page - 1) / page * page }

    private static func command(_ name: String, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [name] + arguments
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, message)
    }
}

/// Every path under `folder`, relative, sorted (the small disk's filler left out).
func contents(of folder: URL) throws -> [String] {
    try FileManager.default.subpathsOfDirectory(atPath: folder.path).filter { $0 != "filler" }.sorted()
}

/// A failed write as a user sees it: exit 2, one line on stderr naming `path` and the system's reason,
/// and no temporary file named in it.
func expectWriteFailure(_ run: Run, naming path: String, _ context: String) {
    let reason = "No space left on device"
    #expect(run.status == 2, "\(context): exit \(run.status), \(run.stderr)")
    let lines = run.stderr.split(separator: "\n")
    #expect(lines.count == 1, "\(context): \(run.stderr)")
    #expect(run.stderr.hasPrefix("attnlab: error: ") && run.stderr.contains(path + ":") && run.stderr.contains(reason), "\(context): \(run.stderr)")
    #expect(!run.stderr.contains(".tmp-"), "\(context): \(run.stderr)")
}

/// A device to write onto, `null` or `full`: the test's own node in `folder` when it may make one
/// (root), so that a writer that wrongly renames over it replaces only that node; otherwise the
/// system's, which a user who is not root cannot replace.
func device(_ name: String, in folder: URL) -> String {
    let minor = name == "null" ? 3 : 7
    let path = folder.appendingPathComponent(name).path
    guard getuid() == 0, mknod(path, mode_t(S_IFCHR | 0o666), dev_t(1 << 8 | minor)) == 0 else { return "/dev/\(name)" }
    return path
}

/// `/dev/stdout` for a test: a link of its own to `/proc/self/fd/1` in `folder` when root (for the
/// same reason as `device`), otherwise the system's.
func standardOutput(in folder: URL) throws -> String {
    guard getuid() == 0 else { return "/dev/stdout" }
    let path = folder.appendingPathComponent("stdout").path
    try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: "/proc/self/fd/1")
    return path
}

/// A text the built-in vocabulary can read, for `retrofit --text`.
func plainText(in folder: URL) throws -> String {
    let path = folder.appendingPathComponent("text.txt").path
    try Data(String(repeating: "the cat sat on the mat. ", count: 20).utf8).write(to: URL(fileURLWithPath: path))
    return path
}

@Suite("writes: full disks, devices, FIFOs and links")
struct WriteTests {
    /// A command per writer, writing `file` into the folder it is given.
    static let writers: [(name: String, file: String, arguments: @Sendable (_ folder: String, _ scratch: String) -> [String])] = [
        ("PNG", "h.png", { f, _ in ["draw", "heads", "-o", "\(f)/h.png"] }),
        ("SVG", "h.svg", { f, _ in ["draw", "heads", "-o", "\(f)/h.svg"] }),
        ("PDF", "t.pdf", { f, _ in ["draw", "tiles", "--n", "64", "--d", "16", "--sram-elements", "1024", "-o", "\(f)/t.pdf"] }),
        ("retrofit figure", "r.svg", { f, scratch in ["retrofit", "--text", "\(scratch)/text.txt", "-o", "\(f)/r.svg"] }),
        ("JSONL decode trace", "t.jsonl", { f, _ in ["decode", "--tokens", "8", "--trace-detail", "full", "--trace", "\(f)/t.jsonl"] }),
        ("text decode trace", "t.txt", { f, _ in ["decode", "--tokens", "8", "--trace-detail", "full", "--trace", "\(f)/t.txt"] }),
        ("chrome tile trace", "t.chrome.json", { f, _ in ["tile", "--n", "128", "--d", "16", "--sram-elements", "1024", "--trace", "\(f)/t.chrome.json"] }),
        ("JSONL tile trace", "t.jsonl", { f, _ in ["tile", "--n", "128", "--d", "16", "--sram-elements", "1024", "--trace", "\(f)/t.jsonl"] }),
    ]

    @Test("a full disk: each writer fails with the file and the reason, and leaves nothing", arguments: 0..<writers.count)
    func fullDisk(writer: Int) throws {
        let (name, file, arguments) = Self.writers[writer]
        let scratch = try temporaryFolder()
        _ = try plainText(in: scratch)
        // What it writes when there is room: its size decides how little room to leave.
        let roomy = try Run(arguments(scratch.path, scratch.path))
        try #require(roomy.status == 0, "\(name): \(roomy.stderr)")
        let bytes = try #require(try FileManager.default.attributesOfItem(atPath: scratch.appendingPathComponent(file).path)[.size] as? Int)
        guard let disk = try SmallDisk.mount(bytes: SmallDisk.pages(bytes) + 16 * SmallDisk.page, for: "full disk, \(name)") else { return }
        defer { disk.unmount() }
        // One page short: the writer gets part of the file out before the disk is full.
        try disk.fill(leaving: SmallDisk.pages(bytes) - SmallDisk.page)
        let run = try Run(arguments(disk.folder.path, scratch.path))
        expectWriteFailure(run, naming: disk.folder.appendingPathComponent(file).path, name)
        #expect(!run.stdout.contains("wrote"), "\(name): \(run.stdout)")
        #expect(try contents(of: disk.folder) == [], "\(name)")
    }

    @Test("a full disk under --frames removes the frames written before it")
    func fullDiskFrames() throws {
        let scratch = try temporaryFolder()
        let arguments = { (frames: String) in
            ["draw", "tiles", "--n", "64", "--d", "16", "--sram-elements", "1024", "-o", "\(scratch.path)/t.svg", "--frames", frames]
        }
        let roomy = try Run(arguments("\(scratch.path)/frames"))
        try #require(roomy.status == 0, "\(roomy.stderr)")
        let frames = try FileManager.default.contentsOfDirectory(atPath: "\(scratch.path)/frames").sorted()
        try #require(frames.count > 2)
        let sizes = try frames.map { try #require(try FileManager.default.attributesOfItem(atPath: "\(scratch.path)/frames/\($0)")[.size] as? Int) }
        let needed = sizes.map(SmallDisk.pages).reduce(0, +)
        guard let disk = try SmallDisk.mount(bytes: needed + 16 * SmallDisk.page, for: "full disk, --frames") else { return }
        defer { disk.unmount() }
        // The last frame does not fit.
        try disk.fill(leaving: needed - SmallDisk.page)
        let run = try Run(arguments(disk.folder.appendingPathComponent("frames").path))
        expectWriteFailure(run, naming: disk.folder.appendingPathComponent("frames/\(frames.last!)").path, "--frames")
        #expect(try contents(of: disk.folder) == [])
    }

    static let lesson = """
        id: full-disk
        title: {en: Full disk}
        summary: {en: Runs out of room.}
        steps:
          - title: {en: Cached equals recomputed}
            narration: {en: "{{ max_abs_diff }}"}
            action: {decode: {layers: 2, tokens: 4, verify: true}}
            figure: {layers: {layers: 6, cla: 2}}
            checks: [max_abs_diff <= 1e-4]
        """

    /// The files a lesson run writes, in the order it writes them.
    static let lessonFiles = ["traces/step-01.jsonl", "traces/step-01.txt", "figures/step-01.png", "figures/step-01.svg",
                              "report.md", "report.html", "trace.jsonl", "trace.txt", "slides.pdf", "notes.pdf"]

    @Test("a full disk in a lesson run: each of its files fails in turn, named in out/<id>, and no folder is left",
          arguments: lessonFiles.indices)
    func fullDiskLesson(failing: Int) throws {
        let scratch = try temporaryFolder()
        let file = scratch.appendingPathComponent("lesson.yaml").path
        try Data(Self.lesson.utf8).write(to: URL(fileURLWithPath: file))
        let roomy = try Run(["run", file, "--no-step", "--out", scratch.appendingPathComponent("out").path])
        try #require(roomy.status == 0, "\(roomy.stderr)")
        try #require(try contents(of: scratch.appendingPathComponent("out/full-disk")).filter { $0.contains(".") } == Self.lessonFiles.sorted())
        let sizes = try Self.lessonFiles.map {
            SmallDisk.pages(try #require(try FileManager.default.attributesOfItem(atPath: scratch.appendingPathComponent("out/full-disk/\($0)").path)[.size] as? Int))
        }
        guard let disk = try SmallDisk.mount(bytes: sizes.reduce(0, +) + 16 * SmallDisk.page, for: "full disk, lesson") else { return }
        defer { disk.unmount() }
        // Room for every file before this one, and one page short for this one.
        try disk.fill(leaving: sizes[..<failing].reduce(0, +) + sizes[failing] - SmallDisk.page)
        let out = disk.folder.appendingPathComponent("out")
        let run = try Run(["run", file, "--no-step", "--out", out.path])
        expectWriteFailure(run, naming: out.appendingPathComponent("full-disk/\(Self.lessonFiles[failing])").path, Self.lessonFiles[failing])
        // The staging folder is gone and no lesson folder appeared.
        #expect(try contents(of: out) == [])
    }

    /// Output flags pointed at /dev/full, through a link with the extension the flag needs.
    static let devFullCommands: [@Sendable (_ full: String, _ scratch: String) -> [String]] = [
        { f, _ in ["draw", "heads", "-o", "\(f).png"] },
        { f, _ in ["draw", "layers", "-o", "\(f).svg"] },
        { f, _ in ["draw", "tiles", "--n", "64", "--d", "16", "--sram-elements", "1024", "-o", "\(f).pdf"] },
        { f, _ in ["draw", "cache", "--tokens", "2", "-o", "\(f).png"] },
        { f, _ in ["draw", "attention", "-o", "\(f).svg"] },
        { f, _ in ["draw", "kv-chart", "-o", "\(f).png"] },
        { f, _ in ["draw", "io-chart", "-o", "\(f).svg"] },
        { f, _ in ["draw", "tradeoff", "-o", "\(f).pdf"] },
        { f, scratch in ["retrofit", "--text", "\(scratch)/text.txt", "-o", "\(f).svg"] },
        { f, _ in ["decode", "--tokens", "2", "--trace", f] },
        { f, _ in ["decode", "--tokens", "2", "--trace", f, "--trace-format", "text"] },
        { f, _ in ["tile", "--n", "64", "--d", "16", "--sram-elements", "1024", "--trace", f] },
    ]

    @Test("/dev/full: written through, fails with the reason, the device and links stay", arguments: devFullCommands.indices)
    func devFull(index: Int) throws {
        let dir = try temporaryFolder()
        _ = try plainText(in: dir)
        let full = device("full", in: dir)
        for ext in ["png", "svg", "pdf"] { try FileManager.default.createSymbolicLink(atPath: "\(full).\(ext)", withDestinationPath: full) }
        let arguments = Self.devFullCommands[index](full, dir.path)
        let run = try Run(arguments)
        expectWriteFailure(run, naming: arguments.contains(full) ? full : arguments.last!, "\(arguments)")
        let links = ["png", "svg", "pdf"].map { "\(URL(fileURLWithPath: full).lastPathComponent).\($0)" }
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)) == Set(links + ["text.txt"] + (full.hasPrefix(dir.path) ? ["full"] : [])),
                "\(arguments)")
        for ext in ["png", "svg", "pdf"] {
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(full).\(ext)") == full)
        }
        var info = stat()
        #expect(stat(full, &info) == 0 && info.st_mode & S_IFMT == S_IFCHR)
    }

    @Test("/dev/null takes a trace and stays a device")
    func devNull() throws {
        let dir = try temporaryFolder()
        let null = device("null", in: dir)
        for arguments in [["decode", "--tokens", "2", "--trace", null], ["tile", "--n", "64", "--d", "16", "--sram-elements", "1024", "--trace", null]] {
            let run = try Run(arguments)
            #expect(run.status == 0, "\(arguments): \(run.stderr)")
            var info = stat()
            #expect(stat(null, &info) == 0 && info.st_mode & S_IFMT == S_IFCHR)
        }
    }

    @Test("/dev/stdout takes a trace before the report, and a figure with nothing else")
    func devStdout() throws {
        let dir = try temporaryFolder()
        let stdout = try standardOutput(in: dir)
        let trace = try Run(["decode", "--tokens", "2", "--trace", stdout])
        #expect(trace.status == 0, "\(trace.stderr)")
        #expect(trace.stdout.hasPrefix("{\"type\":\"header\""))
        #expect(trace.stdout.contains("\nAttnLab decode"))
        let link = dir.appendingPathComponent("out.svg").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: stdout)
        let figure = try Run(["draw", "heads", "-o", link])
        #expect(figure.status == 0, "\(figure.stderr)")
        #expect(figure.stdout.hasPrefix("<?xml") && figure.stdout.hasSuffix("</svg>\n"))
        if stdout.hasPrefix(dir.path) { #expect(try FileManager.default.destinationOfSymbolicLink(atPath: stdout) == "/proc/self/fd/1") }
    }

    @Test("a FIFO is written through, not replaced")
    func fifo() throws {
        let dir = try temporaryFolder()
        let fifo = dir.appendingPathComponent("trace.jsonl").path
        #expect(mkfifo(fifo, 0o600) == 0)
        // Holding the reading end open lets the writer open its end; the trace is small enough for the
        // pipe's buffer, and a writer that replaced the FIFO leaves it empty instead of hanging.
        let reader = open(fifo, O_RDONLY | O_NONBLOCK)
        #expect(reader >= 0)
        defer { close(reader) }
        let run = try Run(["decode", "--tokens", "2", "--trace", fifo])
        var read = Data(), buffer = [UInt8](repeating: 0, count: 4096)
        while case let n = Foundation.read(reader, &buffer, buffer.count), n > 0 { read.append(contentsOf: buffer[..<n]) }
        #expect(run.status == 0, "\(run.stderr)")
        #expect(String(decoding: read, as: UTF8.self).hasPrefix("{\"type\":\"header\""))
        var info = stat()
        #expect(lstat(fifo, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO)
        #expect(try contents(of: dir) == ["trace.jsonl"])
    }

    @Test("a link to a regular file: the file is replaced beside itself, the link stays")
    func linkToFile() throws {
        let dir = try temporaryFolder()
        let real = dir.appendingPathComponent("real"), elsewhere = dir.appendingPathComponent("links")
        try FileManager.default.createDirectory(at: real, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        for (file, arguments) in [("h.svg", ["draw", "heads", "-o"]), ("t.jsonl", ["decode", "--tokens", "2", "--trace"])] {
            let target = real.appendingPathComponent(file)
            try Data("old".utf8).write(to: target)
            let link = elsewhere.appendingPathComponent(file).path
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target.path)
            let run = try Run(arguments + [link])
            #expect(run.status == 0, "\(file): \(run.stderr)")
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == target.path)
            #expect(try Data(contentsOf: target).count > 100)
        }
        #expect(try contents(of: dir) == ["links", "links/h.svg", "links/t.jsonl", "real", "real/h.svg", "real/t.jsonl"])
    }

    static let refused: [(arguments: [String], flag: String, reason: String)] = [
        (["decode", "--tokens", "2", "--trace", ""], "--trace", "empty"),
        (["tile", "--n", "64", "--d", "16", "--sram-elements", "1024", "--trace", ""], "--trace", "empty"),
        (["draw", "heads", "-o", ""], "-o", "empty"),
        (["retrofit", "--text", "README.md", "-o", ""], "-o", "empty"),
        (["gallery", "--out", ""], "--out", "empty"),
        (["draw", "heads", "-o", "DIR/h.png", "--scale", "1e-9"], "--scale", "at least 1×1"),
        (["draw", "tiles", "--n", "64", "--d", "16", "--sram-elements", "1024", "-o", "DIR/t.svg", "--frames", "DIR/frames", "--scale", "1e-9"],
         "--scale", "at least 1×1"),
        (["draw", "heads", "-o", "DIR/dangling.png"], "-o", "missing file"),
        (["decode", "--tokens", "2", "--trace", "DIR"], "--trace", "is a folder"),
    ]

    @Test("refused up front: one line naming the flag, nothing written", arguments: refused.indices)
    func refusedUpFront(index: Int) throws {
        let (arguments, flag, reason) = Self.refused[index]
        let dir = try temporaryFolder()
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("dangling.png").path, withDestinationPath: dir.appendingPathComponent("nothing.png").path)
        let run = try Run(arguments.map { $0.replacing("DIR", with: dir.path) })
        #expect(run.status == 2, "\(arguments): \(run.stderr)")
        #expect(run.stderr.split(separator: "\n").count == 1 && run.stderr.hasPrefix("attnlab: error: \(flag): ") && run.stderr.contains(reason),
                "\(arguments): \(run.stderr)")
        #expect(try contents(of: dir) == ["dangling.png"], "\(arguments)")
    }

    @Test("run --out refuses a file where the lesson's folder would go, and keeps it")
    func lessonFolderIsAFile() throws {
        let dir = try temporaryFolder()
        let file = dir.appendingPathComponent("lesson.yaml").path
        try Data(Self.lesson.utf8).write(to: URL(fileURLWithPath: file))
        let out = dir.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: out.appendingPathComponent("full-disk").path, withDestinationPath: "/dev/full")
        let run = try Run(["run", file, "--no-step", "--out", out.path])
        #expect(run.status == 2 && run.stderr.hasPrefix("attnlab: error: --out: ") && run.stderr.contains("not a folder"), "\(run.stderr)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: out.appendingPathComponent("full-disk").path) == "/dev/full")
        #expect(try contents(of: out) == ["full-disk"])
    }
}
