/// `setenv`, `presetenv`, `unsetenv`, `resetenv` of `global`: they change the environment that
/// the `"${NAME}"` of the lines after them read, in file order, as haproxy's parser (which
/// calls setenv(3) as it reads each line) does. SwiftLB changes only the parser's copy: a
/// reload starts again from the environment swiftlb was started with, and the scripts it runs
/// (vrrp notify, track_script) get that one too.
extension KeywordRegistry {
    static let environmentKeywords: [Keyword] = [
        // haproxy reads at most three words after the keyword and ignores the third.
        Keyword("setenv", [.global], usage: "setenv NAME VALUE") { p, c in
            let (name, value) = try nameAndValue(c)
            p.environment[name] = value
        },
        Keyword("presetenv", [.global], usage: "presetenv NAME VALUE") { p, c in
            let (name, value) = try nameAndValue(c)
            if p.environment[name] == nil { p.environment[name] = value }
        },
        Keyword("unsetenv", [.global], usage: "unsetenv NAME…") { p, c in
            guard !c.args.isEmpty else { throw ParseFailure("'unsetenv' expects at least one variable name") }
            for name in c.args {
                guard isVariableName(name) else { throw ParseFailure("'unsetenv' failed on variable '\(name)' : Invalid argument") }
                p.environment[name] = nil
            }
        },
        // Every variable but the ones named.
        Keyword("resetenv", [.global], usage: "resetenv [NAME…]") { p, c in
            let keep = Set(c.args)
            p.environment = p.environment.filter { keep.contains($0.key) }
        },
    ]

    private static func nameAndValue(_ c: KeywordCall) throws(ParseFailure) -> (String, String) {
        guard c.args.count >= 2, c.args.count <= 3 else {
            throw ParseFailure(c.args.count < 2 ? "'\(c.written)' expects a name and a value" : "'\(c.written)' cannot handle unexpected argument '\(c.args[3])'")
        }
        // setenv(3)'s EINVAL: an empty name or one holding '='.
        guard isVariableName(c.args[0]) else { throw ParseFailure("'\(c.written)' failed on variable '\(c.args[0])' : Invalid argument") }
        return (c.args[0], c.args[1])
    }

    private static func isVariableName(_ name: String) -> Bool { !name.isEmpty && !name.contains("=") }
}
