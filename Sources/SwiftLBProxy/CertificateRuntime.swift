import NIOConcurrencyHelpers
import SwiftLBAdmin
import SwiftLBConfig
import SwiftLBTLS

/// The certificates a runtime serves and presents, for the stats socket's `ssl cert` and
/// `crt-list` commands: its `CertificateStore`, which bind and which server uses which file,
/// and the crt-lists as they are now (`add/del ssl crt-list` edit them). A change rebuilds the
/// TLS context of every bind (or server) concerned and swaps it in: new handshakes take it,
/// open connections keep the one they started with. A reload builds a new runtime, which
/// reads the files again (as HAProxy's new process does).
public final class CertificateRuntime: CertificateControl {
    public let store: CertificateStore
    private let configuration: Configuration

    private struct Bind {
        let frontend: String
        let line: Int
        let tls: BindTLS
        let box: TLSContextBox
        /// The crt-list files of the bind line, in order.
        var listFiles: [String] { tls.more.certificateList.map(\.file).uniqued() }
    }
    private struct Server {
        let name: String
        let path: String
        let context: TLSClientContext
    }
    /// One crt-list file now: its lines (those of the file, then the added ones, numbered on).
    private struct CrtList {
        var lines: [Line]
        var lineCount: Int
        struct Line {
            let entry: CertificateListEntry
            /// The text of a line added over the socket (parsed again for each bind using the list).
            let added: String?
        }
    }

    private let binds: [Bind]
    private let servers: [Server]
    private let lists: NIOLockedValueBox<[String: CrtList]>

    init(store: CertificateStore, configuration: Configuration, frontends: [RuntimeFrontend], backends: [RuntimeBackend]) {
        self.store = store
        self.configuration = configuration
        var binds: [Bind] = []
        var lists: [String: CrtList] = [:]
        for frontend in frontends {
            for (bind, box) in frontend.binds {
                guard let box, let tls = bind.tls else { continue }
                binds.append(Bind(frontend: frontend.name, line: bind.line, tls: tls, box: box))
                for entry in tls.more.certificateList where lists[entry.file]?.lines.contains(where: { $0.entry.line == entry.line }) != true {
                    lists[entry.file, default: CrtList(lines: [], lineCount: 0)].lines.append(.init(entry: entry, added: nil))
                    lists[entry.file]!.lineCount = max(lists[entry.file]!.lineCount, entry.line)
                }
            }
        }
        self.binds = binds
        self.servers = backends.flatMap { backend in
            backend.servers.compactMap { server in
                guard let context = server.tls, let path = server.parameters.tls?.more.certificate else { return nil }
                return Server(name: "\(backend.name)/\(server.name)", path: path, context: context)
            }
        }
        self.lists = NIOLockedValueBox(lists)
    }

    // MARK: who uses a certificate

    public func isUsed(_ path: String) -> Bool {
        let lists = self.lists.withLockedValue { $0 }
        return servers.contains { $0.path == path } || binds.contains { uses($0, path, lists) }
    }

    private func uses(_ bind: Bind, _ path: String, _ lists: [String: CrtList]) -> Bool {
        bind.tls.certificates.contains { crt in
            // the file, a file of the directory, or a member of the .rsa/.ecdsa/.dsa bundle
            crt == path || path.hasPrefix(crt.hasSuffix("/") ? crt : crt + "/") || [".rsa", ".ecdsa", ".dsa"].contains { crt + $0 == path }
        }
            || bind.listFiles.contains { lists[$0]?.lines.contains { $0.entry.path == path } == true }
    }

    /// `commit ssl cert PATH`: the store holds the new certificate; every bind and server
    /// using PATH gets a context built with it. All or nothing.
    public func apply(path: String) throws -> Int {
        let lists = self.lists.withLockedValue { $0 }
        var fresh: [(TLSContextBox, TLSServerContext)] = []
        for bind in binds where uses(bind, path, lists) {
            fresh.append((bind.box, try context(for: bind, lists)))
        }
        let users = servers.filter { $0.path == path }
        let certificate = try store.certificate(path: path)
        for (box, context) in fresh { box.replace(context) }
        for server in users { try server.context.replaceCertificate(certificate) }
        return fresh.count + users.count
    }

    /// The context of `bind` from its crt-lists as they are now.
    private func context(for bind: Bind, _ lists: [String: CrtList]) throws -> TLSServerContext {
        var entries: [CertificateListEntry] = []
        for file in bind.listFiles {
            for line in lists[file]?.lines ?? [] {
                if let text = line.added {
                    guard let entry = try bind.tls.runtimeCrtListEntry(text, file: file, lineNumber: line.entry.line, configuration: configuration) else { continue }
                    entries.append(entry)
                } else if let own = bind.tls.more.certificateList.first(where: { $0.file == file && $0.line == line.entry.line }) {
                    entries.append(own)
                }
            }
        }
        // A strict-sni bind keeps its default certificate when its line is deleted (HAProxy's
        // default_ctx); other binds refuse that deletion.
        let original = bind.tls.more.certificateList.first
        let keptDefault = bind.tls.certificates.isEmpty && original != nil && entries.first != original ? original : nil
        return try TLSPlan.serverContext(bind.tls, sessions: TLSSessions(configuration.global), store: store,
                                         crtLists: entries, defaultEntry: keptDefault).0
    }

    // MARK: crt-lists

    public var crtListFiles: [String] { lists.withLockedValue { $0.keys.sorted() } }

    public func crtListLines(_ file: String) -> [CrtListLine]? {
        lists.withLockedValue { lists in
            lists[file].map { list in
                list.lines.map { CrtListLine(path: $0.entry.path, line: $0.entry.line, options: $0.entry.options, filters: $0.entry.filters) }
            }
        }
    }

    /// `add ssl crt-list FILE LINE`: the line joins the list and every bind using it.
    public func addCrtListLine(file: String, text: String) throws(RuntimeAPIError) -> (path: String, binds: Int) {
        guard let number = lists.withLockedValue({ $0[file].map { $0.lineCount + 1 } }) else {
            throw RuntimeAPIError("crt-list '\(file)' does not exist!")
        }
        let users = binds.filter { $0.listFiles.contains(file) }
        var parsed: CertificateListEntry?
        do {
            for bind in users {
                parsed = try bind.tls.runtimeCrtListEntry(text, file: file, lineNumber: number, configuration: configuration)
            }
        } catch {
            throw RuntimeAPIError(error.message)
        }
        guard let entry = parsed else { throw RuntimeAPIError("'add ssl crtlist' should contain the certificate name in the payload") }
        guard let stored = store.entry(entry.path) else { throw RuntimeAPIError("certificate '\(entry.path)' does not exist!") }
        guard stored.certificate != nil else { throw RuntimeAPIError("certificate '\(entry.path)' is empty!") }
        for option in ["ca-file", "ca-verify-file", "crl-file"] {
            // HAProxy takes only CA and CRL files already in its tree here (loaded by the
            // configuration, or made with `new ssl ca-file|crl-file`): no disk access.
            if let index = entry.options.firstIndex(of: option), index + 1 < entry.options.count {
                let path = entry.options[index + 1]
                let loaded = CAFileStore.shared.isMadeOnCLI(path)
                    || binds.contains { [$0.tls.caFile, $0.tls.more.caVerifyFile, $0.tls.more.crlFile].contains(path) }
                if !loaded { throw RuntimeAPIError("'\(option)' : unable to load \(path)") }
            }
        }
        try edit(file) { list in
            list.lines.append(.init(entry: entry, added: text))
            list.lineCount = number
        }
        return (entry.path, users.count)
    }

    /// `del ssl crt-list FILE CERT[:LINE]`, with HAProxy's refusals.
    public func deleteCrtListEntry(file: String, path: String, line: Int?) throws(RuntimeAPIError) {
        guard let list = lists.withLockedValue({ $0[file] }) else { throw RuntimeAPIError("crt-list '\(file)' does not exist!") }
        guard let stored = store.entry(path) else { throw RuntimeAPIError("certificate '\(path)' does not exist!") }
        guard stored.certificate != nil else { throw RuntimeAPIError("certificate '\(path)' is empty!") }
        let matching = list.lines.filter { $0.entry.path == path }
        guard !matching.isEmpty else { throw RuntimeAPIError("certificate '\(path)' can't be found in crt-list '\(file)'!") }
        let numbers = matching.map { String($0.entry.line) }.joined(separator: ", ")
        let target: Int
        if let line {
            guard matching.contains(where: { $0.entry.line == line }) else {
                throw RuntimeAPIError("found a certificate '\(path)' but the line number is incorrect, please specify a correct line number preceded by colons (\(numbers))!")
            }
            target = line
        } else {
            guard matching.count == 1 else {
                throw RuntimeAPIError("found the certificate '\(path)' in several entries, please specify a line number preceded by colons (\(numbers))!")
            }
            target = matching[0].entry.line
        }
        // The first certificate of a bind is its default; HAProxy refuses to delete it unless strict-sni.
        let defaults = binds.filter { bind in
            !bind.tls.more.strictSNI && bind.tls.certificates.isEmpty
                && bind.tls.more.certificateList.first.map { $0.file == file && $0.line == target } == true
        }
        if !defaults.isEmpty {
            var message = "certificate '\(path)' cannot be deleted, it is used as default certificate by the following frontends:\n"
            for bind in defaults { message += "\t- \(configuration.file):\(bind.line)\n" }
            throw RuntimeAPIError(String(message.dropLast()))
        }
        try edit(file) { list in list.lines.removeAll { $0.entry.line == target } }
    }

    /// Changes one list and rebuilds the binds using it; nothing changes if one fails.
    private func edit(_ file: String, _ change: (inout CrtList) -> Void) throws(RuntimeAPIError) {
        var lists = self.lists.withLockedValue { $0 }
        change(&lists[file]!)
        var fresh: [(TLSContextBox, TLSServerContext)] = []
        do {
            for bind in binds where bind.listFiles.contains(file) { fresh.append((bind.box, try context(for: bind, lists))) }
        } catch {
            throw RuntimeAPIError("\(error)")
        }
        self.lists.withLockedValue { $0 = lists }
        for (box, context) in fresh { box.replace(context) }
    }
}

extension Array where Element: Hashable {
    fileprivate func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
