/// One word-parameter of a line (`server … weight 3`, `bind … ssl`, `cookie … indirect`),
/// registered like a keyword: its name, how many values follow it, its status and what it
/// does to the thing the line builds. Suggestions and the pending gate work the same way.
struct Parameter<Target>: Sendable {
    typealias Apply = @Sendable (inout Target, [String], SectionParser) throws -> Void
    let name: String
    /// How many words after the name belong to it.
    let values: Int
    /// What the values are, for "'hdr' expects NAME VALUE".
    let shape: String?
    let status: KeywordStatus
    let apply: Apply?

    init(_ name: String, values: Int = 0, shape: String? = nil, status: KeywordStatus = .active, apply: Apply?) {
        self.name = name
        self.values = values
        self.shape = shape
        self.status = status
        self.apply = apply
    }

    static func unsupported(_ name: String, values: Int = 0, _ reason: String) -> Parameter {
        Parameter(name, values: values, status: .unsupported(reason), apply: nil)
    }
}

/// The parameters a kind of line accepts, e.g. every server parameter. `what` names them in
/// messages: "unknown server parameter 'wieght' (did you mean 'weight'?)".
struct ParameterTable<Target>: Sendable {
    let what: String
    let parameters: [Parameter<Target>]
    private let byName: [String: Parameter<Target>]

    init(_ what: String, _ parameters: [Parameter<Target>]) {
        self.what = what
        self.parameters = parameters
        self.byName = Dictionary(parameters.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    var names: [String] { parameters.map(\.name) }

    func parameter(_ name: String) -> Parameter<Target>? { byName[name] }

    /// Applies every parameter of `words` in order; stops at the first problem.
    func parse(_ words: ArraySlice<String>, into target: inout Target, parser: SectionParser) throws {
        var rest = words
        while let word = rest.first {
            rest = rest.dropFirst()
            guard let parameter = byName[word] else {
                throw ParseFailure("unknown \(what) '\(word)'\(didYouMean(word, in: names))")
            }
            if case .unsupported(let reason) = parameter.status {
                throw ParseFailure("\(what) '\(word)' is not supported by SwiftLB: \(reason)")
            }
            guard rest.count >= parameter.values else {
                throw ParseFailure("'\(word)' expects \(parameter.shape ?? (parameter.values == 1 ? "a value" : "\(parameter.values) values"))")
            }
            let values = Array(rest.prefix(parameter.values))
            rest = rest.dropFirst(parameter.values)
            try parameter.apply?(&target, values, parser)
            try parser.gate(parameter.status, "\(what) '\(word)'")
        }
    }
}
