import NIOCore
import SwiftLBAdmin
import SwiftLBConfig
import SwiftLBLog

/// A new exchange: a request head has been parsed, and here it is checked, routed and
/// rewritten. The frontend's then the backend's rules run on it (monitor-uri, http-request
/// rules, redirects), which may answer it on the spot; otherwise a backend is chosen, the
/// stickiness cookie read, the head edited for the server, and the exchange handed to
/// dispatching (HTTPClientConnection+Dispatch.swift).
extension HTTPClientConnection {
    // MARK: a new exchange

    func newRecord(_ at: NIODeadline? = nil) -> AccessLogRecord {
        let now = at ?? clock
        var record = AccessLogRecord(frontend: frontend.name)
        if logging {
            record.acceptTime = wallClockNow()
            record.source = source
            record.destination = destination
        }
        record.tr = millisecondsBetween(requestStart ?? idleSince, now)
        return record
    }

    func makeFacts(_ head: MessageHead?) -> RequestFacts {
        var facts = RequestFacts(head: head, source: source, destination: destination, isTLS: isTLS)
        facts.tls = tls
        facts.proxyStates = frontend.proxyStates
        facts.connectionSource = frontConnection?.source ?? addressesBeforeRules.map { $0.0 } ?? source
        facts.connectionDestination = frontConnection?.destination ?? addressesBeforeRules.map { $0.1 } ?? destination
        return facts
    }

    /// What rules outside the http-request engine read: the facts and the stick tracking.
    func stickInput(_ facts: RequestFacts) -> SampleInput {
        var input = SampleInput(facts: facts)
        input.stick = stickSession
        return input
    }

    /// How much of the request's body HAProxy's buffer holds when its http-request rules run
    /// (what `strict-mode` measures a rewrite against): with `option http-buffer-request` the
    /// whole body as far as it fits — HAProxy waits for it first — however SwiftLB's reads
    /// split it; otherwise what came with the head.
    private func bufferedForRules(_ framing: BodyFramer.Mode?, backend: RuntimeBackend? = nil) -> Int {
        guard frontend.config.options.httpBufferRequest || backend?.config.options.httpBufferRequest == true,
              case .length(let length)? = framing else { return inbound.readableBytes }
        return max(inbound.readableBytes, length)
    }

    func startExchange(_ head: consuming MessageHead) {
        if head.bytes.getInteger(at: Int(head.part2.lowerBound), as: UInt8.self) != UInt8(ascii: "/") {
            // Absolute-form: a default port leaves the target and Host before anything reads them.
            AbsoluteForm.normalise(&head)
        }
        if let (s, d) = addressesBeforeRules {
            // The last request's `set-src|set-dst` lasted for that request only.
            (source, destination, clientIP, addressesBeforeRules) = (s, d, s?.ipAddress ?? "", nil)
        }
        if loop.holder.generation != generation {
            generation = loop.holder.generation
            if let current = loop.holder.current.frontends.first(where: { $0.name == frontend.name }) { frontend = current }
        }
        let now = NIODeadline.now()
        // `fe_req_rate`: every request the frontend receives, a malformed one too (HAProxy's
        // H1 mux counts those it refuses), before its rules read it.
        frontend.rates?.requests.add(now: Int(now.uptimeNanoseconds / 1_000_000))
        var record = newRecord(now)
        requestStart = nil
        if logging {
            record.requestLine = h2.map { H2StreamInfo.requestLine(head, $0) } ?? head.startLineOverride ?? head.string(0..<(head.startLineEnd - 2))
            record.requestCaptures = HeaderCaptures.logValues(frontend.config.captures, response: false, from: head)
            if let capture = frontend.config.cookieCapture { record.requestCookie = CookieCaptures.request(capture, head) }
        }
        if logging || frontend.uniqueID != nil { record.requestCounter = RequestCounter.take() }
        if let uniqueID = frontend.uniqueID {
            var subject = record
            if !logging {
                subject.acceptTime = wallClockNow()
                subject.source = source
                subject.destination = destination
                subject.requestLine = h2.map { H2StreamInfo.requestLine(head, $0) } ?? head.startLineOverride ?? head.string(0..<(head.startLineEnd - 2))
            }
            record.uniqueID = uniqueID.render(subject, tls: isTLS, input: uniqueID.samples.isEmpty ? nil : SampleInput(facts: makeFacts(head), request: head))
        }

        guard RequestValidator.problem(in: head, hostOptional: h2 != nil) == nil, case .success(let framing) = MessageFraming.request(head),
              h2 != nil || (!WebSocketHandshake.lacksKey(head) && !chunksAlreadyBroken(framing)) else {
            // Refused by HAProxy's H1 parser, before any stream or rule — a WebSocket opening
            // handshake without its Sec-WebSocket-Key (RFC 6455 §4.1) too, and chunks that
            // came with the head and do not parse.
            record.termination = "PR"
            record.refusedBeforeStream = true
            // HAProxy refuses PRI before it captures the request line: `<BADREQ>` in the log.
            if head.isPrefaceMethod { record.requestLine = "<BADREQ>" }
            respondError(.badRequest, record: record)
            return
        }
        stickSession?.beginRequest()
        // An upgraded session's first request was ruled as TCP (`TCPClientConnection`), its
        // variables kept.
        let firstAfterUpgrade = upgrade != nil && requestsServed == 0
        var transactionBegun = firstAfterUpgrade
        if let rules = frontend.tcpRules, rules.hasContentRules, !firstAfterUpgrade {
            var unused: RequestFacts?
            guard passesContentRules(rules, head: head, record: &record, transactionBegun: &transactionBegun, facts: &unused) else { return }
        }
        var facts = frontend.needsFacts ? makeFacts(head) : nil
        // The frontend's rules, HAProxy's order: monitor-uri, then http-request rules (header
        // edits in place; deny/return/redirect/auth answer here).
        var input: SampleInput?
        if let rules = frontend.engine, let f = facts {
            if !transactionBegun { variables.beginTransaction() }
            transactionBegun = true
            var i = SampleInput(facts: f, request: head, variables: variables)
            i.stick = stickSession
            i.frontendName = frontend.name
            i.firstRequest = requestsServed == 0
            i.captures = record.requestCaptures ?? []
            i.userlists = frontend.userlists
            i.proxyTLVs = proxyTLVs
            i.rewriteRoom = limits.rewriteRoom(head: head.serialisedSize, buffered: bufferedForRules(framing))
            if let monitor = rules.monitor, let response = monitor.response(for: i, pages: rules.errorPages) {
                answerLocally(response, flags: "LR", denied: false, frontendRules: rules, backendRules: nil, input: &i, head: head, framing: framing, record: record)
                return
            }
            if answered(by: rules, frontendRules: rules, backendRules: nil, head: &head, input: &i, framing: framing, record: record) { return }
            adoptAddresses(i.facts, &record, &facts)
            input = i
        }
        // The stats page after the frontend's http-request rules, as HAProxy's
        // http_process_req_common ("accepted according to the http-request rules"): a `deny
        // unless { src … }` guards it and its admin actions.
        // The target as the rules left it (`set-path` may hide the page or lead to it).
        if let stats = frontend.stats, StatsPage.matches(head.currentTarget, settings: stats) {
            serveStats(head, framing: framing, settings: stats, record: record, afterResponse: input.map { (nil, $0) })
            return
        }
        if !head.restrictHeaderNames(frontend.config.options.restrictRequestHeaderNames) {
            return refuseHeaderNames(record, head: head, framing: framing, backendRules: nil, input: input)
        }
        if let f = facts {
            for rule in frontend.config.redirects where rule.condition.map({ input.map($0.evaluate) ?? $0.evaluate(f) }) ?? true {
                if redirect(rule, head: head, record: record) { return }
            }
        }
        var chosen = frontend.defaultBackend
        if let f = facts, !frontend.rules.isEmpty {
            chosen = frontend.rules.choose(fallback: chosen, holds: { input.map($0.evaluate) ?? $0.evaluate(f) }, input: {
                var i = input ?? SampleInput(facts: f, request: head, variables: variables)
                i.stick = stickSession
                return i
            })
        }
        guard let backend = chosen else {
            record.termination = "PR"
            respondError(.serviceUnavailable, record: record, request: head, framing: framing)
            return
        }
        if backend.config.options.mode != .http {
            // A dynamic `use_backend` named a `mode tcp` backend: HAProxy's stream_set_backend
            // refuses it for an HTTP stream and aborts both sides: closed, nothing answered,
            // logged 500 IR.
            record.backend = backend.name
            record.status = 500
            record.termination = "IR"
            writeLog(record)
            state = .closing
            context?.close(promise: nil)
            return
        }
        if facts == nil && backend.needsFacts { facts = makeFacts(head) }
        record.backend = backend.name
        // `be_sess_rate`: each stream set on a backend (HAProxy's stream_set_backend), before
        // the backend's own rules read it — so each request of a keep-alive connection.
        backend.sessionRate?.add()
        // The backend's `tcp-request content` rules, once it is chosen and before its
        // http-request rules (HAProxy's AN_REQ_INSPECT_BE).
        // A `listen` section's ran above as its frontend's.
        if let rules = backend.tcpRules, rules.hasContentRules, backend.name != frontend.name {
            guard passesContentRules(rules, head: head, record: &record, transactionBegun: &transactionBegun, facts: &facts) else { return }
            // `set-src|set-dst` there: what this backend's http-request rules read.
            if let f = facts { input?.facts = f }
        }
        // The backend's http-request rules (a `listen` section's ran above as its frontend's).
        if let rules = backend.engine, let f = facts, rules.name != frontend.name || frontend.engine == nil {
            if input == nil {
                if !transactionBegun { variables.beginTransaction() }
                transactionBegun = true
                input = SampleInput(facts: f, request: head, variables: variables)
                input!.stick = stickSession
                input!.frontendName = frontend.name
                input!.firstRequest = requestsServed == 0
                input!.captures = record.requestCaptures ?? []
                input!.userlists = frontend.userlists
                input!.proxyTLVs = proxyTLVs
                input!.rewriteRoom = limits.rewriteRoom(head: head.serialisedSize, buffered: bufferedForRules(framing, backend: backend))
            }
            input!.backendName = backend.name
            if answered(by: rules, frontendRules: frontend.engine, backendRules: rules, head: &head, input: &input!, framing: framing, record: record) { return }
            adoptAddresses(input!.facts, &record, &facts)
        }
        if backend.name != frontend.name, !head.restrictHeaderNames(backend.config.options.restrictRequestHeaderNames) {
            return refuseHeaderNames(record, head: head, framing: framing, backendRules: backend.engine, input: input)
        }
        input?.backendName = backend.name
        if let captured = input?.captures, record.requestCaptures != nil { record.requestCaptures = Self.slots(captured, as: record.requestCaptures!) }
        if let stats = backend.stats, backend.name != frontend.name, StatsPage.matches(head.currentTarget, settings: stats) {
            // A backend's `stats` (`use_backend stats if …`), after its http-request rules.
            serveStats(head, framing: framing, settings: stats, page: backend.config.options.stats, record: record,
                       afterResponse: input.map { (backend.engine, $0) })
            return
        }
        if let f = facts {
            // A backend's own `redirect` rules, after its http-request rules and its stats page
            // (HAProxy's order in http_process_req_common).
            for rule in backend.config.redirects where rule.condition.map({ input.map($0.evaluate) ?? $0.evaluate(f) }) ?? true {
                if redirect(rule, head: head, record: record, by: backend.name) { return }
            }
        }

        let connection = RequestRewriter.removeHopByHop(&head, keepUpgrade: true)
        // A WebSocket upgrade keeps `Upgrade` and gets `Connection: upgrade` (HAProxy's bytes); so does
        // another protocol's (`ProtocolUpgrade` says which); any other Upgrade (h2c…) is not
        // forwarded: the request goes on as plain HTTP.
        let webSocketKey = connection.upgrade ? WebSocketHandshake.key(of: head) : nil
        // Another protocol (HAProxy forwards any upgrade): `Upgrade` and `Connection: upgrade` go on.
        let otherUpgrade = connection.upgrade && webSocketKey == nil && h2 == nil && ProtocolUpgrade.forwardable(head, hasBody: framing != nil)
        if webSocketKey != nil || otherUpgrade {
            head.add("Connection", "upgrade")
        } else if connection.hasUpgradeHeader {
            head.removeAll("upgrade")
        }
        // `force-persist|ignore-persist`, then `use-server` (HAProxy's order: before the cookie,
        // which a server assigned by a rule makes unused).
        var persistence = ServerSelection.Persistence.normal
        var pinned: RuntimeServer?
        if let selection = backend.selection {
            let ruled = input ?? stickInput(facts ?? makeFacts(head))
            persistence = selection.persistence(ruled)
            pinned = selection.assigned(ruled, persistence: persistence)
        }
        let assignedByRule = pinned != nil
        var presented: StickyCookie.Presented?
        var cookieState: CookieState?
        if let cookie = backend.cookie {
            var state: CookieState.Request
            (presented, state) = StickyCookie.classify(head, settings: cookie)
            if persistence == .ignore || assignedByRule {
                // Not read: U in the log when it named something (HAProxy's TX_CK_UNUSED).
                if state == .valid { state = .unused }
                presented = nil
            } else if presented != nil {
                let named = presented.flatMap { backend.serversByCookie[$0.value] }
                if named == nil { state = .invalid } else if named?.health.acceptsStickyClients == false { state = .down }
                // A cookie naming a DOWN server is not followed (the request is balanced, and
                // gets a new cookie) unless `option persist` or `force-persist` says so.
                if let named, ServerSelection.follows(named, persist: backend.config.options.persist, persistence: persistence) { pinned = named }
            }
            cookieState = CookieState(state, .none)
            StickyCookie.rewriteRequest(&head, settings: cookie)
        }
        // `compression`: the encoding this request allows, chosen after every request rule as
        // HAProxy's filter does (`offload` removes Accept-Encoding here). No work without it.
        var compression: HTTPCompression.Algorithm?
        if frontend.config.options.compression != nil || backend.config.options.compression != nil {
            compression = CompressionRules.Policy(frontend: frontend.config.options.compression, backend: backend.config.options.compression)
                .flatMap { CompressionRules.choose(&head, policy: $0) }
        }
        RequestRewriter.upstream(&head, framing: framing, facts: facts, clientAddress: clientIP, sourceAddress: source, destination: destination,
                                 frontend: frontend, backend: backend)
        if let name = frontend.uniqueID?.header, let id = record.uniqueID { head.add(name, id) }
        // `http-send-name-header`: the client's (or a rule's) header of that name never reaches
        // the server; the chosen server's name is added at each attempt (`attach`).
        if let name = backend.config.options.sendNameHeader { head.removeAll(name) }
        // `option http-server-close`: the server connection ends with each response;
        // `option httpclose`: both do (the stronger of the frontend's and the backend's). The
        // server is told so, unless the backend's `option http-pretend-keepalive` hides it
        // (a server that answers a closing request differently); it is closed all the same.
        let connectionMode = max(frontend.config.options.httpConnectionMode.strength, backend.config.options.httpConnectionMode.strength)
        if connectionMode > 0 && webSocketKey == nil && !otherUpgrade && !backend.config.options.pretendKeepAlive { head.add("Connection", "close") }
        head.serialise(into: &serverHeadBuffer)
        if let nameCase = backend.requestNameCase { nameCase.apply(to: &serverHeadBuffer) }
        let upstreamHead = serverHeadBuffer
        var dispatch = Dispatch(backend: backend, client: source, destination: destination, pinned: pinned)
        dispatch.persistent = backend.config.options.persist || persistence == .force
        dispatch.forced = persistence == .force
        dispatch.uniqueID = record.uniqueID
        if case .requestHash(let key) = backend.config.options.balance {
            let origin = head.uriSetWhole ? nil : h2.flatMap { info in info.scheme.flatMap { scheme in info.authority.map { "\(scheme)://\($0)" } } }
            dispatch.hashKey = key.bytes(head, origin: origin).map { backend.config.options.hashType.hash($0) }
        }
        dispatch.authority = proxyTLVs.first { $0.type == ProxyHeader.TLVType.authority }?.value
        if let stick = backend.stick {
            // `stick match|on` pins when no cookie did; `stick on|store-request` keys get the chosen server.
            let stickInput = input ?? stickInput(facts ?? makeFacts(head))
            if pinned == nil {
                dispatch.pinned = stick.match(stickInput, servers: backend.servers, now: StickSession.now(), persistent: dispatch.persistent)
            }
            dispatch.stickStore = stick.storeKeys(stickInput)
        }
        if !backend.serverNames.isEmpty {
            // `sni EXPRESSION`: the names of this request, after its rules (req.hdr(host)…).
            var sniInput = input ?? SampleInput(facts: facts ?? makeFacts(head), request: head, variables: variables)
            sniInput.stick = stickSession
            dispatch.serverNames = backend.serverNames.evaluate(sniInput)
        }
        // `set-method`: the exchange follows the method the server receives (a HEAD's
        // response has no body, a GET's has).
        let method = head.startLineOverride == nil ? head.method : HTTPMethodName(text: head.currentMethod)
        let ex = HTTPExchange(dispatch: dispatch,
                              method: method, clientMinor: head.minorVersion, closeClient: connection.close || quiescing,
                              upstreamHead: upstreamHead, requestFramer: framing.map(BodyFramer.init), facts: facts,
                              responseLimits: backend.config.options.acceptInvalidResponse ? limits.acceptingInvalidResponses : limits,
                              log: record, start: now)
        ex.presentedCookie = presented
        ex.ignoresCookie = persistence == .ignore
        ex.pinnedWithoutCookie = assignedByRule || (pinned == nil && dispatch.pinned != nil)
        if head.startLineOverride != nil, method != .head, head.method == .head {
            // An HTTP/1.1 client's connection drops the body here; an h2 stream's translator does.
            if let h2 { h2.headRewritten = true } else { ex.clientAskedHEAD = true }
        }
        ex.log.cookie = cookieState
        ex.webSocketKey = webSocketKey
        ex.otherUpgrade = otherUpgrade
        ex.compression = compression
        if connectionMode >= 1 { ex.serverMustClose = true }
        if connectionMode >= 2 { ex.closeClient = true }
        ex.ruleInput = input
        state = .exchanging(ex)
        if let wait = input?.bodyWait, !ex.requestComplete {
            ex.bodyDeadline = now + .nanoseconds(wait.nanoseconds)
            ex.bodyThreshold = wait.atLeast
        }
        if frontend.config.options.httpBufferRequest || backend.config.options.httpBufferRequest || ex.bodyDeadline != nil, !ex.requestComplete {
            // `option http-buffer-request`: the request stays in its request phase (no queue
            // time, Tw -1) until its body is in; `pumpRequestBody` dispatches it then.
            ex.awaitingBody = true
            ex.bufferedByFrontend = frontend.config.options.httpBufferRequest
            ex.log.tw = -1
            pumpRequestBody(ex)
            return
        }
        _ = ex.phase.requestReceived()
        pumpRequestBody(ex)
        guard case .exchanging(let current) = state, current === ex else { return }
        dispatchNext(ex, freshConnection: false)
    }

    /// `option http-buffer-request`: the body is in, or fills SwiftLB's body buffer (HAProxy:
    /// its buffer is full): the exchange goes on to a server.
    func bodyBuffered(_ ex: HTTPExchange) {
        ex.awaitingBody = false
        ex.log.tw = 0
        _ = ex.phase.requestReceived()
        dispatchNext(ex, freshConnection: false)
    }

    /// `redirect scheme|location`: answered here, no backend involved; keep-alive allowed.
    /// `by`: the proxy logged as answering (the frontend, or a backend whose rule it was).
    /// False when the rule does not apply (`ignore-empty` on an empty location).
    @discardableResult
    private func redirect(_ rule: RedirectRule, head: MessageHead, record: AccessLogRecord, by proxy: String? = nil) -> Bool {
        // The plain keyword's text is not a format (HAProxy parses it without log-format).
        let text: String = switch rule.target { case .location(let t), .prefix(let t), .scheme(let t): t }
        let prefix = if case .prefix = rule.target, text == "/" { "" } else { text }  // HAProxy's self-redirection
        guard let location = RedirectReply.location(rule, rendered: prefix, target: head.currentTarget, host: head.values(of: "host").first) else {
            return false
        }
        var edited = head
        let close = RequestRewriter.removeHopByHop(&edited).close || quiescing
        let (status, reason) = RedirectReply.statusLine(code: rule.code)
        var out = context!.channel.allocator.buffer(capacity: 128 + location.utf8.count)
        out.writeString("HTTP/1.1 \(status) \(reason)\r\ncontent-length: 0\r\nlocation: \(location)\r\n")  // HAProxy's answers say 1.1
        if RedirectReply.forbidsCaching(code: rule.code) { out.writeString("cache-control: no-cache\r\n") }
        if close { out.writeString("connection: close\r\n") } else if head.minorVersion == 0 { out.writeString("connection: keep-alive\r\n") }
        out.writeString("\r\n")
        var record = record
        record.status = rule.code
        record.bytesOut = 0
        record.backend = proxy ?? frontend.name
        writeLog(record, intercepted: proxy == nil)  // HAProxy counts the frontend's own only
        requestsServed += 1
        // The request's body, if any, is not wanted: only a bodiless request keeps the connection.
        let bodiless = (try? MessageFraming.request(head).get()) == nil
        if close || !bodiless {
            state = .closing
            context?.write(wrapOutboundOut(out), promise: nil)
            flushThenClose()
        } else {
            state = .idle
            idleSince = .now()
            context?.writeAndFlush(wrapOutboundOut(out), promise: nil)
        }
        return true
    }

    /// Runs `rules`' http-request list; true when a rule answered (deny, return, redirect,
    /// auth, a service) and the exchange is over.
    private func answered(by rules: ProxyRules, frontendRules: ProxyRules?, backendRules: ProxyRules?, head: inout MessageHead,
                          input: inout SampleInput, framing: BodyFramer.Mode?, record: AccessLogRecord) -> Bool {
        let pages = frontendRules.map { $0.pages(backend: backendRules) } ?? ErrorPageChain(rules.errorPages)
        let verdict = rules.request.evaluate(&head, &input, pages: pages)
        var record = record
        if let slots = record.requestCaptures { record.requestCaptures = Self.slots(input.captures, as: slots) }
        switch verdict {
        case .reject:
            // `http-request reject`: closed at once, nothing answered; logged PR as HAProxy does.
            loop.stats.frontend(frontend.counterID) { $0.deniedRequests += 1 }
            record.termination = "PR"
            if record.backend == "<NOSRV>" { record.backend = frontend.name }
            writeLog(record)
            state = .closing
            context?.close(promise: nil)
            return true
        case .respond(let response, .tarpit):
            let limit = timeouts.tarpit ?? timeouts.connect
            state = .tarpitted(TarpitWait(until: clock + .nanoseconds(limit?.nanoseconds ?? 0), response: response, frontendRules: frontendRules,
                                          backendRules: backendRules, input: input, head: head, framing: framing, record: record))
            return true
        case .respond(let response, let kind):
            answerLocally(response, flags: String(kind.terminationFlags.prefix(2)), denied: kind == .deny,
                          frontendRules: frontendRules, backendRules: backendRules, input: &input, head: head, framing: framing, record: record)
            return true
        case .useService:
            serveMetrics(head, framing: framing, record: record)
            return true
        case .continue, .allow:
            return false
        }
    }

    /// `tcp-request content` rules on this request (HAProxy runs them on each request in HTTP
    /// mode): the frontend's, or the chosen backend's. False when one rejected it: the
    /// connection is closed unanswered, logged `PR`, counted in the frontend's `dreq` (a
    /// backend's reject too, as haproxy counts it). `set-src|set-dst` become this request's
    /// addresses, as with http-request's.
    private func passesContentRules(_ rules: TCPRules, head: MessageHead, record: inout AccessLogRecord,
                                    transactionBegun: inout Bool, facts: inout RequestFacts?) -> Bool {
        var ruled = stickInput(makeFacts(head))
        if rules.setsVariables {
            if !transactionBegun { variables.beginTransaction() }
            transactionBegun = true
            ruled.variables = variables
        }
        guard rules.acceptsContent(&ruled) else {
            loop.stats.frontend(frontend.counterID) { $0.deniedRequests += 1 }
            record.termination = "PR"
            writeLog(record)
            state = .closing
            context?.close(promise: nil)
            return false
        }
        adoptAddresses(ruled.facts, &record, &facts)
        return true
    }

    /// Whether the chunked body's bytes already in (those that came with the head) break its
    /// framing: HAProxy's H1 layer parses them with the head, before any stream exists.
    private func chunksAlreadyBroken(_ framing: BodyFramer.Mode?) -> Bool {
        guard case .chunked? = framing, inbound.readableBytes > 0 else { return false }
        var framer = BodyFramer(.chunked)
        var rest = inbound
        return (try? framer.take(from: &rest) { _ in }) == nil
    }

    /// `http-request set-src|set-dst`: the ends become what the rules set for the rest of this
    /// request (its log line, X-Forwarded-For, a PROXY header); the next request of the
    /// connection starts from the real ones again (HAProxy changes the stream's, not the
    /// connection's).
    private func adoptAddresses(_ ruled: RequestFacts, _ record: inout AccessLogRecord, _ facts: inout RequestFacts?) {
        guard ruled.source != source || ruled.destination != destination else { return }
        if addressesBeforeRules == nil { addressesBeforeRules = (source, destination) }
        source = ruled.source
        destination = ruled.destination
        clientIP = source?.ipAddress ?? ""
        if record.source != nil { record.source = source }
        if record.destination != nil { record.destination = destination }
        facts?.source = source
        facts?.destination = destination
    }

    /// `option http-restrict-req-hdr-names reject`: 403, logged and counted as a deny, and the
    /// connection kept for the next request as after a `deny` (HAProxy's), unless the request
    /// has a body or the client closes.
    private func refuseHeaderNames(_ record: AccessLogRecord, head: MessageHead, framing: BodyFramer.Mode?, backendRules: ProxyRules?,
                                   input: SampleInput?) {
        if let rules = frontend.engine ?? backendRules {
            var i = input ?? SampleInput(facts: makeFacts(head), request: head, variables: variables)
            let page = rules.pages(backend: frontend.engine == nil ? nil : backendRules).page(for: 403, input: i)
            answerLocally(page, flags: "PR", denied: true, frontendRules: frontend.engine, backendRules: backendRules, input: &i,
                          head: head, framing: framing, record: record)
            return
        }
        var record = record
        record.termination = "PR"
        if record.backend == "<NOSRV>" { record.backend = frontend.name }
        loop.stats.frontend(frontend.counterID) { $0.deniedRequests += 1 }
        respondError(.forbidden, record: record, request: head, framing: framing)
    }

    /// `http-request tarpit`, once `timeout tarpit` (else `timeout connect`) has passed: the
    /// answer goes as a deny's would, the connection kept as after one (HAProxy 2.6's); the
    /// client's input waited meanwhile (the loop's sweeper calls this).
    func endTarpit(_ wait: TarpitWait) {
        state = .idle
        var input = wait.input
        answerLocally(wait.response, flags: "PT", denied: true, frontendRules: wait.frontendRules, backendRules: wait.backendRules,
                      input: &input, head: wait.head, framing: wait.framing, record: wait.record)
        if case .idle = state {
            process()
            resumeReadsIfPossible()
        }
    }

    /// The capture slots the rules filled, as many as the frontend declares.
    static func slots(_ captured: [String?], as declared: [String?]) -> [String?] {
        declared.indices.map { $0 < captured.count ? captured[$0] : declared[$0] }
    }

    /// An answer of the rules (deny, return, redirect, auth, monitor-uri): the after-response
    /// rules run on it, it goes out, and the connection stays open unless the answer, the
    /// client, or a request body not read (HAProxy's rule) asks to close.
    private func answerLocally(_ response: LocalResponse, flags: String, denied: Bool, frontendRules: ProxyRules?, backendRules: ProxyRules?,
                               input: inout SampleInput, head: MessageHead, framing: BodyFramer.Mode?, record: AccessLogRecord) {
        guard let context, let rules = frontendRules ?? backendRules else { return }
        let close = response.requiresClose || closesAfterAnswer(head, framing: framing)
        let bytes = rules.answer(response, backend: frontendRules == nil ? nil : backendRules, input: &input, close: close,
                                 clientMinor: head.minorVersion, headRequest: head.method == .head, allocator: context.channel.allocator)
        var record = record
        record.status = response.status
        record.termination = flags
        record.bytesOut = bytes.readableBytes
        if record.backend == "<NOSRV>" { record.backend = frontend.name }
        writeLog(record, intercepted: !denied)
        if denied { loop.stats.frontend(frontend.counterID) { $0.deniedRequests += 1 } }
        requestsServed += 1
        if bytes.readableBytes > 0 { context.write(wrapOutboundOut(bytes), promise: nil) }
        if close {
            state = .closing
            flushThenClose()
        } else {
            state = .idle
            idleSince = clock
            context.flush()
        }
    }
}

/// A tarpitted request: when its answer goes, and what answering it needs.
final class TarpitWait {
    let until: NIODeadline
    let response: LocalResponse
    let frontendRules: ProxyRules?
    let backendRules: ProxyRules?
    let input: SampleInput
    let head: MessageHead
    let framing: BodyFramer.Mode?
    let record: AccessLogRecord

    init(until: NIODeadline, response: LocalResponse, frontendRules: ProxyRules?, backendRules: ProxyRules?, input: SampleInput,
         head: MessageHead, framing: BodyFramer.Mode?, record: AccessLogRecord) {
        self.until = until
        self.response = response
        self.frontendRules = frontendRules
        self.backendRules = backendRules
        self.input = input
        self.head = head
        self.framing = framing
        self.record = record
    }
}
