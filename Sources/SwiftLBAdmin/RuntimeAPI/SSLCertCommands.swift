import SwiftLBTLS

/// What the `ssl cert` and `crt-list` commands need of the running process: its certificate
/// store, who uses a certificate, rebuilding the TLS contexts that use one, and its crt-lists.
/// The proxy's runtime implements it (`CertificateRuntime`).
public protocol CertificateControl: Sendable {
    var store: CertificateStore { get }
    /// Whether a bind, a crt-list line or a server uses `path` (`Status: Used`, `del` refused).
    func isUsed(_ path: String) -> Bool
    /// Rebuilds every context using `path` from the store; how many (one `.` each).
    func apply(path: String) throws -> Int
    var crtListFiles: [String] { get }
    func crtListLines(_ file: String) -> [CrtListLine]?
    /// The certificate's path and how many binds took the line.
    func addCrtListLine(file: String, text: String) throws(RuntimeAPIError) -> (path: String, binds: Int)
    func deleteCrtListEntry(file: String, path: String, line: Int?) throws(RuntimeAPIError)
}

/// Implemented by `RuntimeAPIActions` that have certificates (the running instance).
public protocol SSLCertificateActions: Sendable {
    func certificateControl() async -> (any CertificateControl)?
}

/// One crt-list line as `show ssl crt-list` prints it.
public struct CrtListLine: Sendable, Equatable {
    public let path: String
    public let line: Int
    public let options: [String]
    public let filters: [String]
    public init(path: String, line: Int, options: [String], filters: [String]) {
        self.path = path
        self.line = line
        self.options = options
        self.filters = filters
    }

    /// `PATH[:LINE] [OPTIONS] FILTERS` (HAProxy prints the line number with `-n`).
    public func text(numbered: Bool) -> String {
        var out = path + (numbered ? ":\(line)" : "")
        if !options.isEmpty { out += " [" + options.joined(separator: " ") + "]" }
        for filter in filters { out += " " + filter }
        return out
    }
}

/// HAProxy 2.6's certificate commands of the stats socket (management.txt): `show|new|set|
/// commit|abort|del ssl cert` and `show|add|del ssl crt-list`, with its answers word for word.
extension RuntimeAPI {
    private func control() async -> (any CertificateControl)? {
        await (actions as? any SSLCertificateActions)?.certificateControl()
    }

    static let noCertificates = "No certificate in this process.\n"

    /// The first words of this file's refusals (`swiftlb ctl` exits 1 on them).
    static let sslCertFailurePrefixes = [
        "Can't ", "unable to load", "No ongoing transaction", "The ongoing transaction", "The transaction must", "inconsistencies",
        "Operations on certificates", "didn't find", "Certificate ID does not match", "OCSP", "Error reading OCSP", "'set ssl", "'add ssl",
        "'del ssl", "'new ssl", "'commit ssl", "'abort ssl", "No certificate in this process", "Payload too long",
    ]

    func showSSLCert(_ args: [String]) async -> String {
        guard let control = await control() else { return Self.noCertificates }
        let store = control.store
        guard let name = args.first else {
            var out = ""
            if let open = store.transaction.path { out += "# transaction\n*\(open)\n" }
            out += "# filename\n"
            for path in store.paths { out += path + "\n" }
            return out
        }
        let notFound = "Can't display the certificate: Not found or the certificate is a bundle!\n"
        if name.hasSuffix(".ocsp") {
            let path = String(name.dropLast(5))
            if path.hasPrefix("*") {
                guard let der = store.transaction.candidate(for: String(path.dropFirst()))?.ocsp else { return notFound }
                return OCSPResponse.text(of: der)
            }
            if let der = store.ocspResponse(forCertificate: path) { return OCSPResponse.text(of: der) }
            if store.entry(path) != nil { return "" }
        }
        if name.hasPrefix("*") {
            let path = String(name.dropFirst())
            guard let candidate = store.transaction.candidate(for: path) else { return notFound }
            var out = "Filename: *\(path)\nStatus: \(control.isUsed(path) ? "Used" : "Unused")\n"
            out += candidate.certificates.flatMap { TLSCertificate.detailLines(certificates: $0) } ?? ""
            return out
        }
        guard let entry = store.entry(name) else { return notFound }
        guard let certificate = entry.certificate else { return "Filename: \(name)\nStatus: Empty\n" }
        var out = "Filename: \(name)\nStatus: \(control.isUsed(name) ? "Used" : "Unused")\n" + certificate.detailLines
        if let key = entry.parts.ocsp.flatMap({ try? OCSPResponse.key(of: $0) }) { out += "OCSP Response Key: \(key)\n" }
        return out
    }

    /// `show ssl ocsp-response [KEY]`: the responses in memory, or one in OpenSSL's words.
    func showOCSPResponse(_ args: [String]) async -> String {
        guard let control = await control() else { return Self.noCertificates }
        let responses = control.store.ocspResponses
        guard let key = args.first else {
            return responses.map { "Certificate ID key : \($0.key)\n" + OCSPResponse.describe(key: $0.key) }.joined()
        }
        guard key.count <= 256 else { return "'show ssl ocsp-response' received a too big key.\n" }
        guard let der = responses.first(where: { $0.key == key.lowercased() })?.der else { return "Certificate ID does not match any certificate.\n" }
        return OCSPResponse.text(of: der)
    }

    /// `set ssl ocsp-response <base64>` (or a payload): replaces the response with its certificate ID.
    func setOCSPResponse(_ args: [String]) async -> String {
        guard let text = args.first, !text.isEmpty else { return "'set ssl ocsp-response' expects response in base64 encoding.\n" }
        guard let der = OCSPResponse.base64(text) else { return "'set ssl ocsp-response' received invalid base64 encoded response.\n" }
        guard let control = await control() else { return Self.noCertificates }
        do throws(CertificateCommandError) {
            try control.store.setOCSPResponse(der)
            return "OCSP Response updated!\n"
        } catch {
            return error.message + ".\n"
        }
    }

    func newSSLCert(_ args: [String]) async -> String {
        await onStore(args, usage: "'new ssl cert' expects a filename\n") { control, path throws(CertificateCommandError) in
            try control.store.new(path: path)
            return "New empty certificate store '\(path)'!\n"
        }
    }

    /// The shape of `new`, `abort` and `del ssl cert PATH`: one path, one store call, its
    /// answer or HAProxy's refusal (`refusal` wraps the message).
    private func onStore(_ args: [String], usage: String, refusal: (String) -> String = { $0 + "\n" },
                         _ body: (any CertificateControl, String) throws(CertificateCommandError) -> String) async -> String {
        guard let path = args.first else { return usage }
        guard let control = await control() else { return Self.noCertificates }
        do throws(CertificateCommandError) {
            return try body(control, path)
        } catch {
            return refusal(error.message)
        }
    }

    func setSSLCert(_ args: [String]) async -> String {
        guard args.count == 2 else { return "'set ssl cert expects a filename and a certificate as a payload\n" }
        guard let control = await control() else { return Self.noCertificates }
        do throws(CertificateCommandError) {
            let (path, staged) = try control.store.set(name: args[0], payload: args[1])
            logger.notice("control socket: set ssl cert \(path)")
            return staged == .created ? "Transaction created for certificate \(path)!\n" : "Transaction updated for certificate \(path)!\n"
        } catch {
            return error.message + "\nCan't update \(args[0])!\n"
        }
    }

    func commitSSLCert(_ args: [String]) async -> String {
        guard let path = args.first else { return "'commit ssl cert expects a filename\n" }
        guard let control = await control() else { return Self.noCertificates }
        do throws(CertificateCommandError) {
            let count = try control.store.commit(path: path) { _ in try control.apply(path: path) }
            logger.notice("control socket: committed ssl cert \(path) to \(count) users")
            return "Committing \(path)" + String(repeating: ".", count: count) + "\nSuccess!\n"
        } catch {
            return error.message + "\nCan't commit \(path)!\n"
        }
    }

    func abortSSLCert(_ args: [String]) async -> String {
        await onStore(args, usage: "'abort ssl cert' expects a filename\n") { control, path throws(CertificateCommandError) in
            try control.store.abort(path: path)
            return "Transaction aborted for certificate '\(path)'!\n"
        }
    }

    func delSSLCert(_ args: [String]) async -> String {
        await onStore(args, usage: "'del ssl cert' expects a certificate name\n", refusal: { "Can't remove the certificate: \($0)\n" }) { control, path throws(CertificateCommandError) in
            try control.store.delete(path: path, inUse: control.isUsed(path))
            return "Certificate '\(path)' deleted!\n"
        }
    }

    func showCrtList(_ args: [String]) async -> String {
        guard let control = await control() else { return Self.noCertificates }
        let numbered = args.first == "-n"
        let rest = numbered ? Array(args.dropFirst()) : args
        if numbered && rest.isEmpty { return "'show ssl crt-list -n' expects a filename or a directory\n" }
        guard let given = rest.first else { return control.crtListFiles.map { $0 + "\n" }.joined() }
        let file = Self.trimmingSlashes(given)
        guard let lines = control.crtListLines(file) else { return "didn't find the specified filename\n" }
        return "# \(file)\n" + lines.map { $0.text(numbered: numbered) + "\n" }.joined()
    }

    func addCrtList(_ args: [String]) async -> String {
        guard args.count == 2 else { return "'add ssl crtlist' expects a filename and a certificate name\n" }
        guard let control = await control() else { return Self.noCertificates }
        let file = Self.trimmingSlashes(args[0])
        let text = args[1].hasSuffix("\n") ? String(args[1].dropLast()) : args[1]
        guard !text.contains("\n") else { return "Can't edit the crt-list: only one line of payload is supported!\n" }
        do throws(RuntimeAPIError) {
            let (path, binds) = try control.addCrtListLine(file: file, text: text)
            logger.notice("control socket: add ssl crt-list \(file) \(text)")
            return "Inserting certificate '\(path)' in crt-list '\(file)'" + String(repeating: ".", count: binds) + "\nSuccess!\n"
        } catch {
            return "Can't edit the crt-list: \(error.message)\n"
        }
    }

    func delCrtList(_ args: [String]) async -> String {
        guard args.count == 2 else { return "'del ssl crtlist' expects a filename and a certificate name\n" }
        guard let control = await control() else { return Self.noCertificates }
        let file = Self.trimmingSlashes(args[0])
        var path = args[1]
        var line: Int?
        if let colon = path.firstIndex(of: ":") {
            guard let n = Int(path[path.index(after: colon)...]) else { return "Can't delete the entry: wrong line number after colons in '\(path)'!\n" }
            line = n
            path = String(path[..<colon])
        }
        do throws(RuntimeAPIError) {
            try control.deleteCrtListEntry(file: file, path: path, line: line)
            logger.notice("control socket: del ssl crt-list \(file) \(args[1])")
            return "Entry '\(path)' deleted in crtlist '\(file)'!\n"
        } catch {
            return "Can't delete the entry: \(error.message)\n"
        }
    }

    static func trimmingSlashes(_ path: String) -> String {
        var path = Substring(path)
        while path.count > 1 && path.hasSuffix("/") { path = path.dropLast() }
        return String(path)
    }
}
