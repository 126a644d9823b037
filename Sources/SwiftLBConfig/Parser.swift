import FoundationEssentials
import Glibc

/// Turns lb.conf text into a validated `Configuration`, or into every error it contains.
///
/// Sections and keywords follow haproxy.cfg: a `defaults` section presets the proxies that follow
/// it; `listen` is a frontend and a backend of the same name. What each keyword means lives in
/// its feature file under Keywords/, registered in `KeywordRegistry`; this file is only the
/// loop over sections and lines. All errors carry file and line.
public enum ConfigParser {
    /// `facts`: what `.if` conditions ask about the program (the executable passes its own).
    public static func parse(contentsOf path: String, facts: BuildFacts = .unknown) throws(ConfigErrors) -> Configuration {
        let text: String
        do throws(ConfigError) {
            text = try readConfigFile(path)
        } catch {
            throw ConfigErrors([error])
        }
        return try parse(text: text, file: path, facts: facts)
    }

    public static func parse(text: String, file: String, facts: BuildFacts = .unknown) throws(ConfigErrors) -> Configuration {
        try parse(text: text, file: file, acceptingPending: false, facts: facts)
    }

    /// `acceptingPending`: pending keywords are parsed into the model instead of refused — for
    /// the tests of their syntax and model, and for whoever makes one of them real.
    static func parse(text: String, file: String, acceptingPending: Bool,
                      environment: [String: String] = ProcessInfo.processInfo.environment,
                      facts: BuildFacts = .unknown) throws(ConfigErrors) -> Configuration {
        let parser = SectionParser(file: file)
        parser.acceptPending = acceptingPending
        parser.environment = environment
        parser.facts = facts
        let lines = try ConfigLexer.lines(of: text, file: file, environment: environment)
        parser.handleFile(lines)
        parser.finish()
        if !parser.errors.isEmpty { throw ConfigErrors(parser.errors) }
        var config = parser.config
        config.warnings = parser.warnings
        config.notices = parser.notices
        config.alerts = parser.alerts
        config.alertPlaces = parser.alertPlaces
        return config
    }
}

/// The stateful half of the parser: which section we are in and what it has collected so far.
/// Keyword parsers (Keywords/*.swift) extend it and write into `config` through it.
final class SectionParser {
    enum Section {
        case none, skipped, global, defaults
        /// An `fcgi-app` section: its keywords are checked by name and ignored (FastCGI.swift).
        case fcgiApp
        case frontend(index: Int)
        case backend(name: String)
        case listen(index: Int, backend: String)
        case vrrp(index: Int)
        case httpErrors(name: String)
        case userlist(name: String)
        case peers(name: String)
        case ring(name: String)
        case logForward(index: Int)
        case vrrpScript(name: String)
        case vrrpTrackProcess(name: String)
        case trackFile(name: String)
        case globalDefs

        /// The name of the keepalived block being read (`vrrp_script NAME { … }`).
        var blockName: String? {
            switch self {
            case .vrrpScript(let name), .vrrpTrackProcess(let name), .trackFile(let name): name
            default: nil
            }
        }

        var kind: SectionKind? {
            switch self {
            case .none, .skipped, .fcgiApp: nil
            case .global: .global
            case .defaults: .defaults
            case .frontend: .frontend
            case .backend: .backend
            case .listen: .listen
            case .vrrp: .vrrp
            case .httpErrors: .httpErrors
            case .userlist: .userlist
            case .peers: .peers
            case .ring: .ring
            case .logForward: .logForward
            case .vrrpScript: .vrrpScript
            case .vrrpTrackProcess: .vrrpTrackProcess
            case .trackFile: .trackFile
            case .globalDefs: .globalDefs
            }
        }
    }

    /// The file the current line comes from (an `include` changes it).
    var file: String
    var config: Configuration
    var errors: [ConfigError] = []
    var warnings: [ConfigError] = []
    /// `.notice` lines.
    var notices: [ConfigError] = []
    var alerts: [ConfigError] = []
    /// `Configuration.alertPlaces`: how many warnings were given before each alert.
    var alertPlaces: [Int] = []
    /// The once-only global keywords already given (`KeywordRegistry.onceOnlyGlobals`).
    var onceOnlySeen: Set<String> = []
    /// What `.if` conditions ask about the program.
    var facts = BuildFacts.unknown
    /// The node's keepalived config-id, for `@ID` lines: looked up at the first such line.
    private(set) lazy var configID: String = facts.configID ?? KeepalivedConditional.hostConfigID()
    /// An `.alert` line was read: HAProxy stops reading the configuration there.
    var aborted = false
    /// Pending keywords are parsed into the model instead of refused (tests only).
    var acceptPending = false
    /// What `acceptPending` let through, for the tests to check.
    var pendingUsed: [String] = []
    var section: Section = .none
    /// The `defaults` sections so far; the first is HAProxy's built-in one (no line).
    var defaultsSections = [DefaultsSection(name: nil, line: 0, file: "")]
    /// The last defaults section: the one being parsed, or the one proxies inherit implicitly.
    var lastDefaults = 0
    /// The options of the last defaults section.
    var defaults: ProxyOptions {
        get { defaultsSections[lastDefaults].options }
        set { defaultsSections[lastDefaults].options = newValue }
    }
    /// ACLs of the current proxy section; HAProxy scopes them to the section that declares them.
    var acls: [String: ACL] = [:]
    /// Where each backend is referenced, so an unknown name is reported at the referring line.
    /// `from`: the proxy whose line it is (a `disabled` one's references are not checked).
    var backendReferences: [(name: String, line: Int, keyword: String, file: String, from: String)] = []
    /// `errorfiles NAME` lines, checked against the http-errors sections at the end.
    var errorFilesReferences: [(name: String, line: Int, file: String)] = []
    /// `http_auth(NAME)` fetches, checked against the userlist sections at the end.
    var userlistReferences: [(name: String, line: Int, keyword: String, file: String)] = []
    /// `nbsrv(NAME)`, `srv_is_up(NAME/SERVER)`… and the section whose rule reads them,
    /// checked against the proxies and servers at the end (ProxyStateValidation.swift).
    /// `expression`: where a sample expression (set-var, `%[…]`) reads it, as HAProxy's
    /// messages name it (`http-request expression`, `log-format string`); nil for an ACL.
    var proxyStateReferences: [(fetch: ProxyStateFetch, line: Int, keyword: String, file: String, from: Section, expression: String?)] = []
    /// Frontends with at least one `bind` line, valid or not (a bad one is reported once).
    var frontendsWithBindLines: Set<String> = []
    /// `listen` sections: one proxy for the timeout warning, as HAProxy counts them.
    var listenNames: Set<String> = []
    /// `default_backend` written in a `defaults` section, inherited by the frontends after it.
    var defaultBackendName: (name: String, line: Int)? {
        get { defaultsSections[lastDefaults].defaultBackend }
        set { defaultsSections[lastDefaults].defaultBackend = newValue }
    }
    /// Instances (by index) where `auth none` was written: an unauthenticated heartbeat must be
    /// asked for.
    var authNone: Set<Int> = []
    /// `port` and `agent-port` words read on server and default-server lines: HAProxy
    /// reserves a descriptor at each (DescriptorBudget).
    var portParameters = 0
    /// The line being handled, for parsers that report more than one problem.
    var currentLine = ConfigLine(number: 0, words: [])

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

    /// A warning of SwiftLB's own where HAProxy says nothing (`ConfigError.isSwiftLBRemark`).
    func remark(_ line: Int, _ keyword: String, _ message: String) {
        var remark = ConfigError(file: file, line: line, keyword: keyword, message: message)
        remark.isSwiftLBRemark = true
        warnings.append(remark)
    }

    func remark(_ message: String) {
        remark(currentLine.number, currentLine.words.first ?? "", message)
    }

    /// HAProxy's "already specified. Continuing." for a keyword given twice where one is
    /// allowed: an alert that does not stop the start (see `Configuration.alerts`).
    func alertAlreadySpecified(_ what: String) {
        var alert = ConfigError(file: file, line: currentLine.number, keyword: currentLine.words.first ?? "",
                                message: "\(what) already specified. Continuing.")
        alert.namesItsKeyword = true
        alerts.append(alert)
        alertPlaces.append(warnings.count)
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
    /// The line after the one being handled (keepalived comments skipped): a block opener's
    /// '{' may stand there.
    private var following: ConfigLine?
    /// Environment variables for `"${VAR}"`, and the files being included (cycles).
    var environment: [String: String] = [:] {
        didSet { environmentEdits += 1 }
    }
    /// How many times `setenv`, `presetenv`, `unsetenv`, `resetenv` changed `environment`.
    private(set) var environmentEdits = 0
    var includeStack: [String] = []

    /// The lines of one file (the top one or an included one), through its `.if` blocks.
    /// They were split with the environment of the file's start: once a `setenv` line has
    /// changed it, a line that refers to a variable is split again, as HAProxy reads each
    /// line with the environment of that moment.
    func handleFile(_ lines: [ConfigLine]) {
        var blocks = ConditionalBlocks(condition: ConfigCondition(facts: facts, environment: environment))
        let editsAtStart = environmentEdits
        for (index, read) in lines.enumerated() where !aborted {
            var line = read
            following = lines[(index + 1)...].first { !$0.words[0].hasPrefix("!") }
            if environmentEdits != editsAtStart {
                blocks.condition = ConfigCondition(facts: facts, environment: environment)
                if line.raw.contains("$") {
                    switch ConfigLexer.line(line.raw, number: line.number, file: file, environment: environment) {
                    case .success(let relexed?): line = relexed
                    case .success(nil): continue
                    case .failure(let error): errors.append(error); continue
                    }
                }
            }
            switch blocks.feed(line) {
            case .keep: handle(line)
            case .consumed: break
            case .error(let message): fail(line, message)
            case .warning(let message): warn(line.number, line.words[0], message)
            case .notice(let message): notices.append(ConfigError(file: file, line: line.number, keyword: line.words[0], message: message))
            case .abort(let message):
                fail(line, message)
                aborted = true
            }
        }
        if !aborted, let opened = blocks.unterminated {
            errors.append(ConfigError(file: file, line: opened, keyword: ".if", message: "non-terminated '.if' block"))
        }
        finishFile(lastLine: lines.last?.number ?? 0)
    }

    func handle(_ read: ConfigLine) {
        var line = read
        if line.words[0].hasPrefix("@") {
            switch KeepalivedConditional.apply(line.words, configID: configID) {
            case .unconditional: break
            case .kept(let words): line = ConfigLine(number: line.number, words: words, raw: line.raw)
            case .skipped: return
            }
        }
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
        if KeepalivedBlock.openers.contains(keyword), !isVRRPSectionKeyword(line) {
            var collector = KeepalivedCollector()
            if collector.feed(line) { finishBlock(collector) } else { keepalived = collector }
            return
        }
        if SectionRegistry.active[keyword] != nil || SectionRegistry.unsupported[keyword] != nil || SectionRegistry.ignored.contains(keyword) {
            startSection(line)
            return
        }
        switch section {
        case .skipped:
            return  // the section header was already reported
        case .fcgiApp:
            checkFastCGIKeyword(line)
        case .none:
            let near = didYouMean(keyword, in: SectionRegistry.names)
            fail(line, "keyword outside of any section; expected a section such as 'global', 'defaults', 'frontend', 'backend' or 'listen'\(near)")
        default:
            handleKeyword(line, in: section.kind!)
        }
    }

    /// `track_process NAME` and `track_file NAME` in a `vrrp` section are its keywords, not
    /// keepalived blocks: a block opens with a '{' on its line or the next.
    private func isVRRPSectionKeyword(_ line: ConfigLine) -> Bool {
        guard case .vrrp = section, KeepalivedBlock.alsoVRRPKeywords.contains(line.words[0]) else { return false }
        return !line.words.contains { $0.contains("{") } && following?.words[0].hasPrefix("{") != true
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
            // haproxy checks the argument count first, then "already specified", then the value.
            if kind == .global, !negated, call.args.count <= 1, onceOnlySeen.contains(keyword.name) {
                alertAlreadySpecified("'\(keyword.name)'"); return
            }
            do {
                try keyword.parse?(self, call)
                if kind != .global { try noteProxyStatesInFormats(words) }
                if kind == .global, let zeroIsUnset = KeywordRegistry.onceOnlyGlobals[keyword.name],
                   !(zeroIsUnset && call.args.first.flatMap { Int($0) } == 0) {
                    onceOnlySeen.insert(keyword.name)
                }
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
        case .backend(let name), .httpErrors(let name), .userlist(let name), .peers(let name), .ring(let name): name
        case .logForward(let i): config.logForwards[i].name
        case .vrrp(let i): config.vrrpInstances[i].name
        default: ""
        }
    }

    /// The proxy whose rules the current section holds — what a state fetch without argument
    /// (`fe_conn`, `nbsrv`) reads, fixed here as HAProxy resolves it when loading; nil in a
    /// `defaults` section, whose rules read the proxy that runs them.
    var ruleProxy: String? {
        switch section {
        case .frontend(let i), .listen(let i, _): config.frontends[i].name
        case .backend(let name): name
        default: nil
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
        case "userlist":
            section = startUserlist(line).map { .userlist(name: $0) } ?? .skipped
        case "peers":
            section = startPeers(line).map { .peers(name: $0) } ?? .skipped
        case "ring":
            section = startRing(line).map { .ring(name: $0) } ?? .skipped
        case "log-forward":
            section = startLogForward(line).map { .logForward(index: $0) } ?? .skipped
        case "fcgi-app":
            section = startFastCGIApp(line) ? .fcgiApp : .skipped
        case "defaults":
            section = startDefaults(line) ? .defaults : .skipped
        default:
            var line = line
            var legacyBind: String?
            if keyword == "listen" || keyword == "frontend", line.words.count == 3,
               parseAddress(line.words[2]) != nil || line.words[2].hasPrefix(":") {
                // HAProxy 1.8's `listen NAME ADDRESS` (removed in 1.9), exactly a `bind ADDRESS`
                // line under `listen NAME`: read as that, with the legacy warning.
                legacyBind = line.words[2]
                warn("'\(keyword) NAME ADDRESS' was removed in HAProxy 1.9; SwiftLB reads this line as: \(keyword) \(line.words[1]), then bind \(line.words[2])")
                line = ConfigLine(number: line.number, words: Array(line.words.prefix(2)))
            }
            guard line.words.count == 2 || (line.words.count == 4 && line.words[2] == "from") else {
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
            guard let from = defaultsFor(SectionRegistry.active[keyword]!, name, line) else { section = .skipped; return }
            let inherited = defaultsSections[from]
            var frontIndex = 0
            if isFront {
                var frontend = Frontend(name: name, line: line.number, options: inherited.options)
                if keyword == "listen" { frontend.defaultBackend = name }
                frontend.inherit(inherited.rules)
                frontend.captures = inherited.rules.captures
                config.frontends.append(frontend)
                frontIndex = config.frontends.count - 1
            }
            if isBack {
                var backend = Backend(name: name, line: line.number, options: inherited.options)
                if !isFront { backend.inherit(inherited.rules) }
                config.backends[name] = backend
            }
            switch keyword {
            case "frontend": section = .frontend(index: frontIndex)
            case "backend": section = .backend(name: name)
            default:
                section = .listen(index: frontIndex, backend: name)
                listenNames.insert(name)
            }
            if keyword == "frontend", let backend = inherited.defaultBackend {
                config.frontends[frontIndex].defaultBackend = backend.name
                backendReferences.append((backend.name, backend.line, "default_backend", file, name))
            }
            if let legacyBind, let kind = section.kind {
                handleKeyword(ConfigLine(number: line.number, words: ["bind", legacyBind]), in: kind)
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
        backendReferences.append((name, line.number, line.words[0], file, sectionName))
    }
}

/// `HOST:PORT`, `:PORT`, `*:PORT`, `[V6]:PORT`, `V6:PORT`. Returns nil when the port is missing or invalid.
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
        // An IPv6 address without brackets (`::1:6443`, `:::80`): as in HAProxy, the port is
        // after the last colon, so the rest must be an IPv6 address.
        if host.contains(":") {
            var v6 = in6_addr()
            guard inet_pton(AF_INET6, String(host), &v6) == 1 else { return nil }
        }
    }
    // Digits only: `+1000`/`-1000` are HAProxy's port offsets (not supported), not ports.
    guard portText.allSatisfy(\.isASCII), portText.allSatisfy(\.isNumber), let port = Int(portText), (1...65535).contains(port) else { return nil }
    guard host.allSatisfy({ $0.isLetter || $0.isNumber || ".-_:*".contains($0) }) else { return nil }
    return (String(host), port)
}

/// RFC 9110 §5.6.2 token characters.
func isHeaderToken(_ name: String) -> Bool {
    !name.isEmpty && name.utf8.allSatisfy { b in
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || "!#$%&'*+-.^_`|~".utf8.contains(b)
    }
}
