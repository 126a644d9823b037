import NIOCore
import SwiftLBConfig

/// One request and its response on a client connection: its phase, where it goes, what has
/// gone each way, and what the access log will say. Owned by `HTTPClientConnection`; lives on
/// the connection's event loop.
/// A response `http-response wait-for-body` holds: its head as it will go out, until when,
/// and how many body bytes release it before the body is whole.
struct HeldResponse {
    var head: ByteBuffer
    let deadline: NIODeadline
    let atLeast: Int?
}

final class HTTPExchange {
    var phase = StreamPhase()
    var dispatch: Dispatch
    let method: HTTPMethodName
    /// The client asked HEAD but the server got another method (`set-method`): the response's
    /// body is read from the server and not sent on (HAProxy: http_bodyless_response.vtc).
    var clientAskedHEAD = false
    /// The client's HTTP minor version.
    let clientMinor: Int
    /// The client connection closes after this exchange.
    var closeClient: Bool

    // MARK: request
    /// The request head as the server receives it, kept whole for a replay on another connection.
    let upstreamHead: ByteBuffer
    /// Delimits the request body; nil when there is none.
    var requestFramer: BodyFramer?
    var requestComplete: Bool
    var requestBodyBytes = 0
    /// `option http-buffer-request`: the exchange waits for its body before dispatching;
    /// `bufferedByFrontend`: the frontend asked (HAProxy waits before choosing the backend).
    var awaitingBody = false
    var bufferedByFrontend = false
    /// `http-request wait-for-body`: until when, and for how many body bytes (nil: all).
    var bodyDeadline: NIODeadline?
    var bodyThreshold: Int?
    /// `http-response wait-for-body`: the response head, ready for the client, held back
    /// while its body comes in (nil: none held, the usual case).
    var heldResponse: HeldResponse?
    /// Body bytes received before a server connection was ready.
    var pendingBody: [ByteBuffer] = []
    var pendingBytes = 0
    /// The server connection of the current attempt.
    var connection: ServerConnection?

    // MARK: response
    var responseParser: HeadParser
    /// Server bytes not yet consumed.
    var responseInbound: ByteBuffer?
    var responseFramer: BodyFramer?
    var clientFraming = ResponseRewriter.ClientFraming(closeClient: false)
    var responseHeadSent = false
    var responseComplete = false
    /// The server said it closes the connection (or it must not be reused).
    var serverMustClose = false
    /// The encoding the request allows and the proxies offer (nil: no compression configured,
    /// or none acceptable). `deflater` compresses the body once the response qualified (for
    /// identity it only counts what passes); its tallies go to the counters when the exchange ends.
    var compression: HTTPCompression.Algorithm?
    var deflater: Deflater?

    /// The client asked for a WebSocket (`Upgrade: websocket` with a valid key): the key, to
    /// check the server's `Sec-WebSocket-Accept` before any tunnel opens.
    var webSocketKey: String?
    /// The client asked for another protocol (`ProtocolUpgrade`), forwarded: a 101 naming one
    /// opens a tunnel.
    var otherUpgrade = false

    // MARK: routing and stickiness
    let facts: RequestFacts?
    /// What the rule engine reads (request, variables), kept for the response rules.
    var ruleInput: SampleInput?
    var presentedCookie: StickyCookie.Presented?
    /// `ignore-persist` held: the response's persistence cookie is neither inserted nor
    /// rewritten.
    var ignoresCookie = false
    /// A `use-server` rule or a stick entry pinned the request (HAProxy's SF_DIRECT without a
    /// cookie): the pinned server's response gets no cookie either, unless dated cookies
    /// (`maxidle`/`maxlife`) need one set.
    var pinnedWithoutCookie = false

    // MARK: timing and log
    var log: AccessLogRecord
    /// `option logasap` wrote the line when the response head went out; the end only counts.
    var loggedEarly = false
    let start: NIODeadline
    var connectStart: NIODeadline?
    var requestSentAt: NIODeadline?
    var lastServerActivity: NIODeadline
    var lastClientActivity: NIODeadline

    init(dispatch: Dispatch, method: HTTPMethodName, clientMinor: Int, closeClient: Bool, upstreamHead: ByteBuffer,
         requestFramer: BodyFramer?, facts: RequestFacts?, responseLimits: HeadParser.Limits, log: AccessLogRecord, start: NIODeadline) {
        self.dispatch = dispatch
        self.method = method
        self.clientMinor = clientMinor
        self.closeClient = closeClient
        self.upstreamHead = upstreamHead
        self.requestFramer = requestFramer
        self.requestComplete = requestFramer == nil
        self.facts = facts
        self.responseParser = HeadParser(kind: .response, limits: responseLimits)
        self.log = log
        self.start = start
        self.lastServerActivity = start
        self.lastClientActivity = start
    }

    /// Only a complete, idempotent request without a body is ever sent twice.
    var isReplayable: Bool { method.isIdempotent && requestResendable }
    /// The whole request is still in hand (its head; no body, which is not kept once sent).
    var requestResendable: Bool { requestBodyBytes == 0 && requestFramer == nil && requestComplete }
    /// `proto h2`: the server refused a stream of this request and it was sent again (once only).
    var streamRefusedRetried = false
}

extension HTTPConnectionMode {
    /// keep-alive 0 < http-server-close 1 < httpclose 2: the stronger of the frontend's and the
    /// backend's applies.
    var strength: Int {
        switch self {
        case .keepAlive: 0
        case .serverClose: 1
        case .close: 2
        }
    }
}
