import Logging

/// A log handler that hands every line to `sink` (at every level from `trace`): how a test
/// reads what the code under test logged.
public struct LineLogHandler: LogHandler {
    let sink: @Sendable (LogEvent) -> Void
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .trace

    public init(sink: @escaping @Sendable (LogEvent) -> Void) { self.sink = sink }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) { sink(event) }
}
