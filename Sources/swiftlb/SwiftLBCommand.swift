import ArgumentParser
import Dispatch
import Foundation
import Logging
import SwiftLBConfig
import SwiftLBProxy

/// `swiftlb`: the command line. `check` validates a configuration like `haproxy -c`; `run`
/// serves it in the foreground until SIGTERM/SIGINT, then stops gracefully.
@main
struct SwiftLB: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftlb",
        abstract: "An HTTP/1.1 load balancer: HAProxy's configuration language, on SwiftNIO.",
        version: "0.1.0",
        subcommands: [Check.self, Run.self]
    )
}

struct ConfigOption: ParsableArguments {
    @Option(name: [.short, .customLong("config")], help: "The lb.conf file.")
    var config: String = "lb.conf"
}

/// Loads a configuration and resolves its servers, printing every error on stderr.
func load(_ path: String) -> ProxyRuntime? {
    do {
        let configuration = try ConfigParser.parse(contentsOf: path)
        for warning in configuration.warnings { FileHandle.standardError.write(Data("[WARNING] \(warning)\n".utf8)) }
        return try ProxyRuntime(configuration: configuration)
    } catch {
        for e in error.errors { FileHandle.standardError.write(Data("[ALERT] \(e)\n".utf8)) }
        return nil
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check a configuration file: exit 0 when valid, 1 when not.")
    @OptionGroup var options: ConfigOption

    func run() throws {
        guard load(options.config) != nil else { throw ExitCode(1) }
        print("Configuration file is valid")
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve a configuration in the foreground; SIGTERM or SIGINT stops gracefully.")
    @OptionGroup var options: ConfigOption

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "swiftlb")
        logger.logLevel = .info
        guard let runtime = load(options.config) else { throw ExitCode(1) }
        let global = runtime.configuration.global
        raiseFileDescriptorLimit(logger: logger, maxconn: global.maxconn)

        // Signals are received through dispatch, not handlers: nothing async-unsafe runs.
        let (signals, continuation) = AsyncStream<Int32>.makeStream()
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { continuation.yield(sig) }
            source.resume()
            sources.append(source)
        }

        let server = ProxyServer(runtime: runtime, logger: logger)
        do {
            try await server.start()
        } catch {
            FileHandle.standardError.write(Data("[ALERT] \(error)\n".utf8))
            await server.stop(grace: .zero)
            throw ExitCode(1)
        }
        if let pidfile = global.pidfile {
            try? "\(getpid())\n".write(toFile: pidfile, atomically: true, encoding: .utf8)
        }
        logger.info("swiftlb \(SwiftLB.configuration.version) started, pid \(getpid())")

        for await sig in signals {
            logger.info("received \(sig == SIGTERM ? "SIGTERM" : "SIGINT"): stopping, in-flight requests have \(global.hardStopAfter)")
            break
        }
        await server.stop(grace: .nanoseconds(global.hardStopAfter.nanoseconds))
        if let pidfile = global.pidfile { try? FileManager.default.removeItem(atPath: pidfile) }
        logger.info("stopped")
        _ = sources
    }
}

/// Each proxied connection holds two descriptors (client and server side) plus pooled idle
/// ones. Like HAProxy, raise the soft limit to the hard one instead of failing at 1024.
func raiseFileDescriptorLimit(logger: Logger, maxconn: Int) {
    var limit = rlimit()
    guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    }
    if Int(limit.rlim_cur) < 2 * maxconn + 100 {
        logger.warning("file descriptor limit \(limit.rlim_cur) is below 2 x maxconn (\(maxconn)) + 100: raise 'ulimit -n' or lower maxconn")
    }
}
