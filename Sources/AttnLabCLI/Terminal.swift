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
/// keys are neither echoed nor collected into lines; Ctrl-C still interrupts (ISIG stays on).
enum Keyboard {
    enum Key: Equatable {
        case character(Character)
        case enter, backspace, escape, left, right, up, down, pageUp, pageDown, home, end
        /// An escape sequence this program has no use for (F1, Insert, …).
        case other
    }

    /// The terminal's settings before `start`, put back by `stop`.
    nonisolated(unsafe) private static var saved: termios?
    private static let lock = NSLock()

    /// Turns single keys on when standard input is a terminal; false (nothing changed) otherwise.
    static func start() -> Bool {
        var t = termios()
        guard isatty(STDIN_FILENO) != 0, tcgetattr(STDIN_FILENO, &t) == 0 else { return false }
        lock.lock()
        defer { lock.unlock() }
        saved = t
        t.c_lflag &= ~tcflag_t(ICANON | ECHO)
        // VMIN 1, VTIME 0: a read returns as soon as one byte is there.
        withUnsafeMutableBytes(of: &t.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        return tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0
    }

    /// Puts the terminal's settings back; safe to call twice, and from the interruption handler.
    static func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard var t = saved else { return }
        _ = tcsetattr(STDIN_FILENO, TCSANOW, &t)
        saved = nil
    }

    /// The next key pressed; nil at the end of input.
    static func read() -> Key? {
        guard let byte = next() else { return nil }
        switch byte {
        case 0x0A, 0x0D: return .enter
        case 0x7F, 0x08: return .backspace
        case 0x1B: return escapeSequence()
        case 0..<0x80: return .character(Character(Unicode.Scalar(byte)))
        default:
            // A UTF-8 character: its first byte says how many follow.
            let count = byte >= 0xF0 ? 3 : byte >= 0xE0 ? 2 : 1
            var bytes = [byte]
            for _ in 0..<count { if let b = next() { bytes.append(b) } }
            return String(decoding: bytes, as: UTF8.self).first.map(Key.character) ?? .other
        }
    }

    /// After ESC: a lone Escape when nothing follows within 50 ms (a person pressing Esc), else
    /// the CSI or SS3 sequence of an arrow, Home/End or Page key.
    private static func escapeSequence() -> Key {
        var poller = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 50) > 0, let introducer = next() else { return .escape }
        guard introducer == UInt8(ascii: "[") || introducer == UInt8(ascii: "O") else { return .other }
        var body: [UInt8] = []
        // Parameter bytes, then one final byte in @…~.
        while let b = next() {
            body.append(b)
            if (0x40...0x7E).contains(b) { break }
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
        default: return .other
        }
    }

    private static func next() -> UInt8? {
        var byte: UInt8 = 0
        while true {
            let n = Glibc.read(STDIN_FILENO, &byte, 1)
            if n == 1 { return byte }
            if n < 0 && errno == EINTR { continue }
            return nil
        }
    }
}
