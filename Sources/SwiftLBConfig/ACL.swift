import SwiftLBRegex

/// A named ACL of a proxy. HAProxy ORs every `acl` line that repeats a name, so an ACL is a list
/// of criteria and matches when any of them does.
public struct ACL: Sendable {
    public var name: String
    public var criteria: [ACLCriterion]
}

/// One `acl NAME FETCH [flags] PATTERN…` line: a sample taken from the request, compared with
/// each pattern by one match method; any pattern matching makes the criterion true.
public struct ACLCriterion: Sendable {
    public enum MatchMethod: String, Sendable, Equatable {
        case exact = "str", prefix = "beg", suffix = "end", substring = "sub", regex = "reg", found
        /// `-m bin`: patterns are hex strings compared with the sample's bytes.
        case binary = "bin"
        /// `-m int`: an integer comparison (`integerOperator`).
        case integer = "int"
        /// `-m dom` (`hdr_dom`): the pattern is one or more whole dot-separated labels of the
        /// sample (delimited by its ends or `.`, `/`, `?`).
        case domain = "dom"
    }
    public var fetch: SampleFetch
    public var method: MatchMethod
    public var caseInsensitive: Bool
    /// Patterns as bytes (lowercased when -i), ready to compare against request bytes.
    public var patterns: [[UInt8]]
    public var regexes: [PCRE2Regex]
    /// `TRUE`/`FALSE`: a constant, used by predefined ACLs.
    public var constant: Bool?
    /// `src 10.0.0.0/8 …` (pending): addresses and networks the client address is matched
    /// against, instead of `patterns`.
    public var networks: [String]? = nil
    /// The same networks parsed once, for matching in a few lookups.
    public var networkSet: IPNetworkSet? = nil
    /// `gt`/`ge`/`lt`/`le`/`eq` of an integer fetch such as `src_conn_cur` (pending).
    public var integerOperator: String? = nil
    /// The compiled sample expression of a `.expression` fetch (what `ACLSampleCompiler`
    /// returned); nil for the other fetches.
    public var sample: (any Sendable)? = nil
}

/// Compiles the sample expression of an ACL whose fetch has converters or is one only the rules
/// know (`hdr(host),lower,map_str(FILE)`, `res.hdr(upgrade)`). SwiftLBConfig knows the grammar
/// of ACLs but not the fetches and converters (SwiftLBProxy's), so the executable hands this in
/// with its `BuildFacts`; a parse without it refuses such an ACL. The result is opaque here and
/// evaluated by the proxy module.
public typealias ACLSampleCompiler = @Sendable (String) throws -> any Sendable

/// `if`/`unless` followed by ACL terms: terms side by side are ANDed, `||` or `or` separates
/// alternatives (HAProxy's disjunctive normal form, no parentheses).
public struct Condition: Sendable {
    public struct Term: Sendable {
        public var negated: Bool
        public var acl: ACL
    }
    /// `unless` inverts the whole result.
    public var inverted: Bool
    /// OR of ANDs.
    public var alternatives: [[Term]]
}
