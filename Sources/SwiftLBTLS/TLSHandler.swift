import CLibSSL
import NIOCore

/// Fired once the handshake is done: what was negotiated.
public struct TLSHandshakeCompleted: Sendable {
    public let alpn: String?
    public let serverName: String?
    public let version: String
    public let resumed: Bool
}

/// Speaks TLS on a channel with OpenSSL (server side for `bind … ssl`, client side for servers
/// with `ssl`, health checks and tests).
///
/// Ciphertext moves through a `ByteBufferBIO`: OpenSSL reads the socket's buffer in place and
/// writes its records into the buffer that goes to the socket, so no byte is copied through a
/// memory BIO. Inbound, one channel read is decrypted into one plaintext buffer (sized by the
/// ciphertext, at most one `SSL_read` per record and none to find out there is nothing more).
/// Outbound, the plaintext buffers written before a `flush` are encrypted together: small ones
/// are gathered into full records (a response head and its body share one record), large ones
/// go to `SSL_write` from where they are, and the records leave in one socket write.
///
/// States: handshaking → active → closed, with two half-closed states between active and
/// closed for tunnels: `outputClosed` (we sent close_notify, still reading) and `inputClosed`
/// (the peer sent close_notify on a channel that allows remote half-closure, still writing).
/// Every OpenSSL call is preceded by `ERR_clear_error()`; failures become `TLSError`s naming
/// OpenSSL's reason and close the connection (a plain-HTTP client on the TLS port, garbage, a
/// truncated handshake).
public final class TLSHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private enum State {
        case handshaking, active, outputClosed, inputClosed, closed

        var reads: Bool { self == .active || self == .outputClosed }
        var writes: Bool { self == .active || self == .inputClosed }
    }

    /// Plaintext bytes per TLS record (OpenSSL's default `max_send_fragment`).
    static let recordSize = 16384
    /// Bytes a TLS 1.2/1.3 AEAD record adds (header, explicit nonce or content type, tag), with
    /// room to spare: what the outbound buffer reserves per record.
    static let recordOverhead = 64

    private enum Role { case server(TLSServerContext), client(TLSClientContext, serverName: String?) }
    private let role: Role
    private(set) var ssl: OpaquePointer?
    private var bio: ByteBufferBIO?
    private var allocator = ByteBufferAllocator()
    private var state: State = .handshaking
    /// Plaintext written since the last flush (or while handshaking), in order.
    private var pending: [ByteBuffer] = []
    private var pendingBytes = 0
    private var pendingPromise: EventLoopPromise<Void>?
    private var flushPending = false
    /// The last plaintext buffer passed on, decrypted into again once whoever got it has let
    /// it go (the HTTP handler drops a consumed buffer at once): no allocation per read.
    private var plaintext: ByteBuffer?
    /// What the client asked for with SNI, after the handshake.
    public private(set) var serverName: String?

    /// The server side of a TLS listener.
    public init(server: TLSServerContext) { self.role = .server(server) }
    /// The client side, asking for `serverName` with SNI.
    public init(client: TLSClientContext, serverName: String?) { self.role = .client(client, serverName: serverName) }

    // MARK: transitions

    private func becomeActive() {
        guard case .handshaking = state else { preconditionFailure("TLS handshake completed in state \(state)") }
        state = .active
    }

    private func becomeOutputClosed() {
        switch state {
        case .active: state = .outputClosed
        case .inputClosed: state = .closed
        case .handshaking, .outputClosed, .closed: preconditionFailure("TLS output closed in state \(state)")
        }
    }

    private func becomeInputClosed() {
        guard case .active = state else { preconditionFailure("TLS input closed in state \(state)") }
        state = .inputClosed
    }

    private func becomeClosed() {
        state = .closed  // from anywhere: a failure, a close, the channel going away
    }

    // MARK: lifecycle

    public func handlerAdded(context: ChannelHandlerContext) {
        allocator = context.channel.allocator
        ERR_clear_error()
        let made: OpaquePointer?
        switch role {
        case .server(let tls): made = tls.makeSSL()
        case .client(let tls, let name): made = tls.makeSSL(serverName: name)
        }
        guard let ssl = made else {
            becomeClosed()
            context.fireErrorCaught(TLSError.drain("cannot create an SSL object"))
            context.close(promise: nil)
            return
        }
        let bio = ByteBufferBIO(allocator: allocator)
        let transport = bio.retainedBIO()
        SSL_set_bio(ssl, transport, transport)  // one reference for both directions
        if case .server = role { SSL_set_accept_state(ssl) } else { SSL_set_connect_state(ssl) }
        self.ssl = ssl
        self.bio = bio
        if context.channel.isActive, case .client = role { handshake(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        if case .client = role { handshake(context: context) }  // the client speaks first
        context.fireChannelActive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        free()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        free()
        context.fireChannelInactive()
    }

    private func free() {
        if let ssl { SSL_free(ssl) }
        ssl = nil
        bio?.reset()
        bio = nil
        plaintext = nil
        becomeClosed()
        failPending(ChannelError.ioOnClosedChannel)
    }

    private func failPending(_ error: any Error) {
        pending.removeAll()
        pendingBytes = 0
        let promise = pendingPromise
        pendingPromise = nil
        promise?.fail(error)
    }

    // MARK: inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let bio else { return }
        switch state {
        case .handshaking:
            bio.receive(unwrapInboundIn(data))
            handshake(context: context)
            if state.reads { readPlaintext(context: context) }
        case .active, .outputClosed:
            bio.receive(unwrapInboundIn(data))
            readPlaintext(context: context)
        case .inputClosed, .closed:
            return  // after close_notify or a failure nothing more is read
        }
        if !state.reads { self.bio?.dropInbound() }  // unread ciphertext after close_notify or a failure
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        flushCiphertext(context: context)  // what reading made OpenSSL send (tickets, key updates)
        context.fireChannelReadComplete()
    }

    private func handshake(context: ChannelHandlerContext) {
        guard let ssl, case .handshaking = state else { return }
        ERR_clear_error()
        let rc = SSL_do_handshake(ssl)
        if rc == 1 {
            becomeActive()
            serverName = swiftlb_SSL_get_servername(ssl).map { String(cString: $0) }
            var alpnData: UnsafePointer<UInt8>?
            var alpnLength: UInt32 = 0
            SSL_get0_alpn_selected(ssl, &alpnData, &alpnLength)
            let alpn = alpnData.map { String(decoding: UnsafeBufferPointer(start: $0, count: Int(alpnLength)), as: UTF8.self) }
            let version = String(cString: SSL_get_version(ssl))
            let resumed = swiftlb_SSL_session_reused(ssl) == 1
            if case .server = role { TLSHandshakeCounters.frontendHandshakeCompleted(resumed: resumed) }
            flushCiphertext(context: context)  // the server's tickets, the client's Finished
            context.fireUserInboundEventTriggered(TLSHandshakeCompleted(alpn: alpn, serverName: serverName, version: version,
                                                                        resumed: resumed))
            if flushPending && state.writes { encryptPending(context: context) }
            return
        }
        switch SSL_get_error(ssl, rc) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            flushCiphertext(context: context)  // ServerHello and friends
        default:
            fail(context: context, TLSError.drain("TLS handshake failed"))
        }
    }

    /// What one `SSL_read` loop ended with.
    private enum ReadEnd { case drained, closeNotify, failed(TLSError) }

    /// Decrypts everything received into one plaintext buffer (more only past 64 KiB), passes
    /// it on, then acts on a close_notify or an error met after it.
    private func readPlaintext(context: ChannelHandlerContext) {
        var plain: ByteBuffer?
        var end = ReadEnd.drained
        // The handler may be closed or removed by what it passes on: re-check on every turn.
        while state.reads, let ssl, let bio {
            if plain == nil {
                // Plaintext is smaller than the ciphertext it came from.
                plain = plaintextBuffer(capacity: min(max(bio.inboundBytes, 1024), 65536))
            }
            var rc: Int32 = 0
            ERR_clear_error()
            plain!.writeWithUnsafeMutableBytes(minimumWritableBytes: 1) { out in
                rc = SSL_read(ssl, out.baseAddress, Int32(clamping: out.count))
                return Int(max(rc, 0))
            }
            if rc > 0 {
                if plain!.writableBytes == 0 {
                    context.fireChannelRead(wrapInboundOut(plain!))
                    keepForReuse(plain!)
                    plain = nil
                    continue  // what it passed on to may have closed: check before touching `ssl`
                }
                if bio.inboundBytes == 0 && SSL_has_pending(ssl) == 0 { break }  // nothing left anywhere
                continue
            }
            switch SSL_get_error(ssl, rc) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: end = .drained
            case SSL_ERROR_ZERO_RETURN: end = .closeNotify
            default: end = .failed(TLSError.drain("TLS read failed"))  // before anyone clears the queue
            }
            break
        }
        if let plain {
            if plain.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(plain)) }
            keepForReuse(plain)
        }
        switch end {
        case .drained:
            break
        case .closeNotify:
            peerClosed(context: context)
        case .failed(let error):
            fail(context: context, error)
        }
    }

    /// The kept plaintext buffer, emptied, if nobody else holds it (`clear()` allocates anew
    /// otherwise), else a new one.
    private func plaintextBuffer(capacity: Int) -> ByteBuffer {
        guard var buffer = plaintext else { return allocator.buffer(capacity: capacity) }
        plaintext = nil
        buffer.clear(minimumCapacity: capacity)
        return buffer
    }

    /// A buffer of one record or less is worth keeping; a larger one would hold memory while
    /// the connection idles.
    private func keepForReuse(_ buffer: ByteBuffer) {
        guard ssl != nil else { return }  // freed meanwhile (closed from inside the read)
        plaintext = buffer.capacity <= ByteBufferBIO.keptBufferCapacity ? buffer : nil
    }

    /// The peer sent close_notify: a tunnel that allows half-closure keeps writing, anything
    /// else answers with ours and closes.
    private func peerClosed(context: ChannelHandlerContext) {
        let halfClosure = (try? context.channel.syncOptions?.getOption(ChannelOptions.allowRemoteHalfClosure)) ?? false
        if state == .active && halfClosure {
            becomeInputClosed()
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        } else {
            close(context: context, mode: .all, promise: nil)
        }
    }

    // MARK: outbound

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard state == .handshaking || state.writes else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        let plain = unwrapOutboundIn(data)
        if plain.readableBytes > 0 {
            pending.append(plain)
            pendingBytes += plain.readableBytes
        }
        if let promise {
            if let existing = pendingPromise { existing.futureResult.cascade(to: promise) } else { pendingPromise = promise }
        }
    }

    public func flush(context: ChannelHandlerContext) {
        flushPending = true
        if state.writes { encryptPending(context: context) }
    }

    /// Encrypts everything written since the last flush and sends it in one write.
    private func encryptPending(context: ChannelHandlerContext) {
        flushPending = false
        guard let ssl, let bio else { return }
        let promise = pendingPromise
        pendingPromise = nil
        if pendingBytes > 0 {
            let records = (pendingBytes + Self.recordSize - 1) / Self.recordSize
            bio.reserveOutbound(pendingBytes + records * Self.recordOverhead)
            let written = encrypt(pending, ssl: ssl)
            pending.removeAll(keepingCapacity: true)
            pendingBytes = 0
            guard written else {
                let error = TLSError.drain("TLS write failed")
                promise?.fail(error)
                fail(context: context, error)
                return
            }
        }
        flushCiphertext(context: context, promise: promise)
    }

    /// Encrypts `buffers` in full records: whole records straight from each buffer, the rest
    /// gathered in a record-sized scratch area with what follows. Returns false if OpenSSL
    /// failed.
    private func encrypt(_ buffers: [ByteBuffer], ssl: OpaquePointer) -> Bool {
        let recordSize = Self.recordSize
        return withUnsafeTemporaryAllocation(byteCount: recordSize, alignment: 16) { scratch in
            var gathered = 0
            for index in buffers.indices {
                let last = index == buffers.count - 1
                let ok = buffers[index].withUnsafeReadableBytes { bytes -> Bool in
                    var offset = 0
                    while offset < bytes.count {
                        let rest = bytes.count - offset
                        if gathered == 0 && (last || rest >= recordSize) {
                            // Nothing gathered: full records (or all of the last buffer) from here.
                            let count = last ? rest : rest - rest % recordSize
                            guard sslWrite(ssl, bytes.baseAddress! + offset, count) else { return false }
                            offset += count
                            continue
                        }
                        let count = min(recordSize - gathered, rest)
                        (scratch.baseAddress! + gathered).copyMemory(from: bytes.baseAddress! + offset, byteCount: count)
                        gathered += count
                        offset += count
                        if gathered == recordSize {
                            guard sslWrite(ssl, scratch.baseAddress!, gathered) else { return false }
                            gathered = 0
                        }
                    }
                    return true
                }
                guard ok else { return false }
            }
            return gathered == 0 || sslWrite(ssl, scratch.baseAddress!, gathered)
        }
    }

    /// Moves whatever OpenSSL produced into the socket.
    private func flushCiphertext(context: ChannelHandlerContext, promise: EventLoopPromise<Void>? = nil) {
        guard let ciphertext = bio?.takeOutbound() else {
            promise?.succeed()
            return
        }
        context.write(wrapOutboundOut(ciphertext), promise: promise)
        context.flush()
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if state.writes, let ssl, mode != .input {
            if pendingBytes > 0 || pendingPromise != nil { encryptPending(context: context) }
            if state.writes {  // encrypting may have failed and closed
                ERR_clear_error()
                _ = SSL_shutdown(ssl)  // queue our close_notify
                flushCiphertext(context: context)
                if mode == .output { becomeOutputClosed() } else { becomeClosed() }
            }
        } else if mode == .all {
            becomeClosed()
        }
        if case .closed = state { failPending(ChannelError.ioOnClosedChannel) }
        context.close(mode: mode, promise: promise)
    }

    private func fail(context: ChannelHandlerContext, _ error: TLSError) {
        guard state != .closed else { return }
        becomeClosed()
        failPending(error)
        flushCiphertext(context: context)  // an alert, if OpenSSL produced one
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }
}

/// `SSL_write` until all `count` bytes are taken (the BIO never pushes back, so this loops only
/// if partial writes were enabled). False if OpenSSL failed.
private func sslWrite(_ ssl: OpaquePointer, _ bytes: UnsafeRawPointer, _ count: Int) -> Bool {
    var offset = 0
    while offset < count {
        ERR_clear_error()
        let written = SSL_write(ssl, bytes + offset, Int32(clamping: count - offset))
        guard written > 0 else { return false }
        offset += Int(written)
    }
    return true
}
