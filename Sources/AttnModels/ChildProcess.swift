import Foundation

/// Python children that die with AttnLab: pip in `model fetch`, NumPy in `bench`.
///
/// A child started with `Process` outlives its parent: a killed `bench` left its NumPy run at 100%
/// CPU. Linux's `prctl(PR_SET_PDEATHSIG, SIGKILL)` ties the child's life to the parent's, but it
/// must be called in the child, which `Process` cannot do; so the child starts as a three-line
/// Python wrapper that calls it and then executes the real command (the setting survives exec).
public enum ChildProcess {
    /// The wrapper: asks for SIGKILL when the parent dies, exits if the parent is already gone (it
    /// may have died before the call), restores the default SIGINT and SIGTERM (the parent ignores
    /// them to handle them itself, and ignored signals are inherited), then runs the command.
    static let wrapper = """
        import ctypes, os, signal, sys
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)
        if os.getppid() != int(sys.argv[1]): os._exit(1)
        signal.signal(signal.SIGINT, signal.SIG_DFL); signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.execvp(sys.argv[2], sys.argv[2:])
        """

    /// A process that runs `command` (its first element found on PATH) and is killed when this
    /// process dies, however it dies (SIGKILL included).
    public static func make(_ command: [String]) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", wrapper, String(getpid())] + command
        return process
    }
}
