/// One `defaults` section, as the proxies after it (or the ones naming it with `from`) start
/// from it. HAProxy 2.6 (src/cfgparse-listen.c): `defaults [NAME] [from OTHER]`; a proxy
/// inherits the last defaults section before it, or the one `frontend X from NAME` names. A
/// named defaults section may hold HTTP rules (`http-request`, `http-response`,
/// `http-after-response`): they run before the rules of each proxy inheriting them, so they
/// are copied at the head of that proxy's lists (an `allow` there ends the proxy's list too, as
/// in HAProxy). Such a section serves frontends or backends, not both, and neither a `listen`
/// nor another defaults section may inherit it.
struct DefaultsSection {
    var name: String?
    var line: Int
    var file: String
    var options = ProxyOptions()
    var defaultBackend: (name: String, line: Int)?
    var rules = InheritedRules()
    /// Which side inherited its rules first (frontend or backend).
    var rulesUsedBy: SectionKind?
    /// Named by a `from` / inherited implicitly (HAProxy warns when both happen).
    var referencedExplicitly = false
    var referencedImplicitly = false
}

/// The HTTP rules (and request captures) a named defaults section gives its proxies.
struct InheritedRules {
    var requestRules: [HeaderRule] = []
    var responseRules: [HeaderRule] = []
    var httpRequestRules: [HTTPRule] = []
    var httpResponseRules: [HTTPRule] = []
    var httpAfterResponseRules: [HTTPRule] = []
    var captures: [HeaderCapture] = []

    var isEmpty: Bool {
        requestRules.isEmpty && responseRules.isEmpty && httpRequestRules.isEmpty && httpResponseRules.isEmpty
            && httpAfterResponseRules.isEmpty && captures.isEmpty
    }
}

extension SectionParser {
    /// The defaults section a `defaults` line opens: `defaults`, `defaults NAME`,
    /// `defaults NAME from OTHER`, `defaults from OTHER`. Nil (and an error) when it cannot be.
    func startDefaults(_ line: ConfigLine) -> Bool {
        var words = Array(line.words.dropFirst())
        var name: String? = nil
        if let first = words.first, first != "from" {
            name = first
            words.removeFirst()
        }
        var parent: DefaultsSection? = nil
        if !words.isEmpty {
            guard words.count == 2, words[0] == "from" else {
                fail(line, "expects 'defaults [NAME] [from DEFAULTS]'"); return false
            }
            guard let index = namedDefaults(words[1], for: "defaults", name ?? "", line) else { return false }
            parent = defaultsSections[index]
            if !defaultsSections[index].rules.isEmpty {
                fail(line, "a defaults section cannot inherit from a defaults section defining TCP/HTTP rules (defaults section at \(defaultsSections[index].file):\(defaultsSections[index].line))")
                return false
            }
        }
        // Without `from`, a new defaults section starts from scratch, as in HAProxy.
        var section = DefaultsSection(name: name, line: line.number, file: file)
        if let parent {
            section.options = parent.options
            section.defaultBackend = parent.defaultBackend
        }
        defaultsSections.append(section)
        lastDefaults = defaultsSections.count - 1
        config.defaultsLines.append(line.number)
        return true
    }

    /// The defaults section a proxy `kind NAME [from DEFAULTS]` starts from (its index), with
    /// HAProxy's checks; nil after an error.
    func defaultsFor(_ kind: SectionKind, _ name: String, _ line: ConfigLine) -> Int? {
        var index = lastDefaults
        if line.words.count == 4 {
            guard let found = namedDefaults(line.words[3], for: kind.rawValue, name, line) else { return nil }
            index = found
            defaultsSections[index].referencedExplicitly = true
        } else {
            defaultsSections[index].referencedImplicitly = true
        }
        let source = defaultsSections[index]
        if source.referencedExplicitly && source.referencedImplicitly {
            warn(line.number, line.words[0], "defaults section '\(source.name ?? "")' (declared at \(source.file):\(source.line)) is explicitly referenced by another proxy and implicitly used here. To avoid any ambiguity don't mix both usage. Add a last defaults section not explicitly used or always use explicit references.")
        }
        guard !source.rules.isEmpty else { return index }
        if kind == .listen {
            fail(line, "a listen section cannot inherit from a defaults section defining TCP/HTTP rules"); return nil
        }
        if let side = source.rulesUsedBy, side != kind {
            fail(line, "frontends and backends cannot inherit from the same defaults section if it defines TCP/HTTP rules (defaults section at \(source.file):\(source.line))")
            return nil
        }
        if kind == .backend, !source.rules.captures.isEmpty {
            fail(line, "backend or defaults sections cannot inherit from a defaults section defining captures (defaults section at \(source.file):\(source.line))")
            return nil
        }
        defaultsSections[index].rulesUsedBy = kind
        return index
    }

    /// The index of the defaults section called `name`; an error (naming the referring
    /// section) when there is none or more than one.
    private func namedDefaults(_ name: String, for kind: String, _ referrer: String, _ line: ConfigLine) -> Int? {
        let matches = defaultsSections.indices.filter { defaultsSections[$0].name == name }
        guard let first = matches.first else {
            fail(line, "defaults section '\(name)' not found for \(kind) '\(referrer)'"); return nil
        }
        if matches.count > 1 {
            let a = defaultsSections[first], b = defaultsSections[matches[1]]
            fail(line, "ambiguous defaults section name '\(name)' referenced by \(kind) '\(referrer)' exists at least at \(a.file):\(a.line) and \(b.file):\(b.line)")
            return nil
        }
        return first
    }

    /// The rules of the defaults section being parsed, for the rule keywords; an error in an
    /// anonymous one (HAProxy: rules only in named defaults, which proxies name with `from`).
    func withDefaultsRules(_ keyword: String, _ change: (inout InheritedRules) -> Void) throws(ParseFailure) {
        guard defaultsSections[lastDefaults].name != nil else {
            throw ParseFailure("'\(keyword)' not allowed in anonymous 'defaults' section")
        }
        change(&defaultsSections[lastDefaults].rules)
    }
}

/// A proxy half that holds HTTP rules (a frontend or a backend), for the inheritance above.
protocol HTTPRuleHolder {
    var requestRules: [HeaderRule] { get set }
    var responseRules: [HeaderRule] { get set }
    var httpRequestRules: [HTTPRule] { get set }
    var httpResponseRules: [HTTPRule] { get set }
    var httpAfterResponseRules: [HTTPRule] { get set }
}

extension HTTPRuleHolder {
    /// Starts with the rules of its defaults section.
    mutating func inherit(_ rules: InheritedRules) {
        requestRules = rules.requestRules
        responseRules = rules.responseRules
        httpRequestRules = rules.httpRequestRules
        httpResponseRules = rules.httpResponseRules
        httpAfterResponseRules = rules.httpAfterResponseRules
    }
}

extension Frontend: HTTPRuleHolder {}
extension Backend: HTTPRuleHolder {}
