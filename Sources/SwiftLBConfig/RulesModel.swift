import SwiftLBRegex

/// When an HTTP rule runs: `http-request` before the request goes to a server,
/// `http-response` on the server's response, `http-after-response` on every response sent
/// (SwiftLB's own too: errors, redirects, returns).
public enum HTTPRulePhase: String, Sendable, CaseIterable {
    case request = "http-request"
    case response = "http-response"
    case afterResponse = "http-after-response"
}

/// One `http-request`/`http-response`/`http-after-response` line, kept in the order written
/// (HAProxy evaluates them in order and the first final action — deny, allow, redirect,
/// return, auth — stops the list). The header rules among them are also in the older
/// `requestRules`/`responseRules` lists that the data path reads today.
public struct HTTPRule: Sendable {
    public enum Action: Sendable {
        /// `set-header`, `add-header`, `del-header NAME` (active).
        case header(HeaderRule.Action)
        /// `del-header NAME -m str|beg|end|sub|reg` (pending).
        case deleteHeaders(name: String, method: ACLCriterion.MatchMethod)
        /// `replace-header NAME REGEX REPLACEMENT` (whole values) and `replace-value` (each
        /// comma-separated value).
        case replaceHeader(name: String, regex: String, replacement: String, eachValue: Bool)
        /// `replace-path` / `replace-uri REGEX REPLACEMENT`.
        case replaceTarget(regex: String, replacement: String, wholeURI: Bool)
        /// `replace-pathq REGEX REPLACEMENT`: the path with its query.
        case replacePathQuery(regex: String, replacement: String)
        /// `set-path` / `set-pathq` / `set-uri` / `set-query FORMAT` (HAProxy log-format text,
        /// kept as written).
        case setTarget(part: TargetPart, format: String)
        case deny(HTTPReturn)
        /// `tarpit …` (requests): the deny answer (500 by default), sent once `timeout
        /// tarpit` has passed.
        case tarpit(HTTPReturn)
        case allow
        case redirect(RedirectRule)
        case returnResponse(HTTPReturn)
        /// `auth [realm REALM]`: answers 401 (407 in proxy mode) with WWW-Authenticate.
        case auth(realm: String?)
        /// `set-var(SCOPE.NAME) EXPRESSION` (the sample expression as written).
        case setVariable(name: String, expression: String)
        /// `use-service prometheus-exporter`.
        case useService(String)
        /// `set-status CODE [reason TEXT]` (responses).
        case setStatus(Int, reason: String?)
        /// `track-sc0|1|2 SAMPLE [table NAME]`: counts the request in a stick table.
        case track(StickTracking)
        /// `sc-inc-gpc0|1(N)`, `sc-set-gpt0(N) VALUE`: changes the entry track-scN tracks.
        case stickCounter(StickCounterAction)
        /// `set-src EXPR` / `set-dst EXPR` (requests): the client connection's source (or
        /// destination) address becomes the sample's, its port kept, for the rest of the
        /// connection (later rules, logs, X-Forwarded-For), as in HAProxy.
        case setAddress(destination: Bool, expression: String)
        /// `set-method FORMAT` (requests).
        case setMethod(format: String)
        /// `capture SAMPLE len N`: the sample's value, cut to N bytes, in the frontend's
        /// request capture `slot` (logged by `%hr`, read by `capture.req.hdr(slot)`).
        case capture(expression: String, length: Int, slot: Int)
        /// `reject`: the connection is closed at once, nothing answered.
        case reject
        /// `wait-for-body time T [at-least SIZE]`: the request (response) goes on once its
        /// body is in, or SIZE bytes of it, or its buffer is full; T passed first: 408 (504).
        case waitForBody(time: ConfigDuration, atLeast: Int?)
        /// `normalize-uri NORMALIZER` (requests): the target rewritten into one spelling.
        case normalizeURI(URINormalizer)
        /// `strict-mode on|off`: whether a rewrite that does not fit (`tune.bufsize`) fails the
        /// message with 500 (on, the default) or is skipped (off), for the rest of this
        /// message's rules.
        case strictMode(Bool)
    }

    /// HAProxy 2.6's URI normalizers (`http-request normalize-uri`).
    public enum URINormalizer: Sendable, Equatable {
        case pathStripDot
        case pathStripDotDot(full: Bool)
        case pathMergeSlashes
        case percentDecodeUnreserved(strict: Bool)
        case percentToUppercase(strict: Bool)
        case querySortByName
        case fragmentStrip
        case fragmentEncode

        /// Those that work on the path alone.
        public var readsPath: Bool {
            switch self {
            case .pathStripDot, .pathStripDotDot, .pathMergeSlashes: true
            default: false
            }
        }
    }

    public enum TargetPart: String, Sendable { case path, uri, query, pathq }

    public var action: Action
    public var condition: Condition?
    public var line: Int

    public init(action: Action, condition: Condition?, line: Int) {
        self.action = action
        self.condition = condition
        self.line = line
    }
}

/// What `http-request return`/`deny` answer (HAProxy 2.2+ syntax).
public struct HTTPReturn: Sendable, Equatable {
    public enum Body: Sendable, Equatable {
        case none
        case string(String)
        /// `lf-string`: a log-format, as written.
        case logFormat(String)
        case file(String)
        /// `lf-file`
        case logFormatFile(String)
        case errorfile(String)
        /// `errorfiles NAME`: the page of that `http-errors` section for the status.
        case errorfiles(String)
        /// `default-errorfiles`: the proxy's error page for the status (its `errorfile`…,
        /// else HAProxy's built-in one).
        case defaultErrorFiles
    }
    public var status: Int
    public var contentType: String?
    public var body: Body = .none
    public var headers: [HTTPHeaderField] = []

    public init(status: Int) { self.status = status }
}

/// A header line an action adds (`hdr NAME VALUE`).
public struct HTTPHeaderField: Sendable, Equatable {
    public var name: String
    public var value: String
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// `tcp-request connection|session|content accept|reject [if|unless COND]`.
public struct TCPRule: Sendable {
    /// `session` rules run right after the `connection` ones (HAProxy runs them once the
    /// handshake and any PROXY header are done: SwiftLB has nothing between the two).
    public enum Layer: String, Sendable { case connection, session, content }
    /// `track` is `track-sc0|1|2 SAMPLE [table NAME]`: counts and goes on to the next rule;
    /// `stickCounter` (`sc-inc-gpc0(N)`…) changes a tracked entry and goes on too.
    /// `switchMode` (`content switch-mode http [proto h1]`) ends the list: a `mode tcp`
    /// session becomes HTTP (an HTTP stream takes it as an accept).
    /// `setVariable` (`set-var(SCOPE.NAME) EXPR`) and the address actions (`set-src|set-dst
    /// EXPR`, `set-src-port|set-dst-port EXPR`) change the session and go on.
    public enum Action: String, Sendable {
        case accept, reject, track, stickCounter, switchMode = "switch-mode"
        case setVariable = "set-var", setSource = "set-src", setDestination = "set-dst"
        case setSourcePort = "set-src-port", setDestinationPort = "set-dst-port"
    }
    public var layer: Layer
    public var action: Action
    public var condition: Condition?
    public var line: Int
    /// What a `track-scN` rule tracks.
    public var tracking: StickTracking? = nil
    /// What a `sc-inc-gpc0(N)`, `sc-inc-gpc1(N)` or `sc-set-gpt0(N)` rule does.
    public var counterAction: StickCounterAction? = nil
    /// The sample expression of `set-var`, `set-src`, `set-dst`, `set-src-port`, `set-dst-port`
    /// (as written), and the variable `set-var` sets.
    public var expression: String? = nil
    public var variable: String? = nil
}

/// `sc-inc-gpc0(N)`, `sc-inc-gpc1(N)`, `sc-set-gpt0(N) VALUE` (tcp-request and http-request
/// rules): the entry `track-scN` tracks gets one more on its general purpose counter (and its
/// rate), or its tag set to VALUE (an integer or a sample expression, as written).
public struct StickCounterAction: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case incrementGPC(Int)
        case setGPT0(String)
    }
    public var counter: Int
    public var kind: Kind
    public init(counter: Int, kind: Kind) {
        self.counter = counter
        self.kind = kind
    }

    /// The action's name as written (`sc-inc-gpc0`).
    public var name: String {
        switch kind {
        case .incrementGPC(let index): "sc-inc-gpc\(index)"
        case .setGPT0: "sc-set-gpt0"
        }
    }
}

/// `track-sc0|1|2 SAMPLE [table NAME]` (`tcp-request connection`, `http-request`): the
/// sample's entry in the table (the proxy's own without `table`) counts this connection or
/// request, and `scN_*` fetches read it.
public struct StickTracking: Sendable, Equatable {
    public var counter: Int
    public var sample: String
    public var table: String?
    public init(counter: Int, sample: String, table: String?) {
        self.counter = counter
        self.sample = sample
        self.table = table
    }
}

/// How connections are kept: HAProxy's `option http-keep-alive` (the default),
/// `http-server-close` (close the server side after each response) and `httpclose` (both).
/// `http-reuse`: HAProxy's server connection sharing modes. A connection is private to its
/// client connection with `never`; with the others it goes to the event loop's idle pool when
/// its exchange ends, and what differs is the first request of a client connection: a new
/// connection (`safe`, HAProxy's default: the client may then retry a request the server
/// drops), a pooled one that has already carried two requests or more (`aggressive`), or any
/// pooled one (`always`). Later requests take any pooled connection.
public enum HTTPReuse: String, Sendable, CaseIterable {
    case never, safe, aggressive, always
}

public enum HTTPConnectionMode: String, Sendable {
    case keepAlive = "http-keep-alive"
    case serverClose = "http-server-close"
    case close = "httpclose"
}

/// `option http-restrict-req-hdr-names`: what becomes of a request header whose name holds a
/// character other than a letter, a digit or `-` (an `_`, say, which some servers read as `-`
/// and so could be made to see a header a rule removed): kept (`preserve`), removed
/// (`delete`), or the request refused with 403 (`reject`).
public enum HeaderNamePolicy: String, Sendable, CaseIterable { case preserve, delete, reject }

/// `capture request|response header NAME len N`: a header kept for the access log.
public struct HeaderCapture: Sendable, Equatable {
    public var response: Bool
    public var name: String
    public var length: Int
    public var line: Int
    /// A slot an `http-request capture SAMPLE len N` rule fills (`name` is then the sample).
    public var byRule = false
}

/// `stick-table type ip|ipv6|integer|string [len N] size N [expire T] [store …]`.
public struct StickTable: Sendable, Equatable {
    public var type: String
    public var size: Int
    public var expire: ConfigDuration?
    /// As written: `server_id`, `conn_cur`, `conn_cnt`, `http_req_cnt`, `conn_rate(T)`,
    /// `http_req_rate(T)` (the parser refuses the others).
    public var store: [String] = []
    public var line: Int
    /// `len N` of a string key (HAProxy's default 32).
    public var keyLength: Int = 32
    /// `len` was written (HAProxy's key size is then `len` + 1, else 32: the peers protocol
    /// compares key sizes).
    public var lengthWritten = false
    /// `peers NAME`: the peers section that shares this table (a table declared in a peers
    /// section has its section's name here).
    public var peers: String?
    /// `srvkey addr`: entries name their server by its address (`IP:PORT`) instead of its name.
    public var serverKeyIsAddress = false
}

/// `stick on|match|store-request SAMPLE [table NAME] [if|unless COND]`.
public struct StickRule: Sendable {
    /// `on` matches then stores; `match` only looks the key up; `store-request` only stores;
    /// `store-response` stores the server that answered under a key read from its response.
    public enum Kind: String, Sendable { case on, match, storeRequest = "store-request", storeResponse = "store-response" }
    public var kind: Kind = .on
    public var sample: String
    public var table: String?
    public var condition: Condition?
    public var line: Int
}

/// A `userlist NAME` section: users with their password, and groups (HAProxy's user lists,
/// read by `http_auth(NAME)`).
public struct Userlist: Sendable, Equatable {
    public enum Password: Sendable, Equatable {
        /// `password HASH`: a crypt(3) hash (`$6$…` SHA-512, `$5$…`, `$1$…`, DES).
        case hashed(String)
        /// `insecure-password TEXT`: compared as written.
        case insecure(String)
    }

    public struct User: Sendable, Equatable {
        public var password: Password
        public var groups: Set<String>
        public var line: Int
    }

    public var users: [String: User] = [:]
    /// `group NAME [users A,B]`, with the members `user … groups` lines add.
    public var groups: [String: Set<String>] = [:]
}
