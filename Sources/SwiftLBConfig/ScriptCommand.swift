import Glibc

/// The program a `vrrp_script`'s command runs, checked when the file is read: keepalived
/// disables a script whose program is not there (and `keepalived -t` refuses the file), so the
/// VIP would never move for what it watches. SwiftLB runs the command with `/bin/sh -c`, so a
/// shell builtin (`test`, `[`, `kill`…) or shell syntax (`</dev/tcp/…`, `$VAR`) is left to the
/// shell; a plain program name is looked up in PATH, a path must be an executable file.
enum ScriptCommand {
    private static let builtins: Set<String> = [
        "test", "[", "!", "true", "false", "exit", "kill", "echo", "printf", "exec", "command", "cd", "read", "eval",
        "if", "for", "while", "until", "case", "{", "(", ":", ".", "set", "export", "type", "ulimit", "wait", "sleep",
    ]

    /// Why `command` cannot run, or nil when it can (or only the shell can tell).
    static func problem(_ command: String) -> String? {
        guard let program = command.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init), !program.isEmpty else {
            return "the command is empty"
        }
        let plain = program.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == UInt8(ascii: "_")
                || c == UInt8(ascii: "-") || c == UInt8(ascii: ".") || c == UInt8(ascii: "/") || c == UInt8(ascii: "+")
        }
        guard plain, !builtins.contains(program) else { return nil }
        if program.contains("/") {
            return isExecutableFile(program) ? nil : "'\(program)' is not an executable file"
        }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for directory in path.split(separator: ":") where isExecutableFile("\(directory)/\(program)") { return nil }
        return "'\(program)' is not found in PATH"
    }

    private static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
    }
}
