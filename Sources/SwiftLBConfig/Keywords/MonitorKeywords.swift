/// `monitor-uri PATH` and `monitor fail if|unless COND`: an endpoint an external checker
/// (another load balancer) polls, answered by SwiftLB itself.
extension KeywordRegistry {
    static let monitorStatus = KeywordStatus.active

    static let monitorKeywords: [Keyword] = [
        Keyword("monitor-uri", SectionKind.frontSide, usage: "monitor-uri PATH|URI", status: monitorStatus) { p, c in
            // As HAProxy: a path is matched against the request's path (an absolute-form
            // request's authority skipped); anything else (`http://host/health`) against the
            // whole target as received.
            let uri = try c.one("a path or a URI")
            p.withOptions { $0.monitorURI = uri }
        },
        Keyword("monitor fail", [.frontend, .listen], usage: "monitor fail if|unless COND", status: monitorStatus) { p, c in
            guard !c.args.isEmpty else { throw ParseFailure("expects 'monitor fail if|unless CONDITION'") }
            let condition = try ACLParser.condition(c.args[...], acls: p.acls, sampleCompiler: p.facts.sampleCompiler, ruleProxy: p.ruleProxy)
            try p.gateFetches(condition)
            p.withFrontend { $0.monitorFail.append(condition) }
        },
    ]
}
