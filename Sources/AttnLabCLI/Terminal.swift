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

