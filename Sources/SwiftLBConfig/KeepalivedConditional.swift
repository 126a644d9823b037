#if canImport(Glibc)
import Glibc
#endif

/// keepalived's conditional configuration lines (its parser.c): a line whose first word is
/// `@ID` is read only on the node whose config-id is ID, a line whose first word is `@^ID`
/// everywhere else; the word is dropped and the rest of the line read as usual. So one
/// keepalived.conf serves both nodes:
///
///     @lb1 priority 150
///     @lb2 priority 100
///
/// The config-id is `-i`/`--config-id` of the command line, else the host name up to its
/// first dot (uname's node name, as keepalived). A conditional word with nothing after it is
/// an empty line, and `@` or `@^` with no ID names no node: both as keepalived reads them.
/// Pure: the config-id is passed in.
public enum KeepalivedConditional {
    public enum Outcome: Equatable, Sendable {
        /// Not a conditional line: read it as it is.
        case unconditional
        /// For this node: read these words (the line without its `@ID`).
        case kept([String])
        /// Not for this node, or nothing after the condition.
        case skipped
    }

    public static func apply(_ words: [String], configID: String) -> Outcome {
        guard let first = words.first, first.hasPrefix("@") else { return .unconditional }
        let inverted = first.hasPrefix("@^")
        let id = first.dropFirst(inverted ? 2 : 1)
        let rest = Array(words.dropFirst())
        guard !rest.isEmpty else { return .skipped }
        let matches = !id.isEmpty && id == configID
        return matches != inverted ? .kept(rest) : .skipped
    }

    /// keepalived's default config-id: the node name up to its first dot.
    public static func hostConfigID() -> String {
        var name = utsname()
        guard uname(&name) == 0 else { return "" }
        let node = withUnsafeBytes(of: &name.nodename) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return String(node.prefix { $0 != "." })
    }
}
