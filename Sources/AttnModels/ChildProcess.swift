import Foundation

/// Python children that die with AttnLab: pip in `model fetch`, NumPy in `bench`.
///
/// A child started with `Process` outlives its parent: a killed `bench` left its NumPy run at 100%
/// CPU. Linux's `prctl(PR_SET_PDEATHSIG, SIGKILL)` ties the child's life to the parent's, but it
/// must be called in the child, which `Process` cannot do; so the child starts as a small Python
/// wrapper that calls it, runs the real command and watches that AttnLab is still there.
public enum ChildProcess {
    /// The wrapper: asks for SIGKILL when its parent dies, exits if AttnLab (`argv[1]`) is already
    /// gone, restores the default SIGINT and SIGTERM (AttnLab ignores them to handle them itself, and
    /// ignored signals are inherited), then runs the command as its own child, tied to it the same
    /// way, and watches AttnLab's process id. `python3` on PATH may be a shim (pyenv) that runs the
    /// real interpreter as a child of its own, so the parent-death signal alone can fire on the shim's
    /// death instead of AttnLab's; the watch catches that case.
    static let wrapper = """
        import ctypes, os, signal, subprocess, sys, time
        tie = lambda: ctypes.CDLL(None).prctl(1, signal.SIGKILL)
        tie()
        def alive():
            try: os.kill(int(sys.argv[1]), 0); return True
            except ProcessLookupError: return False
            except PermissionError: return True
        if not alive(): os._exit(1)
        signal.signal(signal.SIGINT, signal.SIG_DFL); signal.signal(signal.SIGTERM, signal.SIG_DFL)
        child = subprocess.Popen(sys.argv[2:], preexec_fn=tie)
        while child.poll() is None:
            if not alive(): child.kill(); child.wait(); os._exit(1)
            time.sleep(0.2)
        sys.exit(child.returncode)
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
