import Foundation

/// Turns lb.conf text into a validated `Configuration`, or into every error it contains.
///
/// Sections and keywords follow haproxy.cfg: a `defaults` section presets the proxies that follow
/// it; `listen` is a frontend and a backend of the same name. What each keyword means lives in
/// its feature file under Keywords/, registered in `KeywordRegistry`; this file is only the
/// loop over sections and lines. All errors carry file and line.
public enum ConfigParser {
    public static func parse(contentsOf path: String) throws(ConfigErrors) -> Configuration {
        let text: String
        do throws(ConfigError) {
            text = try readConfigFile(path)
        } catch {
            throw ConfigErrors([error])
        }
        return try parse(text: text, file: path)
    }

    public static func parse(text: String, file: String) throws(ConfigErrors) -> Configuration {
        try parse(text: text, file: file, acceptingPending: false)
    }

    /// `acceptingPending`: pending keywords are parsed into the model instead of refused — for
    /// the tests of their syntax and model, and for whoever makes one of them real.
    static func parse(text: String, file: String, acceptingPending: Bool,
                      environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigErrors) -> Configuration {
        let parser = SectionParser(file: file)
        parser.acceptPending = acceptingPending
        parser.environment = environment
        let lines = try ConfigLexer.lines(of: text, file: file, environment: environment)
        for line in lines {
            parser.handle(line)
        }
        parser.finishFile(lastLine: lines.last?.number ?? 0)
        parser.finish()
        if !parser.errors.isEmpty { throw ConfigErrors(parser.errors) }
        var config = parser.config
        config.warnings = parser.warnings
        return config
    }
}

/// The stateful half of the parser: which section we are in and what it has collected so far.
/// Keyword parsers (Keywords/*.swift) extend it and write into `config` through it.
final class SectionParser {
    enum Section {
        case none, skipped, global, defaults
        case frontend(index: Int)
        case backend(name: String)
        case listen(index: Int, backend: String)
        case vrrp(index: Int)
        case httpErrors(name: String)
        case vrrpScript(name: String)
        case globalDefs

        var kind: SectionKind? {
            switch self {
            case .none, .skipped: nil
            case .global: .global
            case .defaults: .defaults
            case .frontend: .frontend
            case .backend: .backend
            case .listen: .listen
            case .vrrp: .vrrp
            case .httpErrors: .httpErrors
            case .vrrpScript: .vrrpScript
            case .globalDefs: .globalDefs
            }
        }
    }

    /// The file the current line comes from (an `include` changes it).
    var file: String
    var config: Configuration
    var errors: [ConfigError] = []
    var warnings: [ConfigError] = []
    /// Pending keywords are parsed into the model instead of refused (tests only).
    var acceptPending = false
    /// What `acceptPending` let through, for the tests to check.
    var pendingUsed: [String] = []
    var section: Section = .none
    var defaults = ProxyOptions()
    /// ACLs of the current proxy section; HAProxy scopes them to the section that declares them.
    var acls: [String: ACL] = [:]
    /// Where each backend is referenced, so an unknown name is reported at the referring line.
    var backendReferences: [(name: String, line: Int, keyword: String, file: String)] = []
    /// `errorfiles NAME` lines, checked against the http-errors sections at the end.
    var errorFilesReferences: [(name: String, line: Int, file: String)] = []
    /// Frontends with at least one `bind` line, valid or not (a bad one is reported once).
    var frontendsWithBindLines: Set<String> = []
    /// `listen` sections: one proxy for the timeout warning, as HAProxy counts them.
    var listenNames: Set<String> = []
    /// `default_backend` written in a `defaults` section, inherited by the frontends after it.
    var defaultBackendName: (name: String, line: Int)?
    /// Instances (by index) where `auth none` was written: an unauthenticated heartbeat must be
    /// asked for.
    var authNone: Set<Int> = []
    /// The line being handled, for parsers that report more than one problem.
    private(set) var currentLine = ConfigLine(number: 0, words: [])

    init(file: String) {
        self.file = file
        self.config = Configuration(file: file)
    }

    func fail(_ line: ConfigLine, _ message: String, keyword: String? = nil) {
        errors.append(ConfigError(file: file, line: line.number, keyword: keyword ?? line.words[0], message: message))
    }

    func warn(_ line: Int, _ keyword: String, _ message: String) {
        warnings.append(ConfigError(file: file, line: line, keyword: keyword, message: message))
    }

    /// A warning about the line being parsed.
    func warn(_ message: String) {
        warn(currentLine.number, currentLine.words.first ?? "", message)
    }

    /// The one gate: an active keyword passes; a pending or unsupported one is refused.
    func gate(_ status: KeywordStatus, _ what: String) throws(ParseFailure) {
        switch status {
        case .active: return
        case .pending(let reason):
            if acceptPending { pendingUsed.append(what); return }
            throw ParseFailure("\(what) is not yet supported by SwiftLB: \(reason)")
        case .unsupported(let reason):
            throw ParseFailure("\(what) is not supported by SwiftLB: \(reason)")
        }
    }

    /// The message of a keyword parser's error (they throw `ParseFailure`).
    func failureMessage(_ error: any Error) -> String {
        (error as? ParseFailure)?.message ?? "\(error)"
    }

    /// The keepalived block being gathered, if a line opened one.
    private var keepalived: KeepalivedCollector?
    /// Environment variables for `"${VAR}"`, and the files being included (cycles).
    var environment: [String: String] = [:]
    private var includeStack: [String] = []

    func handle(_ line: ConfigLine) {
        currentLine = line
        if var collector = keepalived {
            let done = collector.feed(line)
            keepalived = done ? nil : collector
            if done { finishBlock(collector) }
            if !collector.lineNotRead { return }
        }
        let keyword = line.words[0]
        if keyword.hasPrefix("!") { return }  // keepalived's comment character
        if keyword == "include" {
            include(line)
            return
        }
        if KeepalivedBlock.openers.contains(keyword) {
            var collector = KeepalivedCollector()
            if collector.feed(line) { finishBlock(collector) } else { keepalived = collector }
            return
        }
        if SectionRegistry.active[keyword] != nil || SectionRegistry.pending[keyword] != nil || SectionRegistry.unsupported[keyword] != nil {
            startSection(line)
            return
        }
        switch section {
        case .skipped:
            return  // the section header was already reported
        case .none:
            let near = didYouMean(keyword, in: SectionRegistry.names)
            fail(line, "keyword outside of any section; expected a section such as 'global', 'defaults', 'frontend', 'backend' or 'listen'\(near)")
        default:
            handleKeyword(line, in: section.kind!)
        }
    }

    private func finishBlock(_ collector: KeepalivedCollector) {
        if let problem = collector.problem {
            errors.append(ConfigError(file: file, line: problem.line, keyword: collector.lineNotRead ? "{" : "}", message: problem.message))
        } else if let block = collector.result {
            process(block)
        }
    }

    /// At the end of a file: a block still open is an error at its last line.
    func finishFile(lastLine: Int) {
        if let collector = keepalived, collector.isOpen {
            let message = collector.awaitingBrace ? "a keepalived block opener without '{' (it ends the file)" : "end of file inside a '{ … }' block: a '}' is missing"
            errors.append(ConfigError(file: file, line: lastLine, keyword: collector.awaitingBrace ? "{" : "}", message: message))
        }
        keepalived = nil
    }

    /// `include PATTERN…`: each file matching (glob, relative to the including file's
    /// directory) is read in place, as keepalived does; its lines carry its own name.
    private func include(_ line: ConfigLine) {
        guard line.words.count >= 2 else { fail(line, "expects a file or a glob, e.g. 'include /etc/keepalived/keepalived.conf'"); return }
        guard includeStack.count < 8 else { fail(line, "includes nested more than 8 deep"); return }
        for pattern in line.words.dropFirst() {
            let base = (file as NSString).deletingLastPathComponent
            let absolute = pattern.hasPrefix("/") ? pattern : (base.isEmpty ? pattern : base + "/" + pattern)
            let paths = globPaths(absolute)
            if paths.isEmpty && !pattern.contains(where: { "*?[".contains($0) }) {
                fail(line, "Cannot open configuration file/directory \(absolute) : No such file or directory")
                continue
            }
            for path in paths {
                let real = (path as NSString).resolvingSymlinksInPath
                guard !includeStack.contains(real), real != (config.file as NSString).resolvingSymlinksInPath else {
                    fail(line, "'\(path)' includes itself"); continue
                }
                let text: String
                do throws(ConfigError) { text = try readConfigFile(path, includedAt: (file, line.number)) } catch { errors.append(error); continue }
                let lines: [ConfigLine]
                do throws(ConfigErrors) { lines = try ConfigLexer.lines(of: text, file: path, environment: environment) } catch { errors += error.errors; continue }
                let including = file
                includeStack.append(real)
                file = path
                for included in lines { handle(included) }
                finishFile(lastLine: lines.last?.number ?? 0)
                file = including
                includeStack.removeLast()
                currentLine = line
            }
        }
    }

    func handleKeyword(_ line: ConfigLine, in kind: SectionKind) {
        currentLine = line
        var words = line.words
        var negated = false
        if words[0] == "no", words.count > 1 {
            negated = true
            words.removeFirst()
        }
        switch KeywordRegistry.lookup(words, in: kind) {
        case .found(let keyword, let consumed):
            if negated && !keyword.negatable {
                fail(line, "'no' cannot be used with '\(keyword.name)'"); return
            }
            if case .unsupported(let reason) = keyword.status {
                fail(line, "'\(keyword.name)' is not supported by SwiftLB: \(reason)"); return
            }
            let call = KeywordCall(line: line, args: Array(words.dropFirst(consumed)), negated: negated, section: kind)
            do {
                try keyword.parse?(self, call)
                try gate(keyword.status, "'\(keyword.name)'")
                if kind == .global { config.global.keywordLines[keyword.name] = line.number }
            } catch {
                fail(line, failureMessage(error))
            }
        case .wrongSection(let keyword):
            wrongSection(keyword, line, kind)
        case .unknownInFamily(let prefix, let word):
            let members = KeywordRegistry.members(of: prefix, in: kind)
            guard let word else {
                fail(line, "'\(prefix)' expects one of: \(members.joined(separator: ", "))"); return
            }
            let noun = prefix == "timeout" || prefix == "option" ? prefix : "'\(prefix)' action"
            let allMembers = (members + SectionKind.allCases.flatMap { KeywordRegistry.members(of: prefix, in: $0) }).filter { $0 != word }
            fail(line, "unknown \(noun) '\(word)'\(didYouMean(word, in: allMembers))")
        case .unknown:
            let near = didYouMean(words[0], in: KeywordRegistry.firstWords(in: kind) + SectionRegistry.names)
            fail(line, "unknown keyword in '\(kind.rawValue)' section\(near)")
        }
    }

    /// HAProxy's rule: a keyword of the other side of a proxy (`timeout server` in a
    /// frontend, `bind` in a backend) is ignored with a warning; `server` in a frontend and
    /// anything else out of place is an error — as is a keyword HAProxy would act on there.
    private func wrongSection(_ keyword: Keyword, _ line: ConfigLine, _ kind: SectionKind) {
        if kind == .frontend || kind == .backend, keyword.sections.contains(.listen), keyword.name != "server",
           !keyword.haproxySections.contains(kind) {
            let missing = kind == .frontend ? "backend" : "frontend"
            warn("'\(keyword.name)' ignored because \(kind.rawValue) '\(sectionName)' has no \(missing) capability")
            return
        }
        let places = SectionKind.allCases.filter { keyword.sections.contains($0) }.map(\.rawValue).joined(separator: ", ")
        fail(line, "'\(keyword.name)' is not allowed in a '\(kind.rawValue)' section (allowed in: \(places))")
    }

    /// The name of the current proxy section, for messages.
    var sectionName: String {
        switch section {
        case .frontend(let i), .listen(let i, _): config.frontends[i].name
        case .backend(let name), .httpErrors(let name): name
        case .vrrp(let i): config.vrrpInstances[i].name
        default: ""
        }
    }

    // MARK: sections

    private func startSection(_ line: ConfigLine) {
        let keyword = line.words[0]
        acls = [:]
        if let reason = SectionRegistry.unsupported[keyword] {
            fail(line, "section '\(keyword)' is not supported by SwiftLB: \(reason)")
            section = .skipped
            return
        }
        switch keyword {
        case "global":
            section = .global
        case "vrrp":
            section = startVRRP(line).map { .vrrp(index: $0) } ?? .skipped
        case "http-errors":
            section = startHTTPErrors(line).map { .httpErrors(name: $0) } ?? .skipped
        case "defaults":
            // `defaults [name]`: a new defaults section starts from scratch, as in HAProxy.
            if line.words.count > 2 { fail(line, "named defaults with 'from' are not supported") }
            defaults = ProxyOptions()
            defaultBackendName = nil
            section = .defaults
        default:
            guard line.words.count == 2 else {
                if line.words.count > 2, parseAddress(line.words[2]) != nil || line.words[2].hasPrefix(":") {
                    fail(line, "a listening address goes on a 'bind' line (HAProxy 1.x's '\(keyword) NAME ADDRESS' was removed): write 'bind \(line.words[2])' under '\(keyword) \(line.words[1])'")
                } else {
                    fail(line, line.words.count < 2 ? "missing name: '\(keyword) NAME'" : "unexpected words after the name: \(line.words.dropFirst(2).joined(separator: " "))")
                }
                section = .skipped
                return
            }
            let name = line.words[1]
            let isFront = keyword == "frontend" || keyword == "listen"
            let isBack = keyword == "backend" || keyword == "listen"
            if isFront, config.frontends.contains(where: { $0.name == name }) {
                fail(line, "a frontend named '\(name)' already exists"); section = .skipped; return
            }
            if isBack, let other = config.backends[name] {
                fail(line, "a backend named '\(name)' already exists (line \(other.line))"); section = .skipped; return
            }
            var frontIndex = 0
            if isFront {
                var frontend = Frontend(name: name, line: line.number, options: defaults)
                if keyword == "listen" { frontend.defaultBackend = name }
                config.frontends.append(frontend)
                frontIndex = config.frontends.count - 1
            }
            if isBack { config.backends[name] = Backend(name: name, line: line.number, options: defaults) }
            switch keyword {
            case "frontend": section = .frontend(index: frontIndex)
            case "backend": section = .backend(name: name)
            default:
                section = .listen(index: frontIndex, backend: name)
                listenNames.insert(name)
            }
            if keyword == "frontend", let backend = defaultBackendName {
                config.frontends[frontIndex].defaultBackend = backend.name
                backendReferences.append((backend.name, backend.line, "default_backend", file))
            }
        }
    }

    // MARK: helpers for keyword parsers

    /// Applies a change to the options of whatever the current section configures.
    func withOptions(_ change: (inout ProxyOptions) -> Void) {
        switch section {
        case .defaults: change(&defaults)
        case .frontend(let i): change(&config.frontends[i].options)
        case .backend(let name): change(&config.backends[name]!.options)
        case .listen(let i, let name):
            change(&config.frontends[i].options)
            change(&config.backends[name]!.options)
        default: break
        }
    }

    /// The options of the current section (the backend's in a `listen`).
    var options: ProxyOptions {
        switch section {
        case .defaults: defaults
        case .frontend(let i): config.frontends[i].options
        case .backend(let name), .listen(_, let name): config.backends[name]!.options
        default: ProxyOptions()
        }
    }

    /// Applies a change to the current frontend (or the front half of a `listen`).
    func withFrontend(_ change: (inout Frontend) -> Void) {
        switch section {
        case .frontend(let i), .listen(let i, _): change(&config.frontends[i])
        default: break
        }
    }

    /// Applies a change to the current backend (or the back half of a `listen`).
    func withBackend(_ change: (inout Backend) -> Void) {
        switch section {
        case .backend(let name), .listen(_, let name): change(&config.backends[name]!)
        default: break
        }
    }

    func referenceBackend(_ name: String, line: ConfigLine) {
        backendReferences.append((name, line.number, line.words[0], file))
    }

    // MARK: validation

    /// Cross-section checks that need the whole file: referenced backends exist, frontends
    /// listen somewhere, no two frontends bind the same address, timeouts are set.
    func finish() {
        finishVRRP()
        finishProcess()
        for ref in errorFilesReferences where config.httpErrors[ref.name] == nil {
            errors.append(ConfigError(file: ref.file, line: ref.line, keyword: "errorfiles",
                                      message: "no http-errors section named '\(ref.name)'\(didYouMean(ref.name, in: Array(config.httpErrors.keys)))"))
        }
        for ref in backendReferences where config.backends[ref.name] == nil {
            let near = didYouMean(ref.name, in: Array(config.backends.keys))
            errors.append(ConfigError(file: ref.file, line: ref.line, keyword: ref.keyword, message: "no backend named '\(ref.name)'\(near)"))
        }
        var seen: [String: String] = [:]
        for frontend in config.frontends {
            if frontend.binds.isEmpty && !frontendsWithBindLines.contains(frontend.name) {
                // HAProxy's warning: such a proxy receives no traffic.
                warn(frontend.line, "frontend", "frontend '\(frontend.name)' has no 'bind' directive. Please declare it as a backend if this was intended.")
            }
            for bind in frontend.binds {
                let key = bind.socket.map { "\($0)" } ?? "\(bind.host):\(bind.port)"
                if let other = seen[key] {
                    errors.append(ConfigError(file: file, line: bind.line, keyword: "bind", message: "\(key) is already bound by frontend '\(other)'"))
                }
                seen[key] = frontend.name
            }
            if !listenNames.contains(frontend.name), frontend.options.timeouts.client == nil {
                warnMissingTimeouts("frontend", frontend.name, line: frontend.line)
            }
        }
        for backend in config.backends.values.sorted(by: { $0.line < $1.line }) {
            if backend.options.httpCheck != nil && backend.options.tcpCheck != nil {
                errors.append(ConfigError(file: file, line: backend.line, keyword: "option",
                                          message: "backend '\(backend.name)' has both 'option httpchk' and 'option tcp-check'; choose one"))
            }
            let t = backend.options.timeouts
            let isListen = listenNames.contains(backend.name)
            if t.connect == nil || t.server == nil || (isListen && t.client == nil) {
                warnMissingTimeouts(isListen ? "proxy" : "backend", backend.name, line: backend.line)
            }
            if backend.servers.isEmpty { warn(backend.line, "backend", "backend '\(backend.name)' has no server: every request gets 503") }
            if backend.options.tcpCheck != nil {
                warn(backend.line, "backend", "backend '\(backend.name)' checks its servers with tcp-check (or redis-check) but serves 'mode http': "
                     + "its clients must speak HTTP (a Redis or Postgres client would get 'HTTP/1.1 400'); 'mode tcp' is not supported yet")
            }
        }
    }

    /// HAProxy's warning, word for word, so that whoever knows it recognises it.
    private func warnMissingTimeouts(_ kind: String, _ name: String, line: Int) {
        warn(line, "timeout", """
            missing timeouts for \(kind) '\(name)'.
            While not properly invalid, you will certainly encounter various problems
            with such a configuration. To fix this, please ensure that all following
            timeouts are set to a non-zero value: 'client', 'connect', 'server'.
            """)
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

/// `HOST:PORT`, `:PORT`, `*:PORT`, `[V6]:PORT`. Returns nil when the port is missing or invalid.
func parseAddress(_ text: String) -> (String, Int)? {
    var host: Substring
    var portText: Substring
    if text.hasPrefix("[") {
        guard let close = text.firstIndex(of: "]") else { return nil }
        host = text[text.index(after: text.startIndex)..<close]
        let after = text[text.index(after: close)...]
        guard after.hasPrefix(":") else { return nil }
        portText = after.dropFirst()
    } else {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        host = text[..<colon]
        portText = text[text.index(after: colon)...]
        if host.contains(":") { return nil }  // bare IPv6 needs brackets
    }
    guard let port = Int(portText), (1...65535).contains(port) else { return nil }
    guard host.allSatisfy({ $0.isLetter || $0.isNumber || ".-_:*".contains($0) }) else { return nil }
    return (String(host), port)
}

/// RFC 9110 §5.6.2 token characters.
func isHeaderToken(_ name: String) -> Bool {
    !name.isEmpty && name.utf8.allSatisfy { b in
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || "!#$%&'*+-.^_`|~".utf8.contains(b)
    }
}
