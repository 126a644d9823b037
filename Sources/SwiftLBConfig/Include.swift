import FoundationEssentials
import Glibc

/// Reading configuration files: the top file, and the files `include` names.
extension SectionParser {
    /// `include PATTERN…`: each file matching (glob, relative to the including file's
    /// directory) is read in place, as keepalived does; its lines carry its own name.
    func include(_ line: ConfigLine) {
        guard line.words.count >= 2 else { fail(line, "expects a file or a glob, e.g. 'include /etc/keepalived/keepalived.conf'"); return }
        guard includeStack.count < 8 else { fail(line, "includes nested more than 8 deep"); return }
        for pattern in line.words.dropFirst() {
            let base = file.lastIndex(of: "/").map { String(file[..<$0]) } ?? ""
            let absolute = pattern.hasPrefix("/") ? pattern : (base.isEmpty ? pattern : base + "/" + pattern)
            let paths = globPaths(absolute)
            if paths.isEmpty && !pattern.contains(where: { "*?[".contains($0) }) {
                fail(line, "Cannot open configuration file/directory \(absolute) : No such file or directory")
                continue
            }
            for path in paths {
                let real = resolvedPath(path)
                guard !includeStack.contains(real), real != resolvedPath(config.file) else {
                    fail(line, "'\(path)' includes itself"); continue
                }
                let text: String
                do throws(ConfigError) { text = try readConfigFile(path, includedAt: (file, line.number)) } catch { errors.append(error); continue }
                let lines: [ConfigLine]
                do throws(ConfigErrors) { lines = try ConfigLexer.lines(of: text, file: path, environment: environment) } catch { errors += error.errors; continue }
                let including = file
                includeStack.append(real)
                file = path
                handleFile(lines)
                file = including
                includeStack.removeLast()
                currentLine = line
            }
        }
    }
}

/// The paths a glob matches, sorted (none: empty).
func globPaths(_ pattern: String) -> [String] {
    var result = glob_t()
    defer { globfree(&result) }
    guard glob(pattern, 0, nil, &result) == 0 else { return [] }
    return (0..<Int(result.gl_pathc)).compactMap { result.gl_pathv[$0].map { String(cString: $0) } }.sorted()
}

/// The text of a configuration file, or an error that names the file and why it cannot be
/// read (haproxy's words: "Cannot open configuration file/directory PATH : REASON").
func readConfigFile(_ path: String, includedAt: (file: String, line: Int)? = nil) throws(ConfigError) -> String {
    func failure(_ reason: String) -> ConfigError {
        let message = "Cannot open configuration file/directory \(path) : \(reason)"
        guard let includedAt else { return ConfigError(file: path, line: 0, keyword: "", message: message) }
        return ConfigError(file: includedAt.file, line: includedAt.line, keyword: "include", message: message)
    }
    var info = stat()
    guard stat(path, &info) == 0 else { throw failure(String(cString: strerror(errno))) }
    if info.st_mode & S_IFMT == S_IFDIR { throw failure("is a directory (name a file, or include DIR/*.conf from one)") }
    guard let data = FileManager.default.contents(atPath: path) else { throw failure(String(cString: strerror(errno == 0 ? EACCES : errno))) }
    guard let text = String(data: data, encoding: .utf8) else { throw failure("not UTF-8 text") }
    return text
}

/// `path` with its symbolic links and `.`/`..` resolved (realpath(3)); the path as written
/// when it cannot be resolved (a file that does not exist is reported when it is read).
func resolvedPath(_ path: String) -> String {
    guard let resolved = realpath(path, nil) else { return path }
    defer { free(resolved) }
    return String(cString: resolved)
}
