/// One request to the runtime API: a line, and the payload that followed it when the line ended
/// with `<<` (HAProxy's CLI payload: every next line up to an empty one, e.g. the PEM of
/// `set ssl ca-file NAME <<`).
public struct CLIRequest: Sendable, Equatable {
    public var line: String
    public var payload: String?

    public init(line: String, payload: String? = nil) {
        self.line = line
        self.payload = payload
    }
}

/// Turns the lines a control-socket connection receives into requests: a line ending with `<<`
/// opens a payload, which an empty line closes (or the end of the input).
struct CLIRequestAssembler {
    private enum State {
        case lines
        case payload(line: String, lines: [String])
    }
    private var state = State.lines
    /// The bytes of the payload being gathered (its owner bounds it).
    private(set) var payloadBytes = 0

    static let payloadMarker = "<<"

    /// The request `line` completes, if any.
    mutating func take(_ line: String) -> CLIRequest? {
        switch state {
        case .lines:
            let trimmed = line.hasSuffix("\r") ? String(line.dropLast()) : line
            guard trimmed.hasSuffix(Self.payloadMarker) else { return CLIRequest(line: line) }
            state = .payload(line: String(trimmed.dropLast(Self.payloadMarker.count)), lines: [])
            return nil
        case .payload(let command, var lines):
            if line.isEmpty || line == "\r" {
                state = .lines
                payloadBytes = 0
                return CLIRequest(line: command, payload: lines.joined(separator: "\n") + "\n")
            }
            state = .lines  // drops the enum's reference: the append below does not copy the lines
            lines.append(line)
            payloadBytes += line.utf8.count + 1
            state = .payload(line: command, lines: lines)
            return nil
        }
    }

    /// The end of the input: a payload still open is complete as it is.
    mutating func finish() -> CLIRequest? {
        guard case .payload(let command, let lines) = state else { return nil }
        state = .lines
        payloadBytes = 0
        return CLIRequest(line: command, payload: lines.isEmpty ? nil : lines.joined(separator: "\n") + "\n")
    }
}
