import CLibSSL
import CSwiftLBTLSShim
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// HAProxy's cafile tree: every CA file (`ca-file`, `ca-verify-file`) and CRL file (`crl-file`)
/// the TLS contexts use, by name, in memory, so the stats socket's `new/set/commit/abort/del ssl
/// ca-file|crl-file` can change them at run time. A commit gives every bind and server using the
/// name a new verification store: new handshakes verify against it, open connections are
/// untouched (HAProxy rebuilds its SSL_CTXs; SwiftLB swaps the store inside them).
///
/// One transaction per kind at a time, as HAProxy's: `set` stages new contents (shown as
/// `*NAME`), `commit` puts them in force, `abort` drops them. A file read from lb.conf is read
/// again from disk whenever a configuration is built (a reload, like a new HAProxy process, does
/// not keep what the CLI changed); a file made by `new ssl ca-file` lives until `del`.
public final class CAFileStore: Sendable {
    public static let shared = CAFileStore()

    public enum Kind: Sendable, Equatable {
        case ca, crl
        /// "CA" / "CRL", as HAProxy's messages spell it.
        public var label: String { self == .ca ? "CA" : "CRL" }
    }

    /// A refused request: HAProxy's text, with its newline(s).
    public struct Refusal: Error, Sendable, Equatable {
        public let message: String
        init(_ message: String) { self.message = message }
    }

    /// The contents of one file: an X509_STORE of its certificates or CRLs, in the store's own
    /// order, which `NAME:index` counts in (HAProxy shows the same order).
    final class Contents: @unchecked Sendable {
        let store: OpaquePointer  // X509_STORE*, never changed once built
        private init(_ store: OpaquePointer) { self.store = store }
        deinit { X509_STORE_free(store) }

        static func pem(_ text: String) -> Contents? {
            guard let store = X509_STORE_new() else { return nil }
            let count = text.withCString { swiftlb_store_load_pem(store, $0, Int32(strlen($0))) }
            guard count > 0 else { X509_STORE_free(store); return nil }
            return Contents(store)
        }

        static func file(_ path: String) -> Contents? {
            guard let store = X509_STORE_new() else { return nil }
            guard swiftlb_store_load_file(store, path) > 0 else { X509_STORE_free(store); return nil }
            return Contents(store)
        }

        static func empty() -> Contents? { X509_STORE_new().map(Contents.init) }

        var count: Int { Int(swiftlb_store_count(store)) }

        /// `Certificate #N:` / `Certificate Revocation List #N:` blocks: all, or only the one
        /// at `index` (1-based).
        func details(_ kind: Kind, index: Int?) -> String {
            var out = ""
            for i in 0..<count {
                if let index, index - 1 != i { continue }
                let text: UnsafeMutablePointer<CChar>?
                switch kind {
                case .ca:
                    guard let cert = swiftlb_store_cert_at(store, Int32(i)) else { continue }
                    out += " \nCertificate #\(i + 1):\n"
                    text = swiftlb_cert_detail(cert)
                case .crl:
                    guard let crl = swiftlb_store_crl_at(store, Int32(i)) else { continue }
                    out += " \nCertificate Revocation List #\(i + 1):\n"
                    text = swiftlb_crl_detail(crl)
                }
                if let text { out += String(cString: text); free(text) }
            }
            return out
        }
    }

    private struct Entry {
        let kind: Kind
        var contents: Contents
        /// The configuration build that read it (or the one in force when the CLI changed it).
        var generation = 0
    }

    /// A kind's transaction (HAProxy's cafile_transaction / crlfile_transaction).
    private enum Transaction {
        case idle
        case staged(name: String, contents: Contents)

        var name: String? {
            if case .staged(let name, _) = self { return name }
            return nil
        }
    }

    /// A context that verifies against some of the files: told to rebuild its stores after a
    /// commit of one of them.
    final class WeakUser: @unchecked Sendable {
        weak var user: (any CAFileUser)?
        init(_ user: any CAFileUser) { self.user = user }
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var transactions: [Transaction] = [.idle, .idle]  // [ca, crl]
        var users: [String: [WeakUser]] = [:]
        /// The names made with `new ssl ca-file|crl-file` (not read from disk).
        var madeOnCLI: Set<String> = []
        /// Bumped by each configuration build: a build reads lb.conf's files from disk again
        /// (as HAProxy's new process does), while contexts rebuilt at run time (`commit ssl
        /// cert`, crt-list edits) take the contents in memory, committed ones included.
        var generation = 0

        func liveUsers(_ name: String) -> [any CAFileUser] { (users[name] ?? []).compactMap(\.user) }
        func slot(_ kind: Kind) -> Int { kind == .ca ? 0 : 1 }
    }

    private let state = Mutex(State())

    public init() {}

    // MARK: what the TLS contexts use

    /// The file `path` as lb.conf names it, read from disk now (or a file made on the CLI with
    /// that name). nil: unreadable or not PEM.
    func load(_ path: String, kind: Kind) -> Contents? {
        state.withLock { state -> Contents? in
            if let entry = state.entries[path], entry.kind == kind,
               state.madeOnCLI.contains(path) || entry.generation == state.generation { return entry.contents }
            guard let contents = Contents.file(path) else { return nil }
            state.entries[path] = Entry(kind: kind, contents: contents, generation: state.generation)
            return contents
        }
    }

    /// A configuration build begins: its contexts read lb.conf's CA and CRL files from disk.
    public func beginConfigurationBuild() {
        state.withLock { $0.generation += 1 }
    }

    /// Whether `name` was made with `new ssl ca-file|crl-file` (a `crt-list` line added on the
    /// CLI may name it: it is no file on disk).
    public func isMadeOnCLI(_ name: String) -> Bool { state.withLock { $0.madeOnCLI.contains(name) } }

    /// `user` verifies against `names`: a commit of one of them calls its `verifyFilesChanged`.
    func register(_ user: any CAFileUser, names: [String]) {
        state.withLock { state in
            for name in Set(names) {
                var list = state.users[name, default: []].filter { $0.user != nil }
                list.append(WeakUser(user))
                state.users[name] = list
            }
        }
    }

    /// `user` was replaced (a crt-list edit, a certificate commit): it no longer uses any file,
    /// so `del` may remove them, whatever connections still hold it (HAProxy counts instances).
    func unregister(_ user: any CAFileUser) {
        state.withLock { state in
            for name in Array(state.users.keys) {
                state.users[name]?.removeAll { $0.user == nil || $0.user === user }
            }
        }
    }

    /// A new X509_STORE holding what the named CA files and CRL file hold now; nil if one of
    /// them is unknown. The caller owns it.
    func verifyStore(caFiles: [String], crlFile: String?) -> OpaquePointer? {
        state.withLock { Self.verifyStore($0, caFiles: caFiles, crlFile: crlFile) }
    }

    private static func verifyStore(_ state: State, caFiles: [String], crlFile: String?) -> OpaquePointer? {
        guard let store = X509_STORE_new() else { return nil }
        for name in caFiles + (crlFile.map { [$0] } ?? []) {
            guard let entry = state.entries[name], swiftlb_store_merge(store, entry.contents.store) == 1 else {
                X509_STORE_free(store)
                return nil
            }
        }
        return store
    }

    // MARK: the CLI's verbs, answering HAProxy's texts

    /// `new ssl ca-file|crl-file NAME`: an empty file nothing uses yet.
    public func create(_ name: String, kind: Kind) -> Result<String, Refusal> {
        state.withLock { state in
            let what = kind == .ca ? "CA file" : "CRL file"
            if state.entries[name] != nil { return .failure(Refusal("\(what) '\(name)' already exists!\n")) }
            guard let contents = Contents.empty() else { return .failure(Refusal("Cannot allocate memory!\n")) }
            state.entries[name] = Entry(kind: kind, contents: contents, generation: state.generation)
            state.madeOnCLI.insert(name)
            return .success("New \(what) created '\(name)'!\n")
        }
    }

    /// `set ssl ca-file|crl-file NAME <<PEM`: stages new contents (nothing changes yet).
    public func stage(_ name: String, kind: Kind, payload: String) -> Result<String, Refusal> {
        state.withLock { state in
            let slot = state.slot(kind)
            func refused(_ why: String) -> Result<String, Refusal> { .failure(Refusal(why + "Can't update \(name)!\n")) }
            if let current = state.transactions[slot].name, current != name {
                return refused("The ongoing transaction is about '\(current)' but you are trying to set '\(name)'\n")
            }
            guard let entry = state.entries[name], entry.kind == kind else {
                return refused("Can't replace a \(kind.label) file which is not referenced by the configuration!\n")
            }
            guard let contents = Contents.pem(payload) else { return refused("Invalid payload\n") }
            let created = state.transactions[slot].name == nil
            state.transactions[slot] = .staged(name: name, contents: contents)
            return .success("transaction \(created ? "created" : "updated") for \(kind.label) \(name)!\n")
        }
    }

    /// `commit ssl ca-file|crl-file NAME`: the staged contents in force; every context using
    /// the name rebuilds its verification stores.
    public func commit(_ name: String, kind: Kind) -> Result<String, Refusal> {
        state.withLock { state in
            let slot = state.slot(kind)
            guard case .staged(let staged, let contents) = state.transactions[slot] else {
                return .failure(Refusal("No ongoing transaction! !\nCan't commit \(name)!\n"))
            }
            guard staged == name else {
                return .failure(Refusal("The ongoing transaction is about '\(staged)' but you are trying to set '\(name)'\nCan't commit \(name)!\n"))
            }
            state.entries[name] = Entry(kind: kind, contents: contents, generation: state.generation)
            state.transactions[slot] = .idle
            // HAProxy prints a dot per certificate instance (bind certificate or server) rebuilt.
            var dots = ""
            var failed: [String] = []
            for user in state.liveUsers(name) {
                let done = user.verifyFilesChanged(name) { caFiles, crlFile in Self.verifyStore(state, caFiles: caFiles, crlFile: crlFile) }
                dots += String(repeating: ".", count: done.rebuilt)
                if let why = done.failure { failed.append(why) }
            }
            guard failed.isEmpty else { return .failure(Refusal("Committing \(name)\(dots)\n\(failed.joined(separator: "\n"))\nFailed!\n")) }
            return .success("Committing \(name)\(dots)\nSuccess!\n")
        }
    }

    /// `abort ssl ca-file|crl-file NAME`: drops the staged contents.
    public func abort(_ name: String, kind: Kind) -> Result<String, Refusal> {
        state.withLock { state in
            let slot = state.slot(kind)
            guard let staged = state.transactions[slot].name else { return .failure(Refusal("No ongoing transaction!\n")) }
            guard staged == name else {
                return .failure(Refusal("The ongoing transaction is about '\(staged)' but you are trying to abort a transaction for '\(name)'\n"))
            }
            state.transactions[slot] = .idle
            return .success("Transaction aborted for certificate '\(name)'!\n")
        }
    }

    /// `del ssl ca-file|crl-file NAME`: only a file nothing uses and no transaction is about.
    public func delete(_ name: String, kind: Kind) -> Result<String, Refusal> {
        state.withLock { state in
            let what = kind == .ca ? "CA file" : "CRL file"
            func refused(_ why: String) -> Result<String, Refusal> { .failure(Refusal("Can't remove the \(what): \(why)\n")) }
            if state.transactions[state.slot(kind)].name == name { return refused("ongoing transaction for the \(what) '\(name)'") }
            guard let entry = state.entries[name] else { return refused("\(what) '\(name)' doesn't exist!\n") }
            // HAProxy checks the kind for CRL files only.
            if kind == .crl, entry.kind != kind { return refused("'del ssl crl-file' does not work on CA files!\n") }
            if !state.liveUsers(name).isEmpty { return refused("\(what) '\(name)' in use, can't be deleted!\n") }
            state.entries[name] = nil
            state.users[name] = nil
            state.madeOnCLI.remove(name)
            return .success("\(what) '\(name)' deleted!\n")
        }
    }

    /// `show ssl ca-file|crl-file`: the transaction first, then every file of that kind in name
    /// order (CA files with their number of certificates).
    public func list(kind: Kind) -> String {
        state.withLock { state in
            var out = ""
            if case .staged(let name, let contents) = state.transactions[state.slot(kind)] {
                out += "# transaction\n*\(name)" + (kind == .ca ? " - \(contents.count) certificate(s)\n" : "\n")
            }
            out += "# filename\n"
            for name in state.entries.keys.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
                guard let entry = state.entries[name], entry.kind == kind else { continue }
                out += name + (kind == .ca ? " - \(entry.contents.count) certificate(s)\n" : "\n")
            }
            return out
        }
    }

    /// `show ssl ca-file|crl-file [*]NAME[:index]`: the file's status and its objects (all, or
    /// the one at a 1-based index); `*NAME` shows the staged contents.
    public func show(_ argument: String, kind: Kind) -> Result<String, Refusal> {
        var name = Substring(argument)
        var index: Int?
        let what = kind == .ca ? "CA" : "CRL"
        if let colon = name.firstIndex(of: ":") {
            guard let n = Int(name[name.index(after: colon)...]), n > 0 else {
                return .failure(Refusal("wrong \(what) index after colons in '\(argument)'!"))
            }
            index = n
            name = name[..<colon]
        }
        let notFound = Refusal("Can't display the \(what) file : Not found!\n")
        return state.withLock { state in
            let contents: Contents
            var shown = String(name)
            if name.hasPrefix("*") {
                guard case .staged(let staged, let c) = state.transactions[state.slot(kind)], staged == name.dropFirst() else {
                    return .failure(notFound)
                }
                contents = c
            } else {
                guard let entry = state.entries[String(name)], entry.kind == kind else { return .failure(notFound) }
                contents = entry.contents
                shown = String(name)
            }
            let bare = name.hasPrefix("*") ? String(name.dropFirst()) : String(name)
            let status = contents.count == 0 ? "Empty" : (state.liveUsers(bare).isEmpty || name.hasPrefix("*") ? "Unused" : "Used")
            var out = "Filename: \(shown)\nStatus: \(status)\n"
            if contents.count > 0 { out += contents.details(kind, index: index) }
            return .success(out)
        }
    }
}

/// A TLS context that verifies peers against files of the `CAFileStore`.
protocol CAFileUser: AnyObject, Sendable {
    /// After a commit of `name`: rebuild the verification store of every SSL_CTX using it from
    /// `build(caFiles, crlFile)` (a new X509_STORE the callee owns, nil if a file is gone).
    /// Returns how many were rebuilt, and why one could not be.
    func verifyFilesChanged(_ name: String, _ build: (_ caFiles: [String], _ crlFile: String?) -> OpaquePointer?) -> (rebuilt: Int, failure: String?)
}

/// The files one SSL_CTX verifies against, and the stores it swapped out (a handshake on
/// another thread may still read one; they go with the context).
struct VerifyFiles {
    var caFiles: [String] = []
    var crlFile: String?
    var isEmpty: Bool { caFiles.isEmpty && crlFile == nil }
    var names: [String] { caFiles + (crlFile.map { [$0] } ?? []) }

    /// Reads the files into `store` (from disk, or as the CLI made them) and gives `ctx` their
    /// union as its verification store. Returns the name that could not be loaded, if any.
    func install(on ctx: OpaquePointer, from store: CAFileStore) -> String? {
        for name in caFiles where store.load(name, kind: .ca) == nil { return name }
        if let crlFile, store.load(crlFile, kind: .crl) == nil { return crlFile }
        guard let verify = store.verifyStore(caFiles: caFiles, crlFile: crlFile) else { return names.first }
        let old = swiftlb_ctx_swap_store(ctx, verify)
        X509_STORE_free(verify)  // the context holds its own reference
        X509_STORE_free(old)     // nothing has handshaken on a context being built
        return nil
    }
}
