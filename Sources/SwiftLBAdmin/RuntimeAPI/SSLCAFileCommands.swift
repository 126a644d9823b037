import SwiftLBTLS

/// HAProxy's `show/new/set/commit/abort/del ssl ca-file|crl-file` on the stats socket: the verbs
/// and their arguments here, the files and their transactions in `CAFileStore` (SwiftLBTLS),
/// which answers in HAProxy's words. `set` takes its PEM as the command's payload
/// (`set ssl ca-file NAME <<` then the text, then an empty line).
enum SSLCAFileCommands {
    enum Verb: Sendable { case show, new, set, commit, abort, del }

    static func command(_ verb: Verb, _ kind: CAFileStore.Kind) -> RuntimeAPI.Command {
        let file = kind == .ca ? "ca-file" : "crl-file"
        let noun = kind == .ca ? "CA file" : "CRL file"
        let (usage, help): (String, String)
        switch verb {
        case .show: (usage, help) = ("show ssl \(file) [<\(file.dropLast(5))file>[:<index>]]", "display the \(noun)s in memory, or one's details, or only its object at <index>")
        case .new: (usage, help) = ("new ssl \(file) <name>", "create a new, empty \(noun) (for a crt-list)")
        case .set: (usage, help) = ("set ssl \(file) <name> <payload>", "stage new contents for a \(noun)")
        case .commit: (usage, help) = ("commit ssl \(file) <name>", "put the staged \(noun) in force for new handshakes")
        case .abort: (usage, help) = ("abort ssl \(file) <name>", "drop the staged \(noun)")
        case .del: (usage, help) = ("del ssl \(file) <name>", "delete an unused \(noun)")
        }
        let words = [verb == .new ? "new" : "\(verb)", "ssl", file]
        return RuntimeAPI.Command(words: words, usage: usage, help: help, level: verb == .show ? .operator_ : .admin) { api, args, session in
            guard let store = await api.actions.caFileStore() else {
                return RuntimeAPIError.unsupported(words.joined(separator: " "), "not in this process").message + "\n"
            }
            return answer(verb, kind, args, payload: session.payload, store: store)
        }
    }

    /// The answer to one command (pure of I/O apart from the store).
    static func answer(_ verb: Verb, _ kind: CAFileStore.Kind, _ args: [String], payload: String?, store: CAFileStore) -> String {
        let file = kind == .ca ? "ca-file" : "crl-file"
        if verb == .show {
            guard let name = args.first else { return store.list(kind: kind) }
            return text(store.show(name, kind: kind))
        }
        guard let name = args.first, !name.isEmpty else {
            switch verb {
            case .set: return "'set ssl \(file) expects a filename and \(kind == .ca ? "CAs" : "CRLs") as a payload\n"
            case .commit: return "'commit ssl ca-file expects a filename\n"  // HAProxy says ca-file for both
            case .del: return "'del ssl \(file)' expects a \(kind.label) file name\n"
            default: return "'\(verb) ssl \(file)' expects a filename\n"
            }
        }
        switch verb {
        case .show: preconditionFailure("show is answered above")
        case .new: return text(store.create(name, kind: kind))
        case .set:
            guard let payload, !payload.isEmpty else {
                return "'set ssl \(file) expects a filename and \(kind == .ca ? "CAs" : "CRLs") as a payload\n"
            }
            return text(store.stage(name, kind: kind, payload: payload))
        case .commit: return text(store.commit(name, kind: kind))
        case .abort: return text(store.abort(name, kind: kind))
        case .del: return text(store.delete(name, kind: kind))
        }
    }

    private static func text(_ result: Result<String, CAFileStore.Refusal>) -> String {
        switch result {
        case .success(let message): return message
        case .failure(let refusal): return refusal.message  // as HAProxy's: some end without a newline
        }
    }

    /// First words of this file's refusals, for `RuntimeAPI.answerIsFailure`.
    static let failurePrefixes = ["Can't ", "No ongoing transaction", "The ongoing transaction", "wrong CA index", "wrong CRL index", "'new ssl", "'commit ssl", "'abort ssl", "'del ssl"]
}
