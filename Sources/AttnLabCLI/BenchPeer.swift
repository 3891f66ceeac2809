import AttnEngine
import AttnModels
import Foundation

/// A Python script `bench` runs beside AttnLab — NumPy for the tile kernels, llama.cpp for a real
/// model — started once per measurement, between AttnLab's own runs, so that both sides see the same
/// moments of a busy machine. It prints JSON objects, one per line; any other line is ignored.
struct PeerScript {
    /// The interpreter: the peer environment's (`bench/.venv/bin/python`) or `python3` on PATH.
    let python: String
    let script: String
    /// The flag that names the script, for errors.
    let field: Field
    /// What to check when the script fails, ending the one-line error.
    let hint: String

    /// The peer environment `bench/setup.sh` makes, with pinned NumPy and llama-cpp-python.
    static let environment = "bench/.venv"
    static let defaultPython = environment + "/bin/python"
    static let setupCommand = "bash bench/setup.sh"

    /// Runs the script with `arguments` and returns its JSON objects. Python children die with AttnLab
    /// (`ChildProcess`); OpenBLAS's core-type overrides are removed (they slow a current NumPy; see
    /// the machine notes).
    func run(_ arguments: [String], input: String? = nil) throws -> [[String: Any]] {
        let process = ChildProcess.make([python, script] + arguments)
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_CORETYPE"] = nil
        environment["OPENBLAS_L2_SIZE"] = nil
        process.environment = environment
        // Errors share the output's pipe: a traceback cannot fill a second pipe while this one is
        // read, and its last line, the exception, goes into the one-line error.
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let stdin = input.map { _ in Pipe() }
        if let stdin { process.standardInput = stdin }
        try process.run()
        if let stdin, let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        guard process.terminationStatus == 0 else {
            let last = lines.last.map { ": \($0.trimmingCharacters(in: .whitespaces))" } ?? ""
            throw ConfigError(field, "\(python) \(script) failed (status \(process.terminationStatus))\(last); \(hint)")
        }
        return lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// The error for a script that ran but did not print what `bench` needs.
    func silent(_ what: String) -> ConfigError {
        ConfigError(field, "\(python) \(script) printed no \(what); \(hint)")
    }
}
