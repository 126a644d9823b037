/// One peers-protocol session, as a pure state machine over bytes (the I/O shell,
/// `PeerConnectionHandler`, feeds it what the socket reads and writes what it returns).
///
/// The connecting side sends the hello (`HAProxyS 2.1`, the name it expects the other side to
/// have, its own name, pid and relative pid) and waits for a status line; the accepting side
/// reads the three lines, checks the version, that it is the peer asked for and that the
/// caller is one of its peers, and answers 200 or an error code (then closes). Once
/// established, both read framed messages: control messages and acknowledgements are handed
/// up as they are, a table definition is remembered (matched to a local table by name, key
/// type and key size, as HAProxy does; an unmatched one makes its updates ignored), and an
/// update of a matched table is decoded against the sender's definition and handed up with
/// the local table's name. The machine also encodes what the shell sends: updates (with the
/// switch to their table and HAProxy's incremental update numbers) and acknowledgements.
struct PeerSessionMachine {
    enum Role: Sendable, Equatable {
        /// We dialled `remote`.
        case connector(remote: String)
        /// We accepted; `peers` are the names allowed to call.
        case acceptor(peers: Set<String>)
    }

    /// What the session hands up.
    enum Event: Equatable {
        /// The handshake succeeded with `peer`.
        case established(peer: String)
        case control(PeerCodec.Control)
        /// An entry of local table `table` (its wire name), decoded.
        case update(table: String, PeerTableCodec.Update)
        /// The remote got our updates of `table` up to `update`.
        case ack(table: String, update: UInt32)
        /// The remote refused the handshake or reported an error; the session is over.
        case refused(String)
    }

    enum Output: Equatable {
        case send([UInt8])
        case event(Event)
        /// Close the connection (after sending what came before).
        case close(reason: String)
    }

    private enum State {
        case idle
        case awaitingStatus(remote: String)
        case awaitingHello(lines: [String])
        case established(peer: String)
        case closed
    }

    let role: Role
    let localName: String
    /// Our tables by wire name, with the id we give them in our definitions.
    let localTables: [String: PeerTableCodec.Definition]
    private var state: State = .idle
    private var buffer: [UInt8] = []
    /// The remote's definitions by its id, matched to one of ours.
    private var remoteTables: [UInt64: PeerTableCodec.Definition] = [:]
    private var currentRemote: PeerTableCodec.Definition?
    /// Last update number received per remote table id, and the last acknowledged.
    private var lastReceived: [UInt64: UInt32] = [:]
    private var lastAcked: [UInt64: UInt32] = [:]
    /// The local table our last update was about, and its last update number sent.
    private var currentLocal: String?
    private var lastSent: [String: UInt32] = [:]
    private var txDictionary = PeerDictionary()
    private var rxDictionary = PeerDictionary()

    /// Longest handshake line accepted.
    static let maxLine = 256

    init(role: Role, localName: String, localTables: [String: PeerTableCodec.Definition]) {
        self.role = role
        self.localName = localName
        self.localTables = localTables
    }

    var isEstablished: Bool {
        if case .established = state { return true }
        return false
    }

    /// The peer's name once established.
    var peer: String? {
        if case .established(let peer) = state { return peer }
        return nil
    }

    /// Starts the session: the hello for a connector, nothing for an acceptor.
    mutating func start(pid: Int32) -> [Output] {
        guard case .idle = state else { preconditionFailure("start in state \(state)") }
        switch role {
        case .connector(let remote):
            state = .awaitingStatus(remote: remote)
            return [.send(PeerCodec.hello(remote: remote, local: localName, pid: pid))]
        case .acceptor:
            state = .awaitingHello(lines: [])
            return []
        }
    }

    /// Bytes read from the socket.
    mutating func receive(_ bytes: [UInt8]) -> [Output] {
        buffer += bytes
        var out: [Output] = []
        while true {
            switch state {
            case .idle:
                preconditionFailure("bytes received before the session started")
            case .closed:
                buffer = []
                return out
            case .awaitingStatus(let remote):
                guard let line = takeLine(&out) else { return out }
                if line == "200" {
                    state = .established(peer: remote)
                    out.append(.event(.established(peer: remote)))
                } else {
                    out.append(.event(.refused("peer '\(remote)' answered \(line)\(Self.statusMeaning(line))")))
                    out += close("handshake refused")
                }
            case .awaitingHello(var lines):
                guard let line = takeLine(&out) else { return out }
                lines.append(line)
                state = .awaitingHello(lines: lines)
                if let status = checkHello(lines) {
                    if status == .success {
                        let name = String(lines[2].split(separator: " ")[0])
                        state = .established(peer: name)
                        out += [.send(PeerCodec.status(.success)), .event(.established(peer: name))]
                    } else {
                        out += [.send(PeerCodec.status(status))]
                        out += close("handshake refused with \(status.rawValue)")
                    }
                }
            case .established:
                switch PeerCodec.frame(buffer[...]) {
                case .needMore:
                    return out
                case .tooLarge(let n):
                    out += [.send(PeerCodec.error(1))]
                    out += close("message of \(n) bytes is too large")
                case .frame(let frame, let consumed):
                    buffer.removeFirst(consumed)
                    out += handle(frame)
                }
            }
        }
    }

    private static func statusMeaning(_ line: String) -> String {
        switch Int(line).flatMap(PeerCodec.Status.init(rawValue:)) {
        case .tryAgain: " (try again later)"
        case .protocolError: " (protocol error)"
        case .badVersion: " (bad version)"
        case .badHost: " (it is not the peer of that name)"
        case .unknownPeer: " (it does not know this peer's name)"
        default: ""
        }
    }

    /// A handshake line without its LF; nil while incomplete (a too long one closes).
    private mutating func takeLine(_ out: inout [Output]) -> String? {
        guard let end = buffer.firstIndex(of: 0x0A) else {
            if buffer.count > Self.maxLine {
                out += close("handshake line too long")
            }
            return nil
        }
        let line = String(decoding: buffer[..<end], as: UTF8.self)
        buffer.removeFirst(end + 1)
        return line
    }

    /// nil until the three lines are there (or an early one is wrong).
    private func checkHello(_ lines: [String]) -> PeerCodec.Status? {
        guard case .acceptor(let peers) = role else { preconditionFailure("hello checked by a connector") }
        if lines.count == 1 {
            let words = lines[0].split(separator: " ")
            guard words.count == 2, words[0] == PeerCodec.protocolName else { return .protocolError }
            return PeerCodec.acceptsVersion(words[1]) ? nil : .badVersion
        }
        if lines.count == 2 { return lines[1] == localName ? nil : .badHost }
        let words = lines[2].split(separator: " ")
        guard words.count >= 2 else { return .protocolError }
        return peers.contains(String(words[0])) ? .success : .unknownPeer
    }

    private mutating func close(_ reason: String) -> [Output] {
        state = .closed
        buffer = []
        return [.close(reason: reason)]
    }

    private mutating func handle(_ frame: PeerCodec.Frame) -> [Output] {
        switch PeerCodec.MessageClass(rawValue: frame.messageClass) {
        case .control:
            guard let control = PeerCodec.Control(rawValue: frame.type) else { return [] }
            return [.event(.control(control))]
        case .error:
            return [.event(.refused("peer reported \(frame.type == 1 ? "a size limit" : "a protocol error")"))] + close("peer error")
        case .reserved:
            return [.send(PeerCodec.error(0))] + close("reserved message class")
        case .stickTable:
            do {
                return try handleTable(frame)
            } catch {
                return [.send(PeerCodec.error(0))] + close("malformed message: \(error)")
            }
        case nil:
            return []
        }
    }

    private mutating func handleTable(_ frame: PeerCodec.Frame) throws(PeerTableCodec.Failure) -> [Output] {
        switch PeerCodec.TableMessage(rawValue: frame.type) {
        case .define:
            currentRemote = nil
            guard let d = try PeerTableCodec.decodeDefinition(frame.body) else { return [] }
            for (id, other) in remoteTables where other.name == d.name || id == d.id { remoteTables[id] = nil }
            guard let local = localTables[d.name], local.keyType == d.keyType, local.keySize == d.keySize else { return [] }
            remoteTables[d.id] = d
            currentRemote = d
            return []
        case .switchTable:
            currentRemote = remoteTables[try PeerTableCodec.decodeSwitch(frame.body)]
            return []
        case .update, .updateTimed, .incrementalUpdate, .incrementalUpdateTimed:
            let type = PeerCodec.TableMessage(rawValue: frame.type)!
            // Updates of an unknown table still count (HAProxy acknowledges only known ones).
            guard let d = currentRemote else { return [] }
            let update = try PeerTableCodec.decodeUpdate(frame.body, type: type, definition: d, dictionary: &rxDictionary)
            let number = update.id ?? (lastReceived[d.id] ?? 0) &+ 1
            lastReceived[d.id] = number
            return [.event(.update(table: d.name, update))]
        case .ack:
            let (id, number) = try PeerTableCodec.decodeAck(frame.body)
            guard let name = localTables.first(where: { $0.value.id == id })?.key else { return [] }
            return [.event(.ack(table: name, update: number))]
        case nil:
            return []
        }
    }

    // MARK: what the shell sends

    /// An update of local table `table` numbered `number`: the table's definition first when
    /// the previous update was about another table, the number only when it does not follow
    /// the last one sent. `timed` (while teaching a whole table) carries the entry's time left.
    /// Nothing once the session is closed (the events of one read are handed up after the
    /// machine read all of it, a protocol error included).
    mutating func encodeUpdate(table: String, number: UInt32, key: [UInt8], expire: UInt32?,
                               values: [Int: PeerTableCodec.Value]) -> [UInt8] {
        guard let d = localTables[table] else { preconditionFailure("update of '\(table)', a table this session does not share") }
        guard isEstablished else { return [] }
        var out: [UInt8] = []
        if currentLocal != table {
            out += PeerTableCodec.encodeDefinition(d)
            currentLocal = table
            lastSent[table] = nil
        }
        let follows = lastSent[table].map { $0 &+ 1 == number } ?? false
        let update = PeerTableCodec.Update(id: follows ? nil : number, expire: expire, key: key, values: values)
        lastSent[table] = number
        return out + PeerTableCodec.encodeUpdate(update, definition: d, dictionary: &txDictionary)
    }

    /// Acknowledgements of what was received since the last ones.
    mutating func acknowledgements() -> [UInt8] {
        var out: [UInt8] = []
        for (id, number) in lastReceived.sorted(by: { $0.key < $1.key }) where lastAcked[id] != number {
            out += PeerTableCodec.encodeAck(tableID: id, update: number)
            lastAcked[id] = number
        }
        return out
    }
}
