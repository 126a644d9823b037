import Atomics
import NIOCore

/// What a stream told the dispatcher it needs, and how far getting it has come: the backend, the
/// server the client is pinned to, the servers already tried, and the in-flight count held on
/// the chosen server. It knows nothing of HTTP: HTTP exchanges, WebSocket tunnels and TCP
/// sessions dispatch alike (HAProxy's backend.c and queue.c, apart from the HTTP analysers).
///
/// Order of a dispatch: sticky pin (cookie, stick table) → balancer pick (slowstart, backups) → queue when every
/// eligible server is at its maxconn → a pooled idle connection or a new one. A failure is
/// reported with its cause; whether to try again (and whether that is safe for what was
/// already sent) is the stream's decision, through `retry`.
struct Dispatch {
    enum Failure: Equatable {
        /// No server is usable (503, log SC).
        case noServer
        /// The pinned server is down and `option redispatch` is off (503, SC).
        case stickyServerDown
        /// `timeout queue` passed while queued (503, sQ).
        case queueTimeout
        /// The pinned server is full and its `maxqueue` streams already wait for it, without
        /// `option redispatch` (503, SQ: HAProxy's SRV_STATUS_FULL).
        case serverQueueFull
        /// The connection was refused or failed (502, SC).
        case connectFailed
        /// `timeout connect` passed (503, sC).
        case connectTimeout
    }

    let backend: RuntimeBackend
    let client: SocketAddress?
    /// The address the client connected to (for a `send-proxy` header).
    let destination: SocketAddress?
    /// `proxy-v2-options unique-id`: the request's unique id (`unique-id-format`).
    var uniqueID: String?
    /// `proxy-v2-options authority`: the authority the client's own PROXY header carried.
    var authority: [UInt8]?
    /// The server a sticky cookie, a `use-server` rule or a `stick match` names.
    var pinned: RuntimeServer?
    /// `option persist`, `force-persist`: the pinned server is used even when DOWN.
    var persistent = false
    /// `option prefer-last-server`: the server the client connection's previous request went
    /// to over a connection it still holds, tried before the balancer when it takes traffic.
    var preferred: RuntimeServer?
    /// `balance uri|url_param|hdr`: the request's hash (nil: round robin).
    var hashKey: UInt32?
    /// `stick on|store-request`: the table entries the chosen server is stored in (empty
    /// without stick rules).
    var stickStore: [(table: StickTable, key: [UInt8])] = []
    /// What the backend's `sni` expressions gave for this request (`ServerNameExpressions`;
    /// empty when its servers' names are constant).
    var serverNames: [String?] = []
    /// The server of the current attempt.
    private(set) var server: RuntimeServer?
    private(set) var excluded = ServerSet()
    private(set) var attempts = 0
    /// What the last attempt ran into.
    var lastFailure: Failure?
    /// Our place in the queue (it counts us in our pinned server's `queued` until claimed).
    private(set) var waiter: BackendQueue.Waiter?
    private(set) var queuedAt: NIODeadline?
    /// The pinned server whose freed slot the queue gave us: we go to it even if it stopped
    /// taking clients meanwhile (HAProxy's `process_srv_queue` assigns a server's waiters to it
    /// whatever its state); used by the next step only.
    private var dequeuedTo: RuntimeServer?
    /// The server whose in-flight count this stream holds (leastconn, maxconn, the queue).
    private var activeOn: RuntimeServer?
    /// Bumped at each attempt, so a late callback of an abandoned attempt is recognised.
    private(set) var generation = 0

    init(backend: RuntimeBackend, client: SocketAddress?, destination: SocketAddress? = nil, pinned: RuntimeServer? = nil) {
        self.backend = backend
        self.client = client
        self.destination = destination
        self.pinned = pinned
    }

    var isQueued: Bool { waiter != nil }

    /// Which idle connections an attempt may be sent over (`http-reuse`, see HTTPReuse).
    enum IdleChoice: Equatable {
        /// None: a new connection (`never`; `safe` for a client connection's first request).
        case none
        /// Pooled ones that have carried two requests or more (`aggressive`, first request).
        case proven
        /// Any pooled one.
        case any
    }

    /// One step towards a connection. `reuse`: the pooled connections it may take;
    /// `own`: the client connection's own server connection (`http-reuse never`), used when
    /// the chosen server is its server.
    mutating func next(loop: LoopState, owner: some DispatchOwner, freshConnection: Bool,
                       reuse: IdleChoice = .any, own: ServerConnection? = nil) -> DispatchStep {
        let chosen: RuntimeServer
        let dequeued = dequeuedTo
        dequeuedTo = nil
        let pinnedUsable = pinned.map { ($0.health.acceptsStickyClients || persistent || $0 === dequeued) && !excluded.contains($0.index) } ?? false
        if let pinned, pinned === dequeued, pinnedUsable {
            chosen = pinned  // the slot it was handed (held already)
        } else if let pinned, pinnedUsable, !mustWait(for: pinned) || !pinned.queueIsFull {
            if mustWait(for: pinned) { return enqueue(loop: loop, owner: owner, waitingFor: pinned, behindOthers: !pinned.isFull) }
            chosen = pinned
        } else if pinned == nil, let dequeued, dequeued.health.acceptsNewClients, dequeued.weight > 0, !excluded.contains(dequeued.index) {
            // HAProxy's pendconn_grab_from_px / process_srv_queue assign the server with the slot.
            chosen = dequeued
        } else if pinnedUsable && !backend.config.options.redispatch {
            // Full, and `maxqueue` streams already wait for it (HAProxy's SRV_STATUS_FULL): only
            // `option redispatch` lets the client go to another server (below). HAProxy logs it
            // against that server.
            server = pinned
            return .failed(.serverQueueFull)
        } else if pinned != nil && !pinnedUsable && !backend.config.options.redispatch {
            // Without `option redispatch` a pinned client stays with its server: one that went
            // DOWN since it was pinned, or that refused this request (a cookie naming a DOWN
            // server pins nothing without `option persist`/`force-persist`: the stream decides).
            return .failed(attempts == 0 ? .stickyServerDown : lastFailure ?? .connectFailed)
        } else {
            // HAProxy (assign_server): with `first` or `roundrobin`, clients already queued for
            // any server mean every server is full: a new one queues behind them, even where
            // a `minconn` limit grew with its arrival.
            // HAProxy's assign_server asks prefer-last-server first, before any queue; a full
            // preferred server is waited for (assign_server_and_queue queues for it), and with
            // its `maxqueue` reached the request fails as a pinned one does without redispatch.
            if let preferred, pinned == nil, dequeued == nil, preferred.health.takesTraffic, !excluded.contains(preferred.index) {
                if mustWait(for: preferred) {
                    guard !preferred.queueIsFull else {
                        server = preferred
                        return .failed(.serverQueueFull)
                    }
                    return enqueue(loop: loop, owner: owner, waitingFor: preferred, behindOthers: !preferred.isFull)
                }
                chosen = preferred
            } else {
                if backend.queuesBehindWaiters, dequeued == nil, let queue = backend.queue, queue.unpinnedCount > 0 {
                    return enqueue(loop: loop, owner: owner, behindOthers: true)
                }
                switch backend.pickServer(excluding: excluded, client: client, key: hashKey) {
                case .server(let s): chosen = s
                case .full: return enqueue(loop: loop, owner: owner)
                case .none: return .failed(attempts == 0 ? .noServer : lastFailure ?? .connectFailed)
                }
            }
        }
        server = chosen
        if !stickStore.isEmpty {
            // Stored at each pick, so a retry on another server leaves the last one stored.
            let now = UInt64(NIODeadline.now().uptimeNanoseconds), stuck = StickTable.Server(id: chosen.sid, name: chosen.name)
            for (table, key) in stickStore {
                table.store(key, server: table.keyByAddress ? StickTable.Server(id: stuck.id, name: chosen.addressKey) : stuck, now: now)
            }
        }
        attempts += 1
        generation += 1
        holdActive(on: chosen)
        // A `send-proxy` connection told its server who this client is: it is never shared.
        let proxyHeader = chosen.parameters.sendProxy.map { version in
            version == .v1 ? ProxyHeaderEncoder.v1(source: client, destination: destination) : v2Header(chosen.parameters.proxyV2Options)
        }
        let name = serverName(for: chosen)
        if !freshConnection, proxyHeader == nil {
            if let own, own.server === chosen, own.isOpen, own.serverName.serves(name) { return .connection(own) }
            if reuse != .none, let pooled = loop.takeIdle(chosen, provenOnly: reuse == .proven, name: name) { return .connection(pooled) }
        }
        let generation = self.generation
        let timeout = backend.config.options.timeouts.connect.map { TimeAmount.nanoseconds($0.nanoseconds) }
        let connecting: EventLoopFuture<ServerConnection>
        // `proto h2`: a new stream on a loop's connection to the server with a stream slot free, when
        // it may be shared (else a new connection).
        let shareH2 = chosen.parameters.http2 && proxyHeader == nil && !chosen.parameters.portFromClient && backend.config.options.httpReuse != .never
        if shareH2, !freshConnection, reuse != .none, let session = loop.h2Session(chosen, name: name) {
            connecting = session.openStream(for: ServerConnection(server: chosen), on: loop.eventLoop)
        } else {
            // A port-less server: the port the client connected to (no address: nothing to reach).
            let port = chosen.parameters.portFromClient ? destination?.port ?? 0 : nil
            connecting = ServerConnection.connect(to: chosen, on: loop.eventLoop, timeout: timeout, proxyHeader: proxyHeader,
                                                  keepAlive: backend.config.options.serverTCPKeepAlive, serverName: name, port: port,
                                                  readAtLeast: loop.holder.current.configuration.global.tuneBufsize, demand: loop.demand(for: chosen))
        }
        connecting.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let connection):
                if shareH2, let session = connection.h2Session, !session.shared {
                    session.shared = true
                    loop.shareH2Session(session, for: chosen)
                }
                owner.dispatchConnected(connection, generation: generation)
            case .failure(let error):
                let timedOut = (error as? ChannelError).map { if case .connectTimeout = $0 { true } else { false } } ?? false
                chosen.health.observed(error: true)
                owner.dispatchConnectFailed(timedOut ? .connectTimeout : .connectFailed, generation: generation)
            }
        }
        return .connecting
    }

    /// The SNI a connection to `server` carries for this request.
    private func serverName(for server: RuntimeServer) -> ServerName {
        guard let slot = backend.serverNames.slot(of: server) else { return ServerName(name: server.tlsServerName, keyed: false) }
        return ServerName(name: slot < serverNames.count ? serverNames[slot] : nil, keyed: true)
    }

    /// Whether another attempt may be made after a failure of the current server; with
    /// `excludeCurrent` the next attempt goes to another server.
    mutating func retry(excludeCurrent: Bool) -> Bool {
        if excludeCurrent, let server { excluded.insert(server.index) }
        return attempts <= backend.config.options.retries
    }

    /// After a failed connection attempt: nil when no other attempt may be made; else how long
    /// to wait before it. Another usable server is tried at once; when the failed server is the
    /// only one left, it is tried again — after a refusal only once HAProxy's turn-around
    /// (backend.c, SI_ST_TAR) of min(`timeout connect`, 1 s) has passed, since a server that
    /// refused is likely restarting (a timed-out attempt already waited).
    mutating func retryAfterConnectFailure(_ failure: Failure) -> TimeAmount? {
        guard attempts <= backend.config.options.retries else { return nil }
        guard let failed = server else { return .zero }
        let excluded = self.excluded
        let another = backend.servers.contains { s in
            s !== failed && !excluded.contains(s.index) && s.weight > 0 && s.health.acceptsNewClients
        }
        if another {
            self.excluded.insert(failed.index)
            return .zero
        }
        guard failure == .connectFailed else { return .zero }
        let connect = backend.config.options.timeouts.connect?.nanoseconds ?? 0
        return .nanoseconds(connect > 0 ? min(connect, 1_000_000_000) : 1_000_000_000)
    }

    /// Gives up the in-flight count (the stream is done with the server) and any queue place.
    mutating func release() {
        // Done with the stream: it waits for nobody, whether or not a wake is on its way (that
        // wake finds the stream over and hands the slot on).
        leaveQueue()
        guard let server = activeOn else { return }
        activeOn = nil
        backend.slotFreed(on: server)
    }

    /// HAProxy's assign_server_and_queue: a pinned client waits when its server is full, or
    /// when others already wait for it (it does not pass them, even where a `minconn` limit
    /// grew with its arrival).
    private func mustWait(for server: RuntimeServer) -> Bool {
        server.isFull || server.health.maxconn != nil && server.queued.load(ordering: .acquiring) > 0
    }

    /// Leaves the queue (timeout, client gone). False if the queue had already woken us: the
    /// wake-up is on its way and must be let through.
    @discardableResult
    mutating func leaveQueue() -> Bool {
        guard let waiter else { return true }
        if waiter.claim() {
            self.waiter = nil
            backend.queue?.remove(waiter)
            return true
        }
        // The queue woke us meanwhile (and counted us out of our server's `queued`): the wake
        // (`wokeFromQueue`) ends the wait.
        return false
    }

    /// The queue woke us: take the slot it handed us (held already: `RuntimeBackend.handOut`)
    /// — or, when our pinned server stopped taking clients with `option redispatch`, forget the
    /// pin and be balanced (HAProxy's redistribution).
    mutating func wokeFromQueue() -> NIODeadline? {
        switch waiter?.wokenBy {
        case .redistributed?: pinned = nil
        case .slot(let freed?)? where backend.servers.indices.contains(freed):
            let server = backend.servers[freed]
            if activeOn !== server {
                if let held = activeOn { backend.slotFreed(on: held) }
                activeOn = server
            } else {
                backend.slotFreed(on: server)  // one slot there is enough
            }
            dequeuedTo = server
        default: break
        }
        waiter = nil
        return queuedAt
    }

    private mutating func holdActive(on server: RuntimeServer) {
        if activeOn === server { return }
        release()
        backend.take(1, on: server)
        activeOn = server
    }

    /// `behindOthers`: it queues because others wait, not because every server is full.
    private mutating func enqueue(loop: LoopState, owner: some DispatchOwner, waitingFor server: RuntimeServer? = nil,
                                  behindOthers: Bool = false) -> DispatchStep {
        guard let queue = backend.queue else { return .failed(.noServer) }
        // A waiting client holds no slot (HAProxy's assign_server releases it first): the one of
        // a failed attempt goes to the queue.
        if let held = activeOn {
            activeOn = nil
            backend.slotFreed(on: held)
        }
        let bound = NIOLoopBound(owner, eventLoop: loop.eventLoop)
        let backend = self.backend
        // A stream that gave up meanwhile hands the free slot on.
        let waiter = BackendQueue.Waiter(loop: loop.eventLoop, target: server?.index, excluded: excluded, queued: server?.queued,
                                         persistent: persistent) { why in
            guard !bound.value.dispatchQueueWoke(), case .slot(let freed) = why else { return }
            if let freed, backend.servers.indices.contains(freed) { backend.slotFreed(on: backend.servers[freed]) } else { queue.wakeOne(freed: freed) }
        }
        self.waiter = waiter
        if queuedAt == nil { queuedAt = .now() }
        queue.enqueue(waiter)
        // A slot may have freed between the pick and the enqueue, with nobody to wake: on the
        // server a pinned stream waits for, or on any eligible one. Behind others, only an idle
        // server's slot can have been missed (one whose `minconn` limit grew with the load is no
        // freed slot: the next one freed goes to the oldest). A server this stream excluded (it
        // refused it) has no slot for it: woken with one, it would queue again at once, and spin.
        if let server {
            if behindOthers ? server.active.load(ordering: .relaxed) == 0 : !server.isFull(asking: false) { backend.offerSlot(of: server) }
            // It stopped taking clients since the pick, its redistribution maybe already done.
            if !server.health.acceptsStickyClients, backend.config.options.redispatch { queue.redistribute(server: server.index) }
        } else if let free = backend.servers.first(where: { [excluded] s in
            !excluded.contains(s.index) && backend.servesItsQueue(s) && (behindOthers ? s.active.load(ordering: .relaxed) == 0 : !s.isFull(asking: false))
        }) {
            // (A server the balancer would not pick — a backup while actives serve, weight 0 —
            // must not wake anyone: the woken waiter would queue again and wake the next.)
            backend.offerSlot(of: free)
        }
        return .queued
    }
}

/// The result of one dispatch step.
enum DispatchStep {
    /// A pooled connection, ready now.
    case connection(ServerConnection)
    /// A connection is being opened: `dispatchConnected` or `dispatchConnectFailed` follows.
    case connecting
    /// Waiting for a server slot: `dispatchQueueWoke` follows (or the stream gives up).
    case queued
    case failed(Dispatch.Failure)
}

/// The stream a dispatch reports back to, on its own event loop.
protocol DispatchOwner: AnyObject {
    func dispatchConnected(_ connection: ServerConnection, generation: Int)
    func dispatchConnectFailed(_ failure: Dispatch.Failure, generation: Int)
    /// The queue has a slot for this stream; false if the stream no longer wants it.
    func dispatchQueueWoke() -> Bool
}

extension Dispatch {
    /// The v2 header with the TLVs `proxy-v2-options` asks for, in HAProxy's order (its
    /// `make_proxy_line_v2`): the checksum, the authority (when the client's header had one),
    /// the unique id (empty without `unique-id-format`).
    fileprivate func v2Header(_ options: Set<String>) -> ByteBuffer {
        var tlvs: [ProxyHeader.TLV] = []
        if options.contains("authority"), let authority { tlvs.append(ProxyHeader.TLV(type: ProxyHeader.TLVType.authority, value: authority)) }
        if options.contains("unique-id") { tlvs.append(ProxyHeader.TLV(type: ProxyHeader.TLVType.uniqueID, value: Array((uniqueID ?? "").utf8))) }
        return ProxyHeaderEncoder.v2(source: client, destination: destination, tlvs: tlvs, checksum: options.contains("crc32c"))
    }
}
