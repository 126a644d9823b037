import CLibSSL
import NIOCore

/// Fired once the handshake is done: what was negotiated.
public struct TLSHandshakeCompleted: Sendable {
    public let alpn: String?
    public let serverName: String?
    public let version: String
    public let resumed: Bool
}

/// Speaks TLS on a channel with OpenSSL over two memory BIOs (server side for `bind … ssl`,
/// client side for servers with `ssl` and for tests): ciphertext from the
/// socket goes into the read BIO, plaintext comes out of `SSL_read`; plaintext written by the
/// HTTP handlers is collected until `flush`, encrypted in one `SSL_write` per 16 KiB (so a
/// response head and body share records), and the write BIO's ciphertext goes to the socket.
///
/// States: handshaking → active → closed. Every OpenSSL call is preceded by
/// `ERR_clear_error()`; failures become `TLSError`s naming OpenSSL's reason and close the
/// connection (a plain-HTTP client on the TLS port, garbage, a truncated handshake).
public final class TLSHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private enum State { case handshaking, active, closed }

    private enum Role { case server(TLSServerContext), client(TLSClientContext, serverName: String?) }
    private let role: Role
    private var ssl: OpaquePointer?
    private var readBIO: OpaquePointer?
    private var writeBIO: OpaquePointer?
    private var state: State = .handshaking
    private var context: ChannelHandlerContext?
    /// Plaintext waiting for `flush` (or for the handshake to finish), with its promises.
    private var outbound: ByteBuffer?
    private var outboundPromise: EventLoopPromise<Void>?
    private var flushPending = false
    /// What the client asked for with SNI, after the handshake.
    public private(set) var serverName: String?

    /// The server side of a TLS listener.
    public init(server: TLSServerContext) { self.role = .server(server) }
    /// The client side, asking for `serverName` with SNI.
    public init(client: TLSClientContext, serverName: String?) { self.role = .client(client, serverName: serverName) }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        ERR_clear_error()
        let made: OpaquePointer?
        switch role {
        case .server(let tls): made = tls.makeSSL()
        case .client(let tls, let name): made = tls.makeSSL(serverName: name)
        }
        guard let ssl = made, let r = BIO_new(BIO_s_mem()), let w = BIO_new(BIO_s_mem()) else {
            context.fireErrorCaught(TLSError.drain("cannot create an SSL object"))
            context.close(promise: nil)
            return
        }
        SSL_set_bio(ssl, r, w)  // the SSL object owns both BIOs from now on
        if case .server = role { SSL_set_accept_state(ssl) } else { SSL_set_connect_state(ssl) }
        self.ssl = ssl
        self.readBIO = r
        self.writeBIO = w
        if context.channel.isActive, case .client = role { handshake(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        if case .client = role { handshake(context: context) }  // the client speaks first
        context.fireChannelActive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        free()
        outboundPromise?.fail(ChannelError.ioOnClosedChannel)
        outboundPromise = nil
        self.context = nil
    }

    private func free() {
        if let ssl { SSL_free(ssl) }
        ssl = nil
        readBIO = nil
        writeBIO = nil
        state = .closed
    }

    // MARK: inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard state != .closed, let readBIO else { return }
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { bytes in
            _ = BIO_write(readBIO, bytes.baseAddress, Int32(bytes.count))
        }
        if state == .handshaking { handshake(context: context) }
        if state == .active { readPlaintext(context: context) }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        flushCiphertext(context: context)
        context.fireChannelReadComplete()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        free()
        context.fireChannelInactive()
    }

    private func handshake(context: ChannelHandlerContext) {
        guard let ssl else { return }
        ERR_clear_error()
        let rc = SSL_do_handshake(ssl)
        if rc == 1 {
            state = .active
            serverName = swiftlb_SSL_get_servername(ssl).map { String(cString: $0) }
            var alpnData: UnsafePointer<UInt8>?
            var alpnLength: UInt32 = 0
            SSL_get0_alpn_selected(ssl, &alpnData, &alpnLength)
            let alpn = alpnData.map { String(decoding: UnsafeBufferPointer(start: $0, count: Int(alpnLength)), as: UTF8.self) }
            let version = String(cString: SSL_get_version(ssl))
            flushCiphertext(context: context)
            context.fireUserInboundEventTriggered(TLSHandshakeCompleted(alpn: alpn, serverName: serverName, version: version,
                                                                        resumed: swiftlb_SSL_session_reused(ssl) == 1))
            if outbound != nil && flushPending { encryptAndWrite(context: context) }
            return
        }
        switch SSL_get_error(ssl, rc) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            flushCiphertext(context: context)  // ServerHello and friends
        default:
            fail(context: context, TLSError.drain("TLS handshake failed"))
        }
    }

    private func readPlaintext(context: ChannelHandlerContext) {
        guard let ssl else { return }
        while state == .active {
            var buffer = context.channel.allocator.buffer(capacity: 16384)
            ERR_clear_error()
            let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 16384) { out in
                Int(max(SSL_read(ssl, out.baseAddress, Int32(out.count)), 0))
            }
            if n > 0 {
                context.fireChannelRead(wrapInboundOut(buffer))
                continue
            }
            let rc = SSL_get_error(ssl, 0)
            switch rc {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                return
            case SSL_ERROR_ZERO_RETURN:
                // close_notify from the client: answer it and close.
                close(context: context, mode: .all, promise: nil)
                return
            default:
                fail(context: context, TLSError.drain("TLS read failed"))
                return
            }
        }
    }

    // MARK: outbound

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard state != .closed else { promise?.fail(ChannelError.ioOnClosedChannel); return }
        var plain = unwrapOutboundIn(data)
        if outbound == nil {
            outbound = plain
        } else {
            outbound!.writeBuffer(&plain)
        }
        if let promise {
            if let existing = outboundPromise { existing.futureResult.cascade(to: promise) } else { outboundPromise = promise }
        }
    }

    public func flush(context: ChannelHandlerContext) {
        flushPending = true
        if state == .active { encryptAndWrite(context: context) }
    }

    /// Encrypts everything collected since the last flush and sends it.
    private func encryptAndWrite(context: ChannelHandlerContext) {
        flushPending = false
        guard let ssl, var plain = outbound else { context.flush(); return }
        outbound = nil
        let promise = outboundPromise
        outboundPromise = nil
        while plain.readableBytes > 0 {
            let chunk = min(plain.readableBytes, 16384)
            ERR_clear_error()
            let written = plain.withUnsafeReadableBytes { SSL_write(ssl, $0.baseAddress, Int32(chunk)) }
            guard written > 0 else {
                let error = TLSError.drain("TLS write failed")
                promise?.fail(error)
                fail(context: context, error)
                return
            }
            plain.moveReaderIndex(forwardBy: Int(written))
        }
        flushCiphertext(context: context, promise: promise)
    }

    /// Moves whatever OpenSSL produced into the socket.
    private func flushCiphertext(context: ChannelHandlerContext, promise: EventLoopPromise<Void>? = nil) {
        guard let writeBIO else { promise?.succeed(); return }
        let pending = swiftlb_BIO_pending(writeBIO)
        guard pending > 0 else {
            promise?.succeed()
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: Int(pending))
        _ = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: Int(pending)) { out in
            Int(max(BIO_read(writeBIO, out.baseAddress, Int32(pending)), 0))
        }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: promise)
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if state == .active, let ssl {
            if outbound != nil { encryptAndWrite(context: context) }
            ERR_clear_error()
            _ = SSL_shutdown(ssl)  // queue our close_notify
            flushCiphertext(context: context)
            state = .closed
        }
        context.close(mode: mode, promise: promise)
    }

    private func fail(context: ChannelHandlerContext, _ error: TLSError) {
        guard state != .closed else { return }
        state = .closed
        flushCiphertext(context: context)  // an alert, if OpenSSL produced one
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }
}
