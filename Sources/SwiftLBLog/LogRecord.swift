import NIOCore

/// Everything a log line can say about one stream (an HTTP request/response, or a TCP session):
/// each value one of HAProxy 2.6's log-format variables reads (configuration.txt §8.2.6).
/// The data path fills one per stream and hands it to `LogSink.log`; the compiled `LogFormat`
/// picks what it prints.
///
/// The timers are kept the way HAProxy keeps them (`struct strm_logs`): milliseconds since the
/// accept, -1 when the event never happened, so every derived timer (`%TR`, `%Tw`, `%Tc`, `%Tr`,
/// `%Ta`, `%Td`, `%Tq`, `%Tu`, `%Tt`) comes out of HAProxy's own formulas. `setHTTPTimers` and
/// `setTCPTimers` fill them from the printed timers instead.
///
/// A plain struct of values and shared Strings: filling one allocates nothing but the request
/// line slice's reference.
public struct LogRecord: Sendable {
    // MARK: addresses

    /// `%ci %cp`: the client as accepted.
    public var client: LogAddress = .none
    /// `%fi %fp`: the address the client connected to.
    public var frontendAddress: LogAddress = .none
    /// `%bi %bp`: our source address towards the server.
    public var backendSource: LogAddress = .none
    /// `%si %sp`: the server's address.
    public var serverAddress: LogAddress = .none
    /// Printed as the port of a unix-socket client or listener (HAProxy's listener id).
    public var listenerID = 0

    // MARK: names

    /// `%f`: the frontend (or listen section) that accepted the connection.
    public var frontend = ""
    /// `%ft` writes a `~` after the frontend name when the listener terminates TLS.
    public var frontendIsTLS = false
    /// `%b`: the backend; HAProxy logs the frontend's name when no backend was chosen.
    public var backend = ""
    /// `%s`: the last server tried; `<NOSRV>` when none was reached, `<STATS>` for the stats
    /// applet.
    public var server = "<NOSRV>"

    // MARK: time (HAProxy's strm_logs)

    /// `%t %T %Tl %Ts %ms`: when the connection was accepted — for a second request on a
    /// keep-alive connection, when the previous response ended.
    public var acceptDate = LogTimestamp(seconds: 0, microseconds: 0)
    /// `Th`: accept to end of the TLS (or PROXY) handshake; 0 after the first request.
    public var handshake = 0
    /// `Ti`: end of handshake to the first byte of the request; -1 when nothing came.
    public var idle = 0
    /// Accept to the end of the request head (`Th + Ti + TR`), -1 if it never came.
    public var requestDoneAt = -1
    /// Accept to leaving the queues, -1 if never queued (request refused, bad, …).
    public var queueDoneAt = -1
    /// Accept to the server connection being established, -1 if never.
    public var connectedAt = -1
    /// Accept to the full response head (HTTP) — `t_data`; -1 if never.
    public var responseHeadersAt = -1
    /// Accept to the end of the stream (the last byte sent, both sides closed in TCP).
    public var closedAt = 0

    // MARK: outcome

    /// `%ST`: the status sent to the client; -1 when none was sent (HTTP), 0 in TCP mode.
    public var status = -1
    /// `%B`: bytes sent to the client, headers included.
    public var bytesOut: Int64 = 0
    /// `%U`: bytes received from the client, headers included.
    public var bytesIn: Int64 = 0
    /// `%ts`, `%tsc` (first two characters): who ended the stream, and in which phase.
    public var termination = Termination()
    /// `%tsc` (last two characters); nil when the backend has no persistence cookie (`--`).
    public var cookie: CookieState?

    // MARK: counters at log time

    /// `%ac %fc %bc %sc`: concurrent connections on the process, frontend, backend, server.
    public var activeConnections = 0
    public var frontendConnections = 0
    public var backendConnections = 0
    public var serverConnections = 0
    /// `%rc`: connection retries; `redispatched` prefixes it with `+`.
    public var retries = 0
    public var redispatched = false
    /// `%sq %bq`: requests served before this one in the server and backend queues.
    public var serverQueue = 0
    public var backendQueue = 0
    /// `%rt`: the process-wide request (or TCP session) counter.
    public var requestCounter = 0
    /// `%lc`: how many lines this frontend has logged before this one.
    public var logCounter = 0
    /// `option logasap`: logged before the end, so `%Ta %Tt %Tu %B` carry a `+`.
    public var loggedEarly = false

    // MARK: HTTP

    /// `%r` and what `%HM %HU %HP %HPO %HQ %HV` cut from it: the request line as received,
    /// without CRLF — a slice of the received head (no copy). nil: `<BADREQ>`.
    public var requestLine: ByteBuffer?
    /// `%CC %CS`: the `capture cookie` values, nil when not captured.
    public var requestCookie: String?
    public var responseCookie: String?
    /// `%hr %hrl %hs %hsl`: one entry per `capture request|response header` (nil when that
    /// header was absent); nil when the frontend captures none (the field then disappears).
    public var requestHeaders: [String?]?
    public var responseHeaders: [String?]?
    /// `%ID`: the unique id, when `unique-id-format` made one.
    public var uniqueID: String?

    // MARK: TLS

    /// `%sslv %sslc`: the client side's protocol version and cipher (nil without TLS).
    public var sslVersion: String?
    public var sslCipher: String?

    // MARK: samples

    /// The values of the format's `%[fetch]` expressions, in `LogFormat.sampleExpressions`
    /// order, computed by whoever owns the fetches (nil: the fetch found nothing).
    public var samples: [String?] = []

    public init() {}

    /// Sets the request line from text (tests, and callers that only have a String).
    public mutating func setRequestLine(_ line: String) {
        requestLine = ByteBuffer(string: line)
    }

    /// Fills the cumulative times from the timers an `httplog` line prints (`TR/Tw/Tc/Tr/Ta`)
    /// plus `Th` and `Ti`; -1 keeps its meaning (the phase did not happen).
    public mutating func setHTTPTimers(TR: Int, Tw: Int, Tc: Int, Tr: Int, Ta: Int, Th: Int = 0, Ti: Int = 0) {
        handshake = Th
        idle = Ti
        let base = Ti >= 0 ? Th + Ti : 0
        requestDoneAt = TR >= 0 ? base + TR : -1
        queueDoneAt = Tw >= 0 && requestDoneAt >= 0 ? requestDoneAt + Tw : -1
        connectedAt = Tc >= 0 && queueDoneAt >= 0 ? queueDoneAt + Tc : -1
        responseHeadersAt = Tr >= 0 && connectedAt >= 0 ? connectedAt + Tr : -1
        closedAt = Ta + base
    }

    /// Fills the cumulative times from a `tcplog` line's `Tw/Tc/Tt` (plus `Th`).
    ///
    /// A TCP stream has no request time in HAProxy (`t_request` stays -1), so its formula
    /// prints `Tw` as the queue time plus one: a session that never waited logs `Tw` = 1, as
    /// haproxy 2.6 does. We keep the formula; here `Tw` is the printed value (1 or more, or -1).
    public mutating func setTCPTimers(Tw: Int, Tc: Int, Tt: Int, Th: Int = 0) {
        handshake = Th
        idle = 0
        requestDoneAt = -1
        queueDoneAt = Tw >= 1 ? Tw - 1 : -1
        connectedAt = Tc >= 0 && queueDoneAt >= 0 ? queueDoneAt + Tc : -1
        responseHeadersAt = -1
        closedAt = Tt
        status = 0
    }

    // MARK: derived timers (HAProxy's formulas in sess_build_logline)

    /// `%Tq`: Th + Ti + TR, or -1.
    public var Tq: Int { requestDoneAt }
    /// `%TR`.
    public var TR: Int { requestDoneAt >= 0 ? requestDoneAt - idle - handshake : -1 }
    /// `%Tw`.
    public var Tw: Int { queueDoneAt >= 0 ? queueDoneAt - requestDoneAt : -1 }
    /// `%Tc`.
    public var Tc: Int { connectedAt >= 0 ? connectedAt - queueDoneAt : -1 }
    /// `%Tr`.
    public var Tr: Int { responseHeadersAt >= 0 ? responseHeadersAt - connectedAt : -1 }
    /// `%Ta`: Tt - Th - Ti.
    public var Ta: Int { closedAt - (idle >= 0 ? idle + handshake : 0) }
    /// `%Tt`.
    public var Tt: Int { closedAt }
    /// `%Tu`: Tt - Ti.
    public var Tu: Int { closedAt - (idle >= 0 ? idle : 0) }
    /// `%Td` in an HTTP backend (data transfer after the response head).
    var TdHTTP: Int { responseHeadersAt >= 0 ? closedAt - responseHeadersAt : -1 }
    /// `%Td` in a TCP backend (everything after the connect).
    var TdTCP: Int { connectedAt >= 0 ? closedAt - connectedAt : -1 }

    /// When the request started (`%tr`): the accept date plus idle and handshake time.
    public var requestDate: LogTimestamp {
        acceptDate.adding(milliseconds: idle >= 0 ? idle + handshake : 0)
    }
}

/// The first two characters of HAProxy's termination state (§8.5): the event that ended the
/// stream, and the phase it was in.
public struct Termination: Sendable, Equatable {
    public var cause: Cause
    public var phase: Phase

    public init(_ cause: Cause = .none, _ phase: Phase = .none) {
        self.cause = cause
        self.phase = phase
    }

    /// HAProxy's `sess_term_cond`.
    public enum Cause: UInt8, Sendable {
        case none = 45            // '-' normal completion
        case local = 76           // 'L' handled by the proxy itself (stats, redirect, return)
        case clientTimeout = 99   // 'c'
        case client = 67          // 'C' the client aborted
        case serverTimeout = 115  // 's'
        case server = 83          // 'S' the server aborted or refused
        case proxy = 80           // 'P' the proxy refused (limit, deny, bad message)
        case resource = 82        // 'R' out of sockets, memory, ports
        case `internal` = 73      // 'I' a bug
        case down = 68            // 'D' the server went down (on-marked-down shutdown-sessions)
        case killed = 75          // 'K' killed by an admin
        case up = 85              // 'U' a backup killed when an active server came up
    }

    /// HAProxy's `sess_fin_state`.
    public enum Phase: UInt8, Sendable {
        case none = 45      // '-' after the end of the data
        case request = 82   // 'R' waiting for a complete request
        case connect = 67   // 'C' connecting to the server
        case headers = 72   // 'H' waiting for the response head
        case data = 68      // 'D' transferring data
        case last = 76      // 'L' sending the last data to the client
        case queue = 81     // 'Q' waiting in a queue
        case tarpit = 84    // 'T' tarpitted
    }
}

/// The last two characters of `%tsc`: what the persistence cookie did (§8.5).
public struct CookieState: Sendable, Equatable {
    public var request: Request
    public var response: Response

    public init(_ request: Request, _ response: Response) {
        self.request = request
        self.response = response
    }

    /// HAProxy's `sess_cookie`: what the client sent.
    public enum Request: UInt8, Sendable {
        case none = 78      // 'N' no cookie
        case invalid = 73   // 'I' names no known server
        case down = 68      // 'D' names a server that is down
        case valid = 86     // 'V'
        case expired = 69   // 'E' idle too long (maxidle)
        case old = 79       // 'O' too old (maxlife)
        case unused = 85    // 'U' present but not used
    }

    /// HAProxy's `sess_set_cookie`: what the response carried.
    public enum Response: UInt8, Sendable {
        case none = 78      // 'N' none
        case passive = 80   // 'P' the server's cookie passed unchanged
        case deleted = 68   // 'D'
        case inserted = 73  // 'I'
        case replaced = 82  // 'R' rewritten
        case updated = 85   // 'U'
    }
}
