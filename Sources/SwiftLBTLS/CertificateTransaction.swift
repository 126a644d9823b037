/// The PEM text of one certificate store entry, as HAProxy's `ckch` holds it: the private
/// key and the certificates (leaf first, then its chain). Either may be missing while a
/// `set ssl cert` transaction is being built (a `.key` payload replaces the key alone).
public struct CertificateParts: Sendable, Equatable {
    public var key: [UInt8]?
    public var certificates: [UInt8]?
    /// The DER OCSP response (`PATH.ocsp`), shown and updated over the socket.
    public var ocsp: [UInt8]?
    public init(key: [UInt8]? = nil, certificates: [UInt8]? = nil) {
        self.key = key
        self.certificates = certificates
    }

    /// Both, as one PEM text (what `TLSCertificate(pem:path:)` reads).
    public var pem: [UInt8] { (key ?? []) + (certificates ?? []) }

    /// Splits PEM text into its key block (the first `… PRIVATE KEY`) and its certificate
    /// blocks, in order; other blocks (DH parameters…) are left out. Pure text work: whether
    /// the blocks decode is OpenSSL's to say.
    public static func split(_ pem: [UInt8]) -> CertificateParts {
        var parts = CertificateParts()
        var block: [UInt8] = []
        var kind: Substring?
        for line in pem.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            let text = String(decoding: line, as: UTF8.self).trimmingTrailingCR
            if kind == nil, text.hasPrefix("-----BEGIN "), text.hasSuffix("-----") {
                kind = text.dropFirst(11).dropLast(5)
                block = []
            }
            guard let current = kind else { continue }
            block += Array(text.utf8) + [UInt8(ascii: "\n")]
            if text == "-----END \(current)-----" {
                if current.hasSuffix("PRIVATE KEY") {
                    if parts.key == nil { parts.key = block }
                } else if current == "CERTIFICATE" || current == "TRUSTED CERTIFICATE" {
                    parts.certificates = (parts.certificates ?? []) + block
                }
                kind = nil
            }
        }
        return parts
    }
}

extension String {
    fileprivate var trimmingTrailingCR: String { hasSuffix("\r") ? String(dropLast()) : self }
}

/// A refused certificate command: HAProxy's text, without the final newline.
public struct CertificateCommandError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// HAProxy's one `set ssl cert` transaction (ckchs_transaction): at most one certificate is
/// being changed at a time; `set` opens it (or updates it), `commit` hands its parts over
/// once and closes it, `abort` drops it. Pure: the store checks the PEM and applies the
/// commit; this only keeps which path is open and the candidate parts, with HAProxy's
/// refusals for a transaction on another path or none.
public struct CertificateTransaction: Sendable, Equatable {
    private enum State: Sendable, Equatable {
        case idle
        case open(path: String, candidate: CertificateParts)
    }
    private var state = State.idle

    public init() {}

    /// The path of the open transaction, nil when none.
    public var path: String? {
        if case .open(let path, _) = state { return path }
        return nil
    }

    /// The candidate parts of the open transaction on `path` (`show ssl cert *PATH`).
    public func candidate(for path: String) -> CertificateParts? {
        if case .open(path, let candidate) = state { return candidate }
        return nil
    }

    public enum Staged: Sendable, Equatable { case created, updated }

    /// What a `set ssl cert PATH` starts from: the open transaction's candidate when it is
    /// about PATH, nil when none is open (start from the stored entry); another path open is
    /// HAProxy's refusal.
    public func base(for path: String) throws(CertificateCommandError) -> CertificateParts? {
        switch state {
        case .idle: return nil
        case .open(path, let candidate): return candidate
        case .open(let other, _):
            throw CertificateCommandError("The ongoing transaction is about '\(other)' but you are trying to set '\(path)'")
        }
    }

    /// `set ssl cert`: opens the transaction on `path`, or replaces its candidate.
    public mutating func stage(path: String, parts: CertificateParts) -> Staged {
        switch state {
        case .idle:
            state = .open(path: path, candidate: parts)
            return .created
        case .open(path, _):
            state = .open(path: path, candidate: parts)
            return .updated
        case .open:
            preconditionFailure("stage(\(path)) while \(state): base(for:) refuses another path first")
        }
    }

    /// `commit ssl cert PATH`: the candidate to apply (the transaction stays open until
    /// `committed()`, so a candidate that fails to apply can be fixed or aborted).
    public func commitCandidate(path: String) throws(CertificateCommandError) -> CertificateParts {
        switch state {
        case .idle: throw CertificateCommandError("No ongoing transaction! !")
        case .open(path, let candidate):
            guard candidate.key != nil, candidate.certificates != nil else {
                throw CertificateCommandError("The transaction must contain at least a certificate and a private key!")
            }
            return candidate
        case .open(let other, _):
            throw CertificateCommandError("The ongoing transaction is about '\(other)' but you are trying to set '\(path)'")
        }
    }

    /// The candidate is in force: the transaction is over.
    public mutating func committed() {
        guard case .open = state else { preconditionFailure("committed() while \(state)") }
        state = .idle
    }

    /// `abort ssl cert PATH`.
    public mutating func abort(path: String) throws(CertificateCommandError) {
        switch state {
        case .idle: throw CertificateCommandError("No ongoing transaction!")
        case .open(path, _): state = .idle
        case .open(let other, _):
            throw CertificateCommandError("The ongoing transaction is about '\(other)' but you are trying to abort a transaction for '\(path)'")
        }
    }
}
