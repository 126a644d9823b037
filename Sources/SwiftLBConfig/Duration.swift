/// A time value as HAProxy writes it: a number with an optional unit (`us`, `ms`, `s`, `m`, `h`,
/// `d`); no unit means milliseconds. Stored as nanoseconds so NIO's `TimeAmount` takes it as is.
public struct ConfigDuration: Sendable, Equatable, Hashable, CustomStringConvertible {
    public let nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }
    public static func milliseconds(_ ms: Int64) -> ConfigDuration { .init(nanoseconds: ms * 1_000_000) }
    public static func seconds(_ s: Int64) -> ConfigDuration { .init(nanoseconds: s * 1_000_000_000) }

    public var milliseconds: Int64 { nanoseconds / 1_000_000 }

    /// Parses `500`, `500ms`, `2s`, `1m`, `100us`. Returns nil for anything else.
    public init?(parsing text: String) {
        self.init(parsing: text, bareNumberUnit: 1_000_000)
    }

    /// The same, for the places where HAProxy reads a bare number in another unit (cookie
    /// `maxidle`/`maxlife` take seconds).
    init?(parsing text: String, bareNumberUnit: Int64) {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let value = Int64(digits) else { return nil }
        let unit = text.dropFirst(digits.count)
        let factor: Int64
        switch unit {
        case "": factor = bareNumberUnit
        case "ms": factor = 1_000_000
        case "us": factor = 1_000
        case "s": factor = 1_000_000_000
        case "m": factor = 60 * 1_000_000_000
        case "h": factor = 3_600 * 1_000_000_000
        case "d": factor = 86_400 * 1_000_000_000
        default: return nil
        }
        let (product, overflow) = value.multipliedReportingOverflow(by: factor)
        guard !overflow else { return nil }
        self.nanoseconds = product
    }

    public var description: String {
        if nanoseconds % 1_000_000_000 == 0 { return "\(nanoseconds / 1_000_000_000)s" }
        if nanoseconds % 1_000_000 == 0 { return "\(nanoseconds / 1_000_000)ms" }
        return "\(nanoseconds / 1_000)us"
    }
}
