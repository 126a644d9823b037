import SwiftLBConfig

/// `sc-inc-gpc0(N)`, `sc-inc-gpc1(N)`, `sc-set-gpt0(N) VALUE` compiled once for the data path
/// (tcp-request and http-request/http-response rules share it): the entry `track-scN` tracks
/// gets one more on its general purpose counter, or its tag set. Nothing happens when counter N
/// tracks nothing or the table does not keep the datum, as in HAProxy (the rule goes on).
struct StickCounterRule: Sendable {
    private enum Kind: Sendable {
        case increment(Int)
        case setTag(SampleExpression)
    }

    private let counter: Int
    private let kind: Kind

    /// `VALUE` of `sc-set-gpt0` is an integer or a sample expression; a bad one is refused with
    /// the expression's own message.
    init(_ action: StickCounterAction) throws(SampleExpression.Failure) {
        counter = action.counter
        switch action.kind {
        case .incrementGPC(let index): kind = .increment(index)
        case .setGPT0(let value): kind = .setTag(try SampleExpression(parsing: Int(value) != nil ? "int(\(value))" : value))
        }
    }

    func run(_ input: SampleInput) {
        guard let stick = input.stick else { return }
        switch kind {
        case .increment(let index): stick.incrementGPC(index, counter: counter)
        case .setTag(let value):
            // HAProxy's gpt0 is an unsigned 32-bit tag: a value that is no integer changes nothing.
            guard let n = value.evaluate(input)?.integer else { return }
            stick.setGPT0(Int(UInt32(truncatingIfNeeded: n)), counter: counter)
        }
    }
}
