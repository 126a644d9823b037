extension SampleExpression.Operation {
    /// `add`, `sub`, `mul`, `div`, `mod` as HAProxy computes them (sample.c's arith_add and
    /// converters): a result past the 64-bit range is capped at Int.max or Int.min, never a
    /// trap, whatever a request's headers or variables hold. Division by zero gives Int.max,
    /// modulo by zero 0; Int.min / -1 gives Int.max and Int.min % -1 gives 0.
    func apply(_ a: Int, _ b: Int) -> Int {
        switch self {
        case .add: return Self.capped(a.addingReportingOverflow(b), sign: a)
        case .sub: return Self.capped(a.subtractingReportingOverflow(b), sign: a)
        case .mul:
            let (product, overflow) = a.multipliedReportingOverflow(by: b)
            guard overflow else { return product }
            return (a < 0) == (b < 0) ? .max : .min
        case .div:
            guard b != 0 else { return .max }
            let (quotient, overflow) = a.dividedReportingOverflow(by: b)
            return overflow ? .max : quotient
        case .mod:
            guard b != 0 else { return 0 }
            let (remainder, overflow) = a.remainderReportingOverflow(dividingBy: b)
            return overflow ? 0 : remainder
        }
    }

    /// An overflowing sum or difference leaves the range on the side of its first operand.
    private static func capped(_ result: (partialValue: Int, overflow: Bool), sign a: Int) -> Int {
        guard result.overflow else { return result.partialValue }
        return a < 0 ? .min : .max
    }
}
