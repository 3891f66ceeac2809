import AttnLessons
import Foundation

/// The terminal the step-through draws on: its size, and the alternate screen a full-screen
/// program draws in so that the user's scrollback is left as it was.
enum Terminal {
    /// Columns and rows of the terminal on standard output (TIOCGWINSZ); else COLUMNS and LINES;
    /// else 80 × 24.
    static var size: (columns: Int, rows: Int) {
        var w = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &w) == 0, w.ws_col > 0, w.ws_row > 0 { return (Int(w.ws_col), Int(w.ws_row)) }
        let env = ProcessInfo.processInfo.environment
        return (env["COLUMNS"].flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil } ?? 80, env["LINES"].flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil } ?? 24)
    }

    /// Switches to the alternate screen (what `less` and editors draw on).
    static func enterScreen() { write("\u{1B}[?1049h") }

    /// Back to the normal screen, with the scrollback as it was before `enterScreen`.
    static func leaveScreen() { write("\u{1B}[?1049l") }

    /// Clears the screen and puts the cursor at the top left.
    static let clear = "\u{1B}[H\u{1B}[2J"

    /// Writes `s` at once, unbuffered: a screen drawn in one write does not flicker. It does not
    /// flush stdio first: the interruption handler calls it while the main thread waits in
    /// `readLine`, holding stdin's lock, which `fflush(nil)` would wait for forever. (Nothing is left
    /// in stdout's buffer: on a terminal it is line-buffered, and the screen prints no partial line.)
    static func write(_ s: String) {
        var bytes = Array(s.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress! + done, $0.count - done) }
            if n <= 0 { return }
            done += n
        }
    }
}


/// Single key presses from the terminal on standard input, for the step-through: a presenter's
/// remote sends →, PageDown or space, and none of them should need an Enter after it. While on,
/// keys are neither echoed nor collected into lines, Ctrl-S and Ctrl-\ are plain keys, and Ctrl-C
/// still interrupts. The step-through draws on the alternate screen meanwhile, so Ctrl-Z gives the
/// terminal back as it was (normal screen, lines, echo) before stopping, and takes it again on `fg`.
enum Keyboard {
    enum Key: Equatable {
        case character(Character)
        case enter, backspace, escape, left, right, up, down, pageUp, pageDown, home, end
        /// A control character other than the ones above (Ctrl-D is 4).
        case control(UInt8)
        /// The screen must be drawn again (Ctrl-L, the terminal was resized, or the program
        /// continued after Ctrl-Z), or an escape sequence this program has no use for (F1, Alt+x).
        case redraw
    }

    /// The terminal's settings before `start`, put back by `stop`.
    nonisolated(unsafe) private static var saved: termios?
    /// A byte read too far (after a lone lead byte of UTF-8), to be read again.
    nonisolated(unsafe) private static var pushedBack: UInt8?
    /// Written by the signal handlers to wake `read` for a redraw.
    nonisolated(unsafe) private static var wake: (read: Int32, write: Int32) = (-1, -1)
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []
    private static let lock = NSLock()

    /// Turns single keys on when standard input is a terminal; false (nothing changed) otherwise.
    static func start() -> Bool {
        guard isatty(STDIN_FILENO) != 0 else { return false }
        lock.lock()
        defer { lock.unlock() }
        guard takeTerminal() else { return false }
        if sources.isEmpty { installSignals() }
        return true
    }

    /// Puts the terminal's settings back and drops keys typed but not read (they would otherwise
    /// reach the shell); safe to call twice, and from the interruption handler.
    static func stop() {
        lock.lock()
        defer { lock.unlock() }
        giveTerminalBack()
    }

    /// Drops the keys typed while a step was running: a click too many must not skip its results.
    static func discardTypedAhead() {
        _ = tcflush(STDIN_FILENO, TCIFLUSH)
        pushedBack = nil
    }

    /// Non-canonical, no echo, no flow control (Ctrl-S would freeze the screen), no Ctrl-\ quit.
    private static func takeTerminal() -> Bool {
        var t = termios()
        guard tcgetattr(STDIN_FILENO, &t) == 0 else { return false }
        saved = t
        t.c_lflag &= ~tcflag_t(ICANON | ECHO)
        t.c_iflag &= ~tcflag_t(IXON)
        // VMIN 1, VTIME 0: a read returns as soon as one byte is there.
        withUnsafeMutableBytes(of: &t.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
            cc[Int(VQUIT)] = 0  // _POSIX_VDISABLE
        }
        return tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0
    }

    private static func giveTerminalBack() {
        guard var t = saved else { return }
        _ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &t)
        saved = nil
    }

    /// SIGWINCH wakes `read` for a redraw at the new size. SIGTSTP (Ctrl-Z) leaves the screen and
    /// gives the terminal back, then stops; on continuing, takes both again and wakes `read`.
    private static func installSignals() {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)
        wake = (fds[0], fds[1])
        for signal in [SIGWINCH, SIGTSTP] {
            Glibc.signal(signal, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signal, queue: .global())
            source.setEventHandler {
                if signal == SIGTSTP {
                    lock.lock()
                    let held = saved != nil
                    if held {
                        giveTerminalBack()
                        Terminal.leaveScreen()
                    }
                    lock.unlock()
                    kill(getpid(), SIGSTOP)
                    // Continued (fg). The shell may put back the settings it saved at the stop
                    // just after continuing us, so the terminal is taken again while that happens.
                    if held {
                        lock.lock()
                        Terminal.enterScreen()
                        _ = takeTerminal()
                        lock.unlock()
                        for _ in 0..<10 {
                            usleep(20_000)
                            lock.lock()
                            var t = termios()
                            if saved != nil, tcgetattr(STDIN_FILENO, &t) == 0, t.c_lflag & tcflag_t(ICANON) != 0 { _ = takeTerminal() }
                            lock.unlock()
                        }
                    }
                }
                var byte: UInt8 = 1
                _ = Glibc.write(wake.write, &byte, 1)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// The next key pressed; nil at the end of input.
    static func read() -> Key? {
        guard let byte = next(waking: true) else { return nil }
        switch byte {
        case 0x0A, 0x0D: return .enter
        case 0x7F, 0x08: return .backspace
        case 0x1B: return escapeSequence()
        case 0x0C: return .redraw
        case 0..<0x20: return .control(byte)
        case 0x20..<0x80: return .character(Character(Unicode.Scalar(byte)))
        case 0xC2...0xF4:
            // A UTF-8 character: its first byte says how many follow, and they come with it. A byte
            // that is not a continuation is not part of it: it is read again as the next key.
            let count = byte >= 0xF0 ? 3 : byte >= 0xE0 ? 2 : 1
            var bytes = [byte]
            for _ in 0..<count {
                guard let b = next(within: 10) else { break }
                guard (0x80...0xBF).contains(b) else { pushedBack = b; break }
                bytes.append(b)
            }
            return bytes.count == count + 1 ? String(decoding: bytes, as: UTF8.self).first.map(Key.character) ?? .redraw : .redraw
        default:
            return .redraw  // not UTF-8 (Latin-1, an 8-bit Alt): nothing to act on
        }
    }

    /// After ESC: a lone Escape when nothing follows within 50 ms (a person pressing Esc), else
    /// the CSI or SS3 sequence of an arrow, Home/End or Page key, whose bytes come together: one
    /// that does not follow within 10 ms was typed by a person, and is left to be read as a key.
    private static func escapeSequence() -> Key {
        guard let introducer = next(within: 50) else { return .escape }
        // ESC ESC [ D: Alt+← in some terminals; the arrow it carries is what counts.
        if introducer == 0x1B { return escapeSequence() }
        guard introducer == UInt8(ascii: "[") || introducer == UInt8(ascii: "O") else { return .redraw }
        var body: [UInt8] = []
        // Parameter bytes, then one final byte in @…~ (the Linux console's F1 is ESC [ [ A).
        while let b = next(within: 10) {
            body.append(b)
            if (0x40...0x7E).contains(b) && body != [UInt8(ascii: "[")] { break }
        }
        switch String(decoding: body, as: UTF8.self) {
        case "A": return .up
        case "B": return .down
        case "C": return .right
        case "D": return .left
        case "H", "1~", "7~": return .home
        case "F", "4~", "8~": return .end
        case "5~": return .pageUp
        case "6~": return .pageDown
        default: return .redraw
        }
    }

    /// The next byte: waiting for it (and, with `waking`, returning 0x0C — Ctrl-L, redraw — when a
    /// signal handler asks for a redraw), or at most `within` milliseconds (nil when none came).
    private static func next(waking: Bool = false, within milliseconds: Int32 = -1) -> UInt8? {
        if let b = pushedBack {
            pushedBack = nil
            return b
        }
        var fds = [pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: waking ? wake.read : -1, events: Int16(POLLIN), revents: 0)]
        while true {
            let ready = poll(&fds, 2, milliseconds)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { return nil }
            if fds[1].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 64)
                _ = Glibc.read(wake.read, &drain, drain.count)
                return 0x0C
            }
            var byte: UInt8 = 0
            let n = Glibc.read(STDIN_FILENO, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            return n == 1 ? byte : nil
        }
    }
}
