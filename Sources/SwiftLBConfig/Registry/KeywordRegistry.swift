/// Every keyword of lb.conf, collected from the feature files under Keywords/ (each feature
/// registers its own, beside its parser). The section parser asks this table what a line is;
/// nothing else lists keywords.
enum KeywordRegistry {
    /// The feature tables. A keyword appears once per section it is allowed in (the
    /// registry test checks it).
    static let features: [Keyword] =
        processKeywords + inertGlobalKeywords + environmentKeywords + rateLimitKeywords + tlsDefaultKeywords + tlsServerDefaultKeywords + statsKeywords + globalStatsUnsupported + statsPageKeywords + logKeywords + monitorKeywords
        + proxyKeywords + tcpKeepAliveKeywords + socketKeywords + timeoutKeywords + balanceKeywords + cookieKeywords + checkKeywords
        + serverKeywords + bindKeywords + ruleKeywords + httpActionKeywords + tcpRuleKeywords + errorPageKeywords
        + compressionKeywords + serverStateKeywords + persistKeywords
        + vrrpKeywords + keepalivedKeywords + keepalivedTrackKeywords + legacyKeywords + userlistKeywords + peersKeywords
        + logForwardKeywords + globalVariableKeywords + headerCaseKeywords

    /// The features, then what HAProxy knows beyond them.
    static let all: [Keyword] = features + haproxyKnownKeywords

    static let byName: [String: [Keyword]] = Dictionary(grouping: all, by: \.name)

    /// Prefixes of multi-word keywords (`timeout`, `tcp-request connection`): a line that
    /// starts with one but names no keyword is "unknown timeout 'x'", with suggestions
    /// among that family only.
    static let families: Set<String> = {
        var result = Set<String>()
        for keyword in all {
            let words = keyword.name.split(separator: " ")
            for n in 1..<max(words.count, 1) { result.insert(words[0..<n].joined(separator: " ")) }
        }
        return result
    }()

    enum Lookup {
        /// `consumed`: how many words the keyword's name took.
        case found(Keyword, consumed: Int)
        /// Known, but not in this kind of section.
        case wrongSection(Keyword)
        /// `prefix` is a family (`option`); `word` is what followed it (nil: nothing did).
        case unknownInFamily(prefix: String, word: String?)
        case unknown
    }

    static func lookup(_ words: [String], in section: SectionKind) -> Lookup {
        // `http-request set-var(txn.x) …` is the keyword `http-request set-var`.
        let words = words.enumerated().map { i, word in
            i > 0 && word.hasSuffix(")") ? word.split(separator: "(", maxSplits: 1).first.map(String.init) ?? word : word
        }
        for n in stride(from: min(3, words.count), through: 1, by: -1) {
            let name = words[0..<n].joined(separator: " ")
            if let keyword = byName[name]?.first(where: { $0.sections.contains(section) }) { return .found(keyword, consumed: n) }
        }
        // `stats enable` in global: a keyword of another section.
        for n in stride(from: min(3, words.count), through: 2, by: -1) {
            if let entries = byName[words[0..<n].joined(separator: " ")] { return .wrongSection(entries[0]) }
        }
        // `timeout sever` in a backend is a misspelt timeout, not vrrp_script's `timeout`.
        for n in stride(from: min(2, words.count), through: 1, by: -1) {
            let prefix = words[0..<n].joined(separator: " ")
            if families.contains(prefix), !members(of: prefix, in: section).isEmpty {
                return .unknownInFamily(prefix: prefix, word: n < words.count ? words[n] : nil)
            }
        }
        for n in stride(from: min(3, words.count), through: 1, by: -1) {
            if let entries = byName[words[0..<n].joined(separator: " ")] { return .wrongSection(entries[0]) }
        }
        for n in stride(from: min(2, words.count), through: 1, by: -1) {
            let prefix = words[0..<n].joined(separator: " ")
            if families.contains(prefix) { return .unknownInFamily(prefix: prefix, word: n < words.count ? words[n] : nil) }
        }
        return .unknown
    }

    /// The words that may follow `prefix` in this section (`option` → forwardfor, httplog…).
    static func members(of prefix: String, in section: SectionKind) -> [String] {
        let depth = prefix.split(separator: " ").count
        var seen = Set<String>()
        var result: [String] = []
        for keyword in all where keyword.name.hasPrefix(prefix + " ") && keyword.sections.contains(section) {
            let next = String(keyword.name.split(separator: " ")[depth])
            if seen.insert(next).inserted { result.append(next) }
        }
        return result
    }

    /// First words of every keyword allowed in this section, for "unknown keyword" suggestions.
    static func firstWords(in section: SectionKind) -> [String] {
        var seen = Set<String>()
        return all.filter { $0.sections.contains(section) }.map(\.family).filter { seen.insert($0).inserted }
    }
}

/// Sections lb.conf knows, with what SwiftLB does with each.
enum SectionRegistry {
    /// HAProxy-style sections: a header line, then keyword lines until the next header.
    static let active: [String: SectionKind] = [
        "global": .global, "defaults": .defaults, "frontend": .frontend, "backend": .backend,
        "listen": .listen, "vrrp": .vrrp, "http-errors": .httpErrors, "userlist": .userlist,
        "peers": .peers, "ring": .ring, "log-forward": .logForward,
    ]
    /// Sections read and ignored, with a warning: `fcgi-app` (FastCGI.swift).
    static let ignored: Set<String> = ["fcgi-app"]
    static let unsupported: [String: String] = [
        "resolvers": "DNS resolvers are not supported; servers are resolved once at start",
        "mailers": "SwiftLB sends no mail; use the vrrp notify scripts or the logs",
        "program": "SwiftLB starts no external programs",
        "cache": "caching is not supported",
        "dynamic-update": "not supported",
    ]
    /// Every section name the parser knows, keepalived's blocks included (for "did you mean").
    static var names: [String] { Array(active.keys) + Array(unsupported.keys) + Array(ignored) + Array(KeepalivedBlock.openers) }
}
