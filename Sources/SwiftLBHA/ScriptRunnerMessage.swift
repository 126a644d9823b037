#if canImport(Glibc)
import Glibc
#endif

/// What swiftlb and its script runner say to each other (`ScriptRunnerClient`, `ScriptRunner`):
/// one message per SOCK_SEQPACKET datagram, so no framing is needed and a message is never
/// split or merged. A small binary format rather than text because a command line may hold
/// any byte a shell accepts (newlines, quotes) and must come out exactly as lb.conf wrote it.
///
/// Layout: one tag byte, then the fields in order; an id is a big-endian UInt32, a string a
/// big-endian UInt32 length and its UTF-8 bytes, a list a big-endian UInt16 count and its
/// strings. A datagram that does not decode completely and exactly (truncated, trailing bytes,
/// an unknown tag, invalid UTF-8, a NUL that an argv cannot carry) is refused whole.
public enum ScriptRunnerMessage: Sendable, Equatable {
    /// How a child ended, as waitpid tells it.
    public enum Ending: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)
    }

    // swiftlb → runner
    /// Run `/bin/sh -c COMMAND ARGUMENTS…`. `detached`: a notify script, left to finish when
    /// swiftlb goes away (as a directly started one would be); otherwise a `vrrp_script` run,
    /// whose group the runner kills when swiftlb's end of the socket closes.
    case run(id: UInt32, command: String, arguments: [String], detached: Bool)
    /// SIGKILL to the run's process group (its timeout); its `exited` still follows.
    case kill(id: UInt32)
    // runner → swiftlb
    /// The runner is what it will stay (its own user, outside the chroot) and serves: sent
    /// once, first. swiftlb waits for it before going on with its start.
    case ready
    case started(id: UInt32)
    /// Not started: refused (not a script of the configuration) or the spawn failed.
    case failed(id: UInt32, reason: String)
    case exited(id: UInt32, Ending)

    /// The largest datagram either side sends or accepts; the receive buffer is one byte
    /// larger, so a longer datagram (which SEQPACKET would truncate) is seen and refused.
    public static let maximumSize = 32 * 1024

    private enum Tag: UInt8 {
        case run = 1, kill, ready, started, failed, exited
    }

    public var encoded: [UInt8] {
        var out: [UInt8] = []
        func id(_ value: UInt32) { out += [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)] }
        func string(_ text: String) {
            let bytes = Array(text.utf8)
            id(UInt32(bytes.count))
            out += bytes
        }
        switch self {
        case .run(let runID, let command, let arguments, let detached):
            out.append(Tag.run.rawValue)
            id(runID)
            out.append(detached ? 1 : 0)
            string(command)
            out += [UInt8(arguments.count >> 8), UInt8(arguments.count & 0xFF)]
            arguments.forEach(string)
        case .kill(let runID):
            out.append(Tag.kill.rawValue)
            id(runID)
        case .ready:
            out.append(Tag.ready.rawValue)
        case .started(let runID):
            out.append(Tag.started.rawValue)
            id(runID)
        case .failed(let runID, let reason):
            out.append(Tag.failed.rawValue)
            id(runID)
            string(reason)
        case .exited(let runID, let ending):
            out.append(Tag.exited.rawValue)
            id(runID)
            switch ending {
            case .exited(let status): out.append(0); id(UInt32(bitPattern: status))
            case .signaled(let signal): out.append(1); id(UInt32(bitPattern: signal))
            }
        }
        return out
    }

    /// The message in `datagram`, or why it is refused.
    public static func decode(_ datagram: [UInt8]) throws(ScriptRunnerMessageError) -> ScriptRunnerMessage {
        var reader = Reader(bytes: datagram)
        guard let tagByte = reader.byte() else { throw ScriptRunnerMessageError("empty datagram") }
        guard let tag = Tag(rawValue: tagByte) else { throw ScriptRunnerMessageError("unknown message type \(tagByte)") }
        let message: ScriptRunnerMessage
        switch tag {
        case .run:
            let runID = try reader.id()
            guard let flag = reader.byte(), flag <= 1 else { throw ScriptRunnerMessageError("run: bad detached flag") }
            let command = try reader.string("command")
            guard let high = reader.byte(), let low = reader.byte() else { throw ScriptRunnerMessageError("run: truncated argument count") }
            var arguments: [String] = []
            for _ in 0..<(Int(high) << 8 | Int(low)) { arguments.append(try reader.string("argument")) }
            message = .run(id: runID, command: command, arguments: arguments, detached: flag == 1)
        case .kill: message = .kill(id: try reader.id())
        case .ready: message = .ready
        case .started: message = .started(id: try reader.id())
        case .failed:
            let runID = try reader.id()
            message = .failed(id: runID, reason: try reader.string("reason"))
        case .exited:
            let runID = try reader.id()
            guard let kind = reader.byte(), kind <= 1 else { throw ScriptRunnerMessageError("exited: bad ending kind") }
            let value = Int32(bitPattern: try reader.id())
            message = .exited(id: runID, kind == 0 ? .exited(value) : .signaled(value))
        }
        guard reader.atEnd else { throw ScriptRunnerMessageError("\(datagram.count - reader.offset) bytes after the message") }
        return message
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        var atEnd: Bool { offset == bytes.count }

        mutating func byte() -> UInt8? {
            guard offset < bytes.count else { return nil }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func id() throws(ScriptRunnerMessageError) -> UInt32 {
            guard bytes.count - offset >= 4 else { throw ScriptRunnerMessageError("truncated number") }
            defer { offset += 4 }
            return bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
        }

        mutating func string(_ what: String) throws(ScriptRunnerMessageError) -> String {
            let length = Int(try id())
            guard bytes.count - offset >= length else { throw ScriptRunnerMessageError("truncated \(what)") }
            let slice = bytes[offset..<offset + length]
            offset += length
            guard !slice.contains(0) else { throw ScriptRunnerMessageError("\(what) contains a NUL byte") }
            guard let text = String(validating: slice, as: UTF8.self) else { throw ScriptRunnerMessageError("\(what) is not UTF-8") }
            return text
        }
    }
}

public struct ScriptRunnerMessageError: Error, CustomStringConvertible, Equatable {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension ScriptRunnerMessage {
    /// What reading one datagram gave.
    enum Received {
        case message(ScriptRunnerMessage)
        /// Too long or unreadable: skipped, the socket still good.
        case refused(String)
        /// The other end closed.
        case closed
        /// recv failed with this errno (EAGAIN: nothing there, with `dontWait`).
        case failed(Int32)
    }

    /// Reads and decodes one datagram from `socket` (EINTR is retried); both sides read this way.
    static func receive(from socket: Int32, dontWait: Bool) -> Received {
        var buffer = [UInt8](repeating: 0, count: maximumSize + 1)
        var n: Int
        repeat {
            n = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, dontWait ? Int32(MSG_DONTWAIT) : 0) }
        } while n < 0 && errno == EINTR
        if n < 0 { return .failed(errno) }
        if n == 0 { return .closed }
        guard n <= maximumSize else { return .refused("more than \(maximumSize) bytes") }
        do { return .message(try decode(Array(buffer[0..<n]))) } catch { return .refused("unreadable: \(error)") }
    }
}
