/// `userlist NAME` sections: `user NAME [password HASH | insecure-password TEXT] [groups G,…]`
/// and `group NAME [users U,…]`, as HAProxy writes them. `http_auth(NAME)` in an ACL checks a
/// request's Basic credentials against them (SwiftLBProxy's BasicAuth); `http-request auth`
/// asks the client for them.
extension KeywordRegistry {
    static let userlistKeywords: [Keyword] = [
        Keyword("user", [.userlist], usage: "user NAME [password HASH|insecure-password TEXT] [groups G1,G2]") { p, c in
            guard let name = c.args.first, !name.isEmpty else { throw ParseFailure("expects 'user NAME password HASH'") }
            var password: Userlist.Password?
            var groups: Set<String> = []
            var rest = c.args.dropFirst()
            while let word = rest.first {
                rest = rest.dropFirst()
                guard let value = rest.first else { throw ParseFailure("'\(word)' expects a value") }
                rest = rest.dropFirst()
                switch word {
                case "password":
                    // crypt(3)'s forms: `$id$…` (MD5, SHA-256, SHA-512, yescrypt…) or 13 DES characters.
                    guard value.hasPrefix("$") || value.count == 13 else {
                        throw ParseFailure("'password' expects a crypt(3) hash such as one 'mkpasswd -m sha-512' prints; write 'insecure-password' for a clear-text one")
                    }
                    password = .hashed(value)
                case "insecure-password": password = .insecure(value)
                case "groups": groups = Set(value.split(separator: ",").map(String.init))
                default: throw ParseFailure("unknown argument '\(word)'\(didYouMean(word, in: ["password", "insecure-password", "groups"]))")
                }
            }
            guard let password else { throw ParseFailure("user '\(name)' needs 'password HASH' or 'insecure-password TEXT'") }
            guard case .userlist(let list) = p.section else { return }
            guard p.config.userlists[list]?.users[name] == nil else { throw ParseFailure("user '\(name)' is already in userlist '\(list)'") }
            p.config.userlists[list, default: Userlist()].users[name] = Userlist.User(password: password, groups: groups, line: c.line.number)
            for group in groups { p.config.userlists[list]!.groups[group, default: []].insert(name) }
        },
        Keyword("group", [.userlist], usage: "group NAME [users U1,U2]") { p, c in
            guard let name = c.args.first, !name.isEmpty, c.args.count == 1 || (c.args.count == 3 && c.args[1] == "users") else {
                throw ParseFailure("expects 'group NAME [users U1,U2]'")
            }
            guard case .userlist(let list) = p.section else { return }
            let members = c.args.count == 3 ? Set(c.args[2].split(separator: ",").map(String.init)) : []
            p.config.userlists[list, default: Userlist()].groups[name, default: []].formUnion(members)
        },
    ]
}

extension SectionParser {
    func startUserlist(_ line: ConfigLine) -> String? {
        guard line.words.count == 2 else { fail(line, "expects 'userlist NAME'"); return nil }
        config.userlists[line.words[1]] = config.userlists[line.words[1]] ?? Userlist()
        return line.words[1]
    }
}
