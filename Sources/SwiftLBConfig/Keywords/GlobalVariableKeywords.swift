/// `set-var proc.NAME EXPR` and `set-var-fmt proc.NAME FORMAT` in `global`: process variables
/// set once the configuration is loaded (HAProxy's `vars_parse_global_set_var`), in file order,
/// each seeing those before it; rules read them as `var(proc.NAME)`. SwiftLBProxy compiles and
/// evaluates them (GlobalVariables.swift).
extension KeywordRegistry {
    static let globalVariableKeywords: [Keyword] = [
        globalSetVar("set-var", format: false, usage: "set-var proc.NAME EXPRESSION"),
        globalSetVar("set-var-fmt", format: true, usage: "set-var-fmt proc.NAME FORMAT"),
    ]

    private static func globalSetVar(_ name: String, format: Bool, usage: String) -> Keyword {
        Keyword(name, [.global], usage: usage) { p, c in
            guard c.args.count >= 2 else { throw ParseFailure("expects \(usage.dropFirst(name.count + 1))") }
            let variable = c.args[0]
            // Only the process lives as long as the configuration (HAProxy: "only supports the 'proc' scope").
            guard variable.hasPrefix("proc."), variable.count > 5 else {
                throw ParseFailure("'\(name)' in global only supports the 'proc' scope ('proc.NAME'), not '\(variable)'")
            }
            p.config.global.processVariables.append(
                ProcessVariableSetting(name: variable, text: c.args.dropFirst().joined(separator: " "), isFormat: format, line: c.line.number))
        }
    }
}

/// One global `set-var`/`set-var-fmt` line, as written.
public struct ProcessVariableSetting: Sendable, Equatable {
    /// `proc.NAME`.
    public var name: String
    /// The sample expression (`set-var`) or the log-format string (`set-var-fmt`).
    public var text: String
    public var isFormat: Bool
    public var line: Int
}
