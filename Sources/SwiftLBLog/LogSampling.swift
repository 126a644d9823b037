import Synchronization

/// `log … sample RANGES:SIZE` (HAProxy 2.6, src/log.c): of every SIZE messages a target's level
/// range lets through, only those whose position (1…SIZE) is in RANGES go to it — e.g. two
/// targets with `sample 1:2` and `sample 2:2` share the lines between them, and `sample 1,3:5`
/// takes the 1st and 3rd of every 5. The count is shared by every event loop's sink of the
/// target (HAProxy counts under a lock across threads; here one atomic add per message), so
/// the proportion holds whichever loop logs.
public final class LogSampling: Sendable, Equatable, CustomStringConvertible {
    /// Positions taken, 1-based, sorted and disjoint.
    public let ranges: [ClosedRange<Int>]
    public let size: Int
    private let counter = Atomic<Int>(0)

    /// Parses HAProxy's `LOW[-HIGH][,LOW[-HIGH]…]:SIZE`, with its errors.
    public init(parsing text: String) throws(LogConfigError) {
        guard let colon = text.lastIndex(of: ":") else { throw LogConfigError("Missing sample size") }
        var ranges: [ClosedRange<Int>] = []
        for part in text[..<colon].split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            guard let low = Int(bounds[0]), low > 0 else { throw LogConfigError("wrong sample range '\(part)'") }
            var high = low
            if bounds.count == 2 {
                guard let h = Int(bounds[1]), h > low else { throw LogConfigError("wrong sample range '\(part)'") }
                high = h
            }
            if let other = ranges.first(where: { $0.overlaps(low...high) }) {
                throw LogConfigError("ranges are overlapping ('\(part)' and '\(other.lowerBound)-\(other.upperBound)')")
            }
            ranges.append(low...high)
        }
        guard !ranges.isEmpty else { throw LogConfigError("no sampling ranges given") }
        let sizeText = text[text.index(after: colon)...]
        guard let size = Int(sizeText), size > 0 else {
            throw LogConfigError("wrong sample size '\(sizeText)' for sample range '\(text)'")
        }
        let highest = ranges.map(\.upperBound).max()!
        guard size >= highest else {
            throw LogConfigError("sample size \(size) should be greater or equal to \(highest) the maximum of the high ranges limits")
        }
        self.ranges = ranges.sorted { $0.lowerBound < $1.lowerBound }
        self.size = size
    }

    /// Counts one message and says whether this target takes it.
    public func take() -> Bool {
        let position = counter.wrappingAdd(1, ordering: .relaxed).oldValue % size + 1
        return ranges.contains { $0.contains(position) }
    }

    /// What was written: `1,3:5`.
    public var description: String {
        ranges.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ",") + ":\(size)"
    }

    public static func == (a: LogSampling, b: LogSampling) -> Bool { a.ranges == b.ranges && a.size == b.size }
}
