/// A compiled log-format: HAProxy's `log-format` string turned once, at configuration time,
/// into a flat list of nodes (literal text, a separator, a variable with its flags, a sample),
/// so rendering a line is one pass over an array with no lookups, no regex and no Dictionary.
///
/// The predefined formats are HAProxy 2.6's own strings (src/log.c), compiled by the same
/// parser: `httplog` (`option httplog`), `tcplog`, `clf` (`option httplog clf`), `httpslog`;
/// `json` and `jsonTCP` are SwiftLB's (docs/logging.md).
public struct LogFormat: Sendable, Equatable {
    /// The string it was compiled from (the predefined formats' HAProxy strings).
    public let source: String
    /// The proxy mode it was compiled for: HTTP-only variables are refused in `.tcp`.
    public let mode: LogMode
    /// The `%[...]` expressions, in order: `LogRecord.samples[i]` holds the value of the i-th.
    public let sampleExpressions: [String]

    let nodes: [Node]
    /// Every literal's bytes, back to back; a text node is a range of them.
    let literals: [UInt8]

    /// One step of the template. Trivial payloads only: iterating never retains anything.
    struct Node: Sendable, Equatable {
        enum Kind: Sendable, Equatable {
            case text(start: Int32, end: Int32)
            /// A run of spaces: one space unless the line already ends with one.
            case separator
            case variable(LogVariable)
            case sample(Int)
        }
        var kind: Kind
        var options: LogFormatOptions
    }

    init(source: String, mode: LogMode, nodes: [Node], literals: [UInt8], sampleExpressions: [String]) {
        self.source = source
        self.mode = mode
        self.nodes = nodes
        self.literals = literals
        self.sampleExpressions = sampleExpressions
    }

    /// Compiles a `log-format` string (the argument as the configuration lexer delivered it:
    /// quotes and backslash escapes already resolved). Errors read like HAProxy's.
    public static func parse(_ string: String, mode: LogMode = .http) throws(LogFormatError) -> LogFormat {
        var parser = LogFormatParser(source: string, mode: mode, forcedOptions: [])
        return try parser.parse()
    }

    /// Whether the format names the request (`%r`, `%HM`…) — only an HTTP stream has one.
    public var usesRequest: Bool {
        nodes.contains {
            if case .variable(let v) = $0.kind {
                return v == .request || v == .method || v == .uri || v == .path || v == .pathOnly || v == .query || v == .version
            }
            return false
        }
    }

    /// Renders `record` as one line into `buffer` (appended; no newline).
    public func render(_ record: LogRecord, into buffer: inout LogBuffer) {
        renderNodes(record, into: &buffer)
    }

    /// The line as a String (tests, and callers off the data path).
    public func string(_ record: LogRecord) -> String {
        var buffer = LogBuffer(capacity: 512)
        render(record, into: &buffer)
        return buffer.string
    }
}

/// The mode of the proxy whose format it is (HAProxy's `mode http|tcp`).
public enum LogMode: Sendable, Equatable {
    case http, tcp
}

/// The flags of a variable, HAProxy's `LOG_OPT_*`: `%{+Q}r`, `%{-M}CC`, `%{+X}ci`, `%{+E}r`.
public struct LogFormatOptions: OptionSet, Sendable, Equatable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// M: an empty value prints `-` (on by default in `log-format`).
    public static let mandatory = LogFormatOptions(rawValue: 1)
    /// Q: the value is quoted.
    public static let quote = LogFormatOptions(rawValue: 2)
    /// X: addresses, ports, `%Ts %rt %pid %ms %lc` in uppercase hexadecimal.
    public static let hex = LogFormatOptions(rawValue: 4)
    /// E: `"`, `\` and `]` escaped with a backslash (RFC 5424 structured data).
    public static let escape = LogFormatOptions(rawValue: 8)
    /// SwiftLB's JSON formats only: the value as a JSON string, number, array or null.
    static let json = LogFormatOptions(rawValue: 16)

    /// The letter after `+`/`-` in `%{…}`.
    static func flag(_ letter: Substring) -> LogFormatOptions? {
        switch letter {
        case "M": .mandatory
        case "Q": .quote
        case "X": .hex
        case "E": .escape
        default: nil
        }
    }
}

/// A log-format string HAProxy would refuse (or that SwiftLB refuses for being ambiguous):
/// the message names the offending part; the configuration parser adds file and line.
public struct LogFormatError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension LogFormat {
    /// HAProxy 2.6's `default_http_log_format` (`option httplog`).
    public static let httplogString = "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r"
    /// `clf_http_log_format` (`option httplog clf`).
    public static let clfString = "%{+Q}o %{-Q}ci - - [%trg] %r %ST %B \"\" \"\" %cp %ms %ft %b %s %TR %Tw %Tc %Tr %Ta %tsc %ac %fc %bc %sc %rc %sq %bq %CC %CS %hrl %hsl"
    /// `default_tcp_log_format` (`option tcplog`).
    public static let tcplogString = "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq"
    /// `default_https_log_format` (`option httpslog`): the TLS fields are `%[…]` samples the
    /// caller computes (`fc_err`, `ssl_fc_err,hex`, `ssl_c_err`, `ssl_c_ca_err`,
    /// `ssl_fc_is_resumed`, `ssl_fc_sni`).
    public static let httpslogString = "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r %[fc_err]/%[ssl_fc_err,hex]/%[ssl_c_err]/%[ssl_c_ca_err]/%[ssl_fc_is_resumed] %[ssl_fc_sni]/%sslv/%sslc"

    /// SwiftLB's JSON line for an HTTP stream: one object, HAProxy's field names (docs/logging.md).
    public static let jsonString = #"{"accept_date":%t,"request_date":%tr,"client_ip":%ci,"client_port":%cp,"frontend_ip":%fi,"frontend_port":%fp,"frontend":%f,"backend":%b,"server":%s,"server_ip":%si,"server_port":%sp,"Th":%Th,"Ti":%Ti,"TR":%TR,"Tw":%Tw,"Tc":%Tc,"Tr":%Tr,"Ta":%Ta,"Tt":%Tt,"status":%ST,"bytes_read":%B,"bytes_uploaded":%U,"termination_state":%tsc,"actconn":%ac,"feconn":%fc,"beconn":%bc,"srv_conn":%sc,"retries":%rc,"srv_queue":%sq,"backend_queue":%bq,"method":%HM,"uri":%HU,"version":%HV,"request":%r,"captured_request_cookie":%CC,"captured_response_cookie":%CS,"captured_request_headers":%hrl,"captured_response_headers":%hsl,"ssl_version":%sslv,"ssl_cipher":%sslc,"unique_id":%ID}"#
    /// SwiftLB's JSON line for a TCP session.
    public static let jsonTCPString = #"{"accept_date":%t,"client_ip":%ci,"client_port":%cp,"frontend_ip":%fi,"frontend_port":%fp,"frontend":%f,"backend":%b,"server":%s,"server_ip":%si,"server_port":%sp,"Th":%Th,"Tw":%Tw,"Tc":%Tc,"Tt":%Tt,"bytes_read":%B,"bytes_uploaded":%U,"termination_state":%ts,"actconn":%ac,"feconn":%fc,"beconn":%bc,"srv_conn":%sc,"retries":%rc,"srv_queue":%sq,"backend_queue":%bq,"ssl_version":%sslv,"ssl_cipher":%sslc}"#

    public static let httplog = builtin(httplogString, .http)
    public static let clf = builtin(clfString, .http)
    public static let tcplog = builtin(tcplogString, .tcp)
    public static let httpslog = builtin(httpslogString, .http)
    public static let json = builtin(jsonString, .http, json: true)
    public static let jsonTCP = builtin(jsonTCPString, .tcp, json: true)

    private static func builtin(_ source: String, _ mode: LogMode, json: Bool = false) -> LogFormat {
        var parser = LogFormatParser(source: source, mode: mode, forcedOptions: json ? .json : [])
        do { return try parser.parse() } catch { preconditionFailure("predefined log format does not compile: \(error)") }
    }
}
