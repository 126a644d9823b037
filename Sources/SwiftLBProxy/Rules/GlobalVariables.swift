import SwiftLBConfig

/// The global `set-var`/`set-var-fmt` lines, compiled: evaluated once the configuration is
/// loaded (at start and on each reload, as a new HAProxy worker does), with no stream — so
/// they may read only what needs none (`str()`, `int()`…, `var()`, converters); a fetch of
/// the connection or the request is refused, as HAProxy refuses it ("none of which is
/// available here").
struct GlobalVariables {
    private enum Value {
        case expression(SampleExpression)
        case format(LogFormat)
    }
    private let assignments: [(name: String, value: Value)]

    /// Compiles every line; a line that does not compile is an error naming it.
    init(_ settings: [ProcessVariableSetting], file: String) throws(ConfigErrors) {
        var errors: [ConfigError] = []
        var assignments: [(String, Value)] = []
        for setting in settings {
            do throws(SampleExpression.Failure) {
                let value: Value = setting.isFormat ? .format(try LogFormat(parsing: setting.text)) : .expression(try SampleExpression(parsing: setting.text))
                let expressions: [SampleExpression] = switch value {
                case .expression(let e): [e]
                case .format(let f): f.parts.compactMap { if case .sample(let e) = $0 { e } else { nil } }
                }
                for expression in expressions {
                    switch expression.fetch {
                    case .constant, .variable: break
                    default: throw SampleExpression.Failure(message: "'\(setting.text)': a fetch of a connection or a request is not available when the configuration loads; use str(), int(), bool() or var()")
                    }
                }
                assignments.append((setting.name, value))
            } catch {
                errors.append(ConfigError(file: file, line: setting.line, keyword: setting.isFormat ? "set-var-fmt" : "set-var", message: error.message))
            }
        }
        if !errors.isEmpty { throw ConfigErrors(errors) }
        self.assignments = assignments
    }

    /// Sets the variables in order into `variables` (the process's).
    func apply(to variables: ProcessVariables = .shared) {
        guard !assignments.isEmpty else { return }
        let stream = StreamVariables(process: variables)
        let input = SampleInput(facts: RequestFacts(head: nil, source: nil, destination: nil, isTLS: false), variables: stream)
        for (name, value) in assignments {
            switch value {
            case .expression(let expression): if let result = expression.evaluate(input) { stream.set(name, result) }
            case .format(let format): stream.set(name, .string(format.render(input)))
            }
        }
    }
}
