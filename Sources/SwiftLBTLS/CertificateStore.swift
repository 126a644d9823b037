import NIOConcurrencyHelpers

/// The certificates of one runtime by path, as HAProxy's ckch store: every `crt` file of a
/// bind, a crt-list or a server is read once into it and built from it, and the stats
/// socket's `new/set/commit/abort/del ssl cert` change it. A commit swaps the entry and lets
/// the runtime rebuild the TLS contexts that use it (`commit`'s `apply`); the transaction
/// itself is `CertificateTransaction`.
///
/// Thread-safe (a lock around the table); one command changes it at a time (`busy`), as
/// HAProxy's "Operations on certificates are currently locked!".
public final class CertificateStore: @unchecked Sendable {
    /// One path's parts and, when they hold a matching key and certificate, the certificate
    /// built from them (nil for a `new ssl cert` entry not committed yet).
    public struct Entry: Sendable {
        public var parts: CertificateParts
        public var certificate: TLSCertificate?
    }

    private struct Table {
        var entries: [String: Entry] = [:]
        var transaction = CertificateTransaction()
        var busy = false
        /// OCSP responses by certificate ID (hex), HAProxy's cert_ocsp_tree.
        var ocsp: [String: [UInt8]] = [:]
    }
    private let table = NIOLockedValueBox(Table())
    /// `ssl-load-extra-del-ext`: `site.crt`'s key is in `site.key` (else `site.crt.key`).
    private let deleteExtension: Bool

    public init(deleteExtension: Bool = false) {
        self.deleteExtension = deleteExtension
    }

    /// Where HAProxy looks for the key of a `crt` file that has none (ssl-load-extra-files'
    /// `key`): `PATH.key`, or with `ssl-load-extra-del-ext` the path without its extension.
    public func keyPath(for path: String) -> String {
        guard deleteExtension, let dot = path.lastIndex(of: "."), !path[dot...].contains("/") else { return path + ".key" }
        return path[..<dot] + ".key"
    }

    /// The certificate at `path`, read from the file the first time (later, the committed one).
    public func certificate(path: String) throws -> TLSCertificate {
        if let entry = table.withLockedValue({ $0.entries[path] }) {
            guard let certificate = entry.certificate else { throw TLSError("certificate '\(path)' is empty") }
            return certificate
        }
        var parts = CertificateParts.split(try TLSCertificate.readFile(path))
        if parts.key == nil, let key = try? TLSCertificate.readFile(keyPath(for: path)) {
            parts.key = CertificateParts.split(key).key
        }
        let certificate = try TLSCertificate(pem: parts.pem, path: path)
        var ocspKey: String?
        // A `.ocsp` file HAProxy would refuse is left out (SwiftLB does not staple it).
        if let ocsp = try? TLSCertificate.readFile(path + ".ocsp"), let key = try? OCSPResponse.key(of: ocsp) {
            ocspKey = key
            parts.ocsp = ocsp
        }
        let entry = Entry(parts: parts, certificate: certificate)
        return table.withLockedValue { t in
            if let existing = t.entries[path]?.certificate { return existing }
            t.entries[path] = entry
            if let ocspKey, let ocsp = parts.ocsp { t.ocsp[ocspKey] = ocsp }
            return certificate
        }
    }

    public var paths: [String] { table.withLockedValue { $0.entries.keys.sorted() } }
    public func entry(_ path: String) -> Entry? { table.withLockedValue { $0.entries[path] } }
    public var transaction: CertificateTransaction { table.withLockedValue { $0.transaction } }

    /// `new ssl cert PATH`: an empty entry (to fill with `set` and `commit`, then use in a crt-list).
    public func new(path: String) throws(CertificateCommandError) {
        try locked { t throws(CertificateCommandError) in
            guard t.entries[path] == nil else { throw CertificateCommandError("Certificate '\(path)' already exists!") }
            t.entries[path] = Entry(parts: CertificateParts(), certificate: nil)
        }
    }

    /// `set ssl cert NAME <payload>`: NAME is a stored path (a PEM payload replaces the key and
    /// the certificates, as HAProxy's, a key it lacks included), or that path with `.key` (the
    /// payload replaces the key only).
    public func set(name: String, payload: String) throws(CertificateCommandError) -> (path: String, staged: CertificateTransaction.Staged) {
        try locked { t throws(CertificateCommandError) in
            var path = name
            var keyOnly = false
            var ocspOnly = false
            if name.hasSuffix(".ocsp"), t.transaction.path == String(name.dropLast(5)) || (t.transaction.path == nil && t.entries[String(name.dropLast(5))] != nil) {
                path = String(name.dropLast(5))
                ocspOnly = true
            }
            if name.hasSuffix(".key") {
                // `PATH.key` (or, with ssl-load-extra-del-ext, `BASE.key` for `BASE.crt`).
                let base = String(name.dropLast(4))
                for candidate in [base] + (deleteExtension ? [base + ".crt", base + ".pem"] : [])
                where t.transaction.path == candidate || (t.transaction.path == nil && t.entries[candidate] != nil) {
                    path = candidate
                    keyOnly = true
                    break
                }
            }
            let base: CertificateParts
            if let open = try t.transaction.base(for: path) {
                base = open
            } else if let stored = t.entries[path] {
                base = stored.parts
            } else {
                throw CertificateCommandError("Can't replace a certificate which is not referenced by the configuration!")
            }
            let given = CertificateParts.split(Array(payload.utf8))
            var parts = base
            if ocspOnly {
                guard let der = OCSPResponse.base64(payload) else {
                    throw CertificateCommandError("Error reading OCSP response in base64 format\nCan't load the payload")
                }
                parts.ocsp = der
            } else if keyOnly {
                guard let key = given.key, TLSCertificate.decodes(key: key) else {
                    throw CertificateCommandError("unable to load private key from file '\(path)'.\nCan't load the payload")
                }
                parts.key = key
            } else {
                guard let certificates = given.certificates, TLSCertificate.decodes(certificates: certificates) else {
                    throw CertificateCommandError("unable to load certificate from file '\(path)'.\nCan't load the payload")
                }
                parts.certificates = certificates
                parts.key = given.key.flatMap { TLSCertificate.decodes(key: $0) ? $0 : nil }
            }
            return (path, t.transaction.stage(path: path, parts: parts))
        }
    }

    /// `commit ssl cert PATH`: builds the candidate, puts it in the table and calls `apply`
    /// (the runtime rebuilds every context that uses PATH and returns how many); if `apply`
    /// fails, the old entry is back and the transaction stays open.
    public func commit(path: String, apply: (TLSCertificate) throws -> Int) throws(CertificateCommandError) -> Int {
        let (parts, old) = try locked { t throws(CertificateCommandError) in
            let candidate = try t.transaction.commitCandidate(path: path)
            t.busy = true  // only once nothing can throw before the `defer` below
            return (candidate, t.entries[path])
        }
        defer { table.withLockedValue { $0.busy = false } }
        let certificate: TLSCertificate
        do {
            certificate = try TLSCertificate(pem: parts.pem, path: path)
        } catch {
            throw CertificateCommandError("inconsistencies between private key and certificate loaded '\(path)'.")
        }
        let ocspKey = parts.ocsp.flatMap { try? OCSPResponse.key(of: $0) }
        table.withLockedValue { $0.entries[path] = Entry(parts: parts, certificate: certificate) }
        do {
            let count = try apply(certificate)
            table.withLockedValue { t in
                t.transaction.committed()
                if let ocspKey, let ocsp = parts.ocsp { t.ocsp[ocspKey] = ocsp }
            }
            return count
        } catch {
            table.withLockedValue { $0.entries[path] = old }
            throw CertificateCommandError("\(error)")
        }
    }

    /// `abort ssl cert PATH`.
    public func abort(path: String) throws(CertificateCommandError) {
        try locked { t throws(CertificateCommandError) in try t.transaction.abort(path: path) }
    }

    /// `del ssl cert PATH`, refused while a bind, crt-list or server uses it (`inUse`).
    public func delete(path: String, inUse: Bool) throws(CertificateCommandError) {
        try locked { t throws(CertificateCommandError) in
            if t.transaction.path == path { throw CertificateCommandError("ongoing transaction for the certificate '\(path)'") }
            // HAProxy's own texts end in a newline before its "Can't remove" wrapper adds one.
            guard t.entries[path] != nil else { throw CertificateCommandError("certificate '\(path)' doesn't exist!\n") }
            guard !inUse else { throw CertificateCommandError("certificate '\(path)' in use, can't be deleted!\n") }
            t.entries[path] = nil
        }
    }

    // MARK: OCSP responses

    /// The responses in memory, by key.
    public var ocspResponses: [(key: String, der: [UInt8])] {
        table.withLockedValue { $0.ocsp.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
    }

    /// The response in memory for `path`'s certificate (keyed by the ID of its own `.ocsp`).
    public func ocspResponse(forCertificate path: String) -> [UInt8]? {
        table.withLockedValue { t in
            guard let own = t.entries[path]?.parts.ocsp, let key = try? OCSPResponse.key(of: own) else { return nil }
            return t.ocsp[key]
        }
    }

    /// `set ssl ocsp-response`: replaces the response with the same certificate ID.
    public func setOCSPResponse(_ der: [UInt8]) throws(CertificateCommandError) {
        let key = try OCSPResponse.key(of: der)
        try locked { t throws(CertificateCommandError) in
            guard t.ocsp[key] != nil else { throw CertificateCommandError("OCSP single response: Certificate ID does not match any certificate or issuer") }
            t.ocsp[key] = der
        }
    }

    /// Runs `body` on the table unless a commit is under way.
    private func locked<T>(_ body: (inout Table) throws(CertificateCommandError) -> T) throws(CertificateCommandError) -> T {
        let result: Result<T, CertificateCommandError> = table.withLockedValue { t in
            guard !t.busy else { return .failure(CertificateCommandError("Operations on certificates are currently locked!")) }
            do throws(CertificateCommandError) { return .success(try body(&t)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}
