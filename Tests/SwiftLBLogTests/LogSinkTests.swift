import Foundation
import NIOCore
import NIOEmbedded
import NIOPosix
@testable import SwiftLBLog
import SwiftLBTestSupport
import XCTest

/// The per-loop writer against real receivers: a unix datagram socket (as /dev/log), UDP on
/// loopback, a pipe (as stdout): exact bytes, the header of each format, levels, `len`, and
/// what happens when the receiver does not keep up (drops, counted, never a blocked loop).
final class LogSinkTests: XCTestCase {
    private var scratch: ScratchDirectory!

    override class func setUp() {
        TestEnvironment.set("TZ", "UTC")
    }

    override func setUpWithError() throws {
        scratch = try ScratchDirectory()
    }

    override func tearDown() {
        scratch = nil
    }

    static let identity = SyslogIdentity(tag: "swiftlb", pid: 4242)

    static var record: LogRecord {
        HAProxyLines.httplog(LogFormatRenderTests.httplogLines[0])
    }

    static let line = LogFormatRenderTests.httplogLines[0]

    /// `Mmm dd hh:mm:ss ` of now, give or take a second.
    private func assertLegacyDate(_ text: Substring, file: StaticString = #filePath, line: UInt = #line) {
        var b = LogBuffer()
        let now = LogTimestamp.now.seconds
        let candidates = (now - 2...now + 1).map { s -> String in b.removeAll(); b.appendLegacySyslogDate(s); return b.string }
        XCTAssertTrue(candidates.contains(String(text)), "\(text) is not a syslog date of now", file: file, line: line)
    }

    func testUnixDatagramReceiverGetsHAProxysLines() throws {
        let path = scratch.file("log.sock")
        let receiver = try DatagramReceiver(unixPath: path)
        let loop = EmbeddedEventLoop()
        let sink = LogSink(targets: [try LogTarget(words: [path, "local0"])], eventLoop: loop, identity: Self.identity)
        for _ in 0..<3 { sink.log(Self.record, format: .httplog) }
        XCTAssertNil(receiver.receive(timeout: 0.1), "nothing leaves before the end of the loop iteration")
        loop.run()
        let lines = receiver.receive(count: 3)
        XCTAssertEqual(lines.count, 3)
        for datagram in lines {
            XCTAssertTrue(datagram.hasPrefix("<134>"), datagram)
            assertLegacyDate(datagram.dropFirst(5).prefix(16))
            XCTAssertEqual(String(datagram.dropFirst(21)), "swiftlb[4242]: " + Self.line + "\n")
        }
        XCTAssertEqual(sink.counters, LogSink.Counters(sent: 3, dropped: 0, failed: 0, filtered: 0))
    }

    func testAbstractUnixSocket() throws {
        let name = "swiftlb-log-test-\(getpid())"
        let receiver = try DatagramReceiver(unixPath: name, abstract: true)
        let loop = EmbeddedEventLoop()
        let sink = LogSink(targets: [try LogTarget(words: ["abns@\(name)", "format", "raw", "local0"])], eventLoop: loop)
        sink.log(Self.record, format: .httplog)
        loop.run()
        XCTAssertEqual(receiver.receive(count: 1), [Self.line + "\n"])
    }

    func testIPv6UDPReceiver() throws {
        let fd = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var a = sockaddr_in6()
        a.sin6_family = sa_family_t(AF_INET6)
        a.sin6_addr = in6addr_loopback
        var len = socklen_t(MemoryLayout<sockaddr_in6>.size)
        let bound = withUnsafeMutablePointer(to: &a) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard bound else { throw XCTSkip("no IPv6 loopback here") }
        let port = UInt16(bigEndian: a.sin6_port)
        let loop = EmbeddedEventLoop()
        let sink = LogSink(targets: [try LogTarget(words: ["udp6@[::1]:\(port)", "format", "short", "local0"])], eventLoop: loop)
        sink.send("over v6", level: .notice)
        loop.run()
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        XCTAssertEqual(poll(&p, 1, 2000), 1)
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = recv(fd, &buffer, buffer.count, 0)
        XCTAssertEqual(String(decoding: buffer[0..<max(0, n)], as: UTF8.self), "<5>over v6\n")
    }

    func testUDPReceiverGetsEveryFormat() throws {
        let receiver = try DatagramReceiver()
        let loop = EmbeddedEventLoop()
        let formats = ["rfc3164", "rfc5424", "short", "raw", "priority", "timed", "iso", "local"]
        let targets = try formats.map { try LogTarget(words: ["udp@127.0.0.1:\(receiver.port)", "format", $0, "local1"]) }
        let sink = LogSink(targets: targets, eventLoop: loop, identity: Self.identity)
        sink.log(Self.record, format: .httplog)
        loop.run()
        let got = receiver.receive(count: formats.count)
        XCTAssertEqual(got.count, formats.count)
        let body = Self.line + "\n"
        let iso = #"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00"#
        let expectations = [
            #"^<142>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d localhost swiftlb\[4242\]: $"#,
            #"^<142>1 "# + iso + #" - swiftlb 4242 - - $"#,
            #"^<6>$"#,
            #"^$"#,
            #"^<142>$"#,
            #"^<6>"# + iso + " $",
            "^" + iso + " $",
            #"^<142>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d swiftlb\[4242\]: $"#,
        ]
        for (datagram, pattern) in zip(got, expectations) {
            XCTAssertTrue(datagram.hasSuffix(body), datagram)
            let header = String(datagram.dropLast(body.count))
            XCTAssertNotNil(header.range(of: pattern, options: .regularExpression), "\(header) !~ \(pattern)")
        }
    }

    /// HAProxy's headers byte for byte for a fixed instant (the shapes haproxy 2.6.12 sent).
    func testHeadersForAFixedInstant() {
        let now = LogTimestamp(seconds: 1_795_993_198, microseconds: 550_167)  // 2026-11-29 22:59:58 UTC
        let haproxy = SyslogIdentity(tag: "haproxy", pid: 29269)
        func header(_ f: SyslogFormat, _ level: LogLevel = .info, _ facility: SyslogFacility = .local0, _ id: SyslogIdentity = haproxy) -> String {
            var b = LogBuffer()
            SyslogHeader.write(f, level: level, facility: facility, identity: id, now: now, into: &b)
            return b.string
        }
        XCTAssertEqual(header(.unspecified), "<134>Nov 29 22:59:58 haproxy[29269]: ")
        XCTAssertEqual(header(.rfc3164, .info, SyslogFacility(name: "local1")!), "<142>Nov 29 22:59:58 localhost haproxy[29269]: ")
        XCTAssertEqual(header(.rfc5424, .info, SyslogFacility(name: "local2")!), "<150>1 2026-11-29T22:59:58.550167+00:00 - haproxy 29269 - - ")
        XCTAssertEqual(header(.short, .info, .daemon), "<6>")
        XCTAssertEqual(header(.raw), "")
        XCTAssertEqual(header(.unspecified, .err, .daemon, SyslogIdentity(tag: "lb", hostname: "lb1", pid: 7)), "<27>Nov 29 22:59:58 lb1 lb[7]: ")
        XCTAssertEqual(header(.rfc5424, .notice, .user, SyslogIdentity(tag: "lb", hostname: "lb1", pid: 7)), "<13>1 2026-11-29T22:59:58.550167+00:00 lb1 lb 7 - - ")
        let early = LogTimestamp(seconds: 1_796_170_000, microseconds: 5)  // 2 Dec: the day is space-padded
        var b = LogBuffer()
        SyslogHeader.write(.local, level: .debug, facility: .user, identity: haproxy, now: early, into: &b)
        XCTAssertEqual(b.string, "<15>Dec  2 00:06:40 haproxy[29269]: ")
    }

    func testLevelsAndMinimumLevel() throws {
        let receiver = try DatagramReceiver()
        let loop = EmbeddedEventLoop()
        let address = "127.0.0.1:\(receiver.port)"
        let notice = try LogTarget(words: [address, "format", "short", "local0", "notice"])
        let raised = try LogTarget(words: [address, "format", "short", "local0", "debug", "err"])
        let sink = LogSink(targets: [notice, raised], eventLoop: loop, identity: Self.identity)
        sink.send("routine", level: .info)
        sink.send("trouble", level: .crit)
        loop.run()
        // `notice` keeps crit, drops info; `debug err` takes both and raises nothing above err
        // (the minimum level caps severity: crit goes out as err).
        XCTAssertEqual(receiver.receive(count: 3).sorted(), ["<2>trouble\n", "<3>trouble\n", "<6>routine\n"])
        XCTAssertEqual(sink.counters.filtered, 1)
        XCTAssertEqual(sink.counters.sent, 3)
    }

    func testLenTruncatesHeaderAndMessage() throws {
        let receiver = try DatagramReceiver()
        let loop = EmbeddedEventLoop()
        let sink = LogSink(targets: [try LogTarget(words: ["127.0.0.1:\(receiver.port)", "len", "80", "format", "rfc3164", "local0"])],
                           eventLoop: loop, identity: Self.identity)
        sink.log(Self.record, format: .httplog)
        loop.run()
        let datagram = try XCTUnwrap(receiver.receive())
        XCTAssertEqual(datagram.count, 81, "len covers header and text; the LF comes on top (HAProxy)")
        XCTAssertEqual(datagram.last, UInt8(ascii: "\n"))
        XCTAssertTrue(String(decoding: datagram, as: UTF8.self).contains("swiftlb[4242]: 127.0.0.1:35716 [29/Nov/"))
    }

    /// A receiver that never reads: the sink drops what does not fit, counts it, and returns at once.
    func testFullSocketDropsAndCounts() throws {
        let path = scratch.file("full.sock")
        let receiver = try DatagramReceiver(unixPath: path, receiveBuffer: 4096)
        let loop = EmbeddedEventLoop()
        let sink = LogSink(targets: [try LogTarget(words: [path, "local0"])], eventLoop: loop, identity: Self.identity)
        let start = Date()
        for _ in 0..<5000 { sink.log(Self.record, format: .httplog) }
        loop.run()
        sink.flush()
        XCTAssertLessThan(Date().timeIntervalSince(start), 10, "never waits for the receiver")
        XCTAssertGreaterThan(sink.counters.dropped, 0)
        XCTAssertEqual(sink.counters.sent + sink.counters.dropped, 5000)
        XCTAssertEqual(sink.counters.failed, 0)
        XCTAssertEqual(receiver.drain().count, sink.counters.sent, "what was counted sent arrived whole")
    }

    /// HAProxy sends nothing for a format that renders an empty line (`log-format ""`).
    func testEmptyLineIsNotSent() throws {
        let receiver = try DatagramReceiver()
        let loop = EmbeddedEventLoop()
        let sink = LogSink(targets: [try LogTarget(words: ["127.0.0.1:\(receiver.port)", "local0"])], eventLoop: loop)
        sink.log(Self.record, format: try LogFormat.parse(""))
        sink.log(Self.record, format: try LogFormat.parse("%{-M}ID"))
        loop.run()
        XCTAssertNil(receiver.receive(timeout: 0.2))
        XCTAssertEqual(sink.counters, LogSink.Counters())
    }

    func testNoListenerCountsFailures() throws {
        let loop = EmbeddedEventLoop()
        let sink = LogSink(targets: [try LogTarget(words: [scratch.file("nobody.sock"), "local0"])], eventLoop: loop)
        for _ in 0..<3 { sink.log(Self.record, format: .httplog) }
        loop.run()
        XCTAssertEqual(sink.counters.failed, 3)
        XCTAssertEqual(sink.counters.sent, 0)
    }

    /// stdout as a pipe: whole lines, no header with `format raw`, and a full pipe drops lines
    /// without blocking — while the process's own descriptor stays blocking.
    func testPipeTargetNeverBlocksAndKeepsTheDescriptorsFlags() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        defer { close(fds[0]); close(fds[1]) }
        let flagsBefore = fcntl(fds[1], F_GETFL)
        let loop = EmbeddedEventLoop()
        let sink = LogSink(targets: [try LogTarget(words: ["fd@\(fds[1])", "format", "raw", "daemon"])], eventLoop: loop)
        sink.log(Self.record, format: .httplog)
        sink.log(Self.record, format: .httplog)
        loop.run()
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = read(fds[0], &buffer, buffer.count)
        XCTAssertEqual(String(decoding: buffer[0..<n], as: UTF8.self), Self.line + "\n" + Self.line + "\n")

        let start = Date()
        for _ in 0..<2000 { sink.log(Self.record, format: .httplog) }  // ~250 KB into a 64 KB pipe
        sink.flush()
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        XCTAssertGreaterThan(sink.counters.dropped, 0)
        XCTAssertEqual(fcntl(fds[1], F_GETFL), flagsBefore, "the shared descriptor keeps its flags")

        // Read everything: only whole lines; the line the full pipe cut is finished by the
        // next flush.
        func drain() -> String {
            var text = ""
            while true {
                var p = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, 100) == 1 else { return text }
                let m = read(fds[0], &buffer, buffer.count)
                if m <= 0 { return text }
                text += String(decoding: buffer[0..<m], as: UTF8.self)
            }
        }
        var text = drain()
        sink.flush()
        text += drain()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        XCTAssertTrue(text.hasSuffix("\n"))
        XCTAssertTrue(lines.allSatisfy { $0 == Self.line }, "no line cut or glued")
        XCTAssertEqual(lines.count, sink.counters.sent - 2)
        XCTAssertEqual(sink.counters.sent + sink.counters.dropped, 2002)
    }

    /// On a real event loop the flush happens by itself at the end of the iteration.
    func testFlushesAtTheEndOfTheLoopIteration() throws {
        final class Holder: @unchecked Sendable { var sink: LogSink? }
        let receiver = try DatagramReceiver()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let target = try LogTarget(words: ["127.0.0.1:\(receiver.port)", "format", "raw", "local0"])
        let format = try LogFormat.parse("n=%rt")
        let record = Self.record
        let holder = Holder()
        try loop.submit {
            let sink = LogSink(targets: [target], eventLoop: loop)
            holder.sink = sink
            for i in 0..<200 {
                var r = record
                r.requestCounter = i
                sink.log(r, format: format)
            }
        }.wait()
        XCTAssertEqual(receiver.receive(count: 200), (0..<200).map { "n=\($0)\n" })
        XCTAssertEqual(try loop.submit { holder.sink?.counters.sent }.wait(), 200)
        try loop.submit { holder.sink = nil }.wait()
    }

    /// sendmmsg is used (not one sendmsg per line), and its hand-made mmsghdr matches the C one.
    func testSendmmsgIsFound() {
        XCTAssertNotNil(MultipleMessages.function)
        XCTAssertEqual(MultipleMessages.stride, 64)  // sizeof(struct mmsghdr) on LP64 Linux
    }
}
