import ArgumentParser
import Dispatch
import FoundationEssentials
import Glibc
import Logging
import SwiftLBAdmin
import SwiftLBConfig
import SwiftLBHA
import SwiftLBProxy

/// `swiftlb`: the command line. `check` validates a configuration like `haproxy -c`; `run`
/// serves it in the foreground until SIGTERM/SIGINT, then stops gracefully.
@main
struct SwiftLB: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftlb",
        abstract: "An HTTP/1.1 load balancer: HAProxy's configuration language, on SwiftNIO.",
        discussion: """
            One process for what HAProxy and keepalived do together: lb.conf in HAProxy's keywords, \
            plus a vrrp section (or keepalived's vrrp_instance blocks) for the floating VIP. Every keyword, \
            with its default, is in docs/configuration.md. Without a subcommand, -v prints the version and \
            -vv the build, the OpenSSL and PCRE2 versions it runs with and the features, like haproxy -vv.
            """,
        version: "0.1.0",
        subcommands: [Check.self, Run.self, Ctl.self, ScriptRunnerCommand.self]
    )

    static func main() {
        StandardDescriptors.ensureOpen()
        main(nil)
    }

    /// `-v` prints the version, `-vv` the build and its libraries, as `haproxy -v`/`-vv` do.
    @Flag(name: .customShort("v"), help: "Print the version (-v), or the build, OpenSSL and PCRE2 versions and features (-vv).")
    var verbosity: Int

    func run() throws {
        switch verbosity {
        case 0: throw CleanExit.helpRequest(self)
        case 1: print("SwiftLB version \(Self.configuration.version)")
        default: print(BuildInfo.report(version: Self.configuration.version), terminator: "")
        }
    }
}

struct ConfigOption: ParsableArguments {
    /// `-f` as well: haproxy's own flag, which an operator's scripts and fingers already use.
    @Option(name: [.short, .customShort("f"), .customLong("config")], help: "The lb.conf file (-f as haproxy's).")
    var config: String = "lb.conf"
    @Option(name: [.customShort("L"), .customLong("local-peer")], help: "This instance's name in the peers sections (default: 'localpeer', else the host name).")
    var localPeer: String?
    /// keepalived's `-i`: the node's config-id, which picks its `@ID` lines of a shared file.
    @Option(name: [.customShort("i"), .customLong("config-id")], help: "This node's config-id for keepalived's '@ID' lines (default: the host name up to its first dot).")
    var configID: String?
}

/// haproxy's words (and exit status 2) for a valid file with nothing to listen on: no frontend,
/// no VIP and no control socket (haproxy counts its `stats socket` as a listener too: a file
/// of backends and a socket runs their checks and answers the runtime API).
let noListener = "Configuration file has no error but will not start (no listener) => exit(2)."

extension Configuration {
    /// No listener, as haproxy -c counts them: a `peers` section where this process is a peer
    /// with an address listens for the other peers, as a frontend does.
    func hasNothingToRun(localPeer: String?) -> Bool {
        let localName = PeersService.localName(commandLine: localPeer, configuration: self)
        let peersListen = peers.values.contains { PeersService.listens($0, localName: localName) }
        // A `disabled` frontend opens nothing: haproxy -c does not count its binds.
        return frontends.allSatisfy(\.options.disabled) && vrrpInstances.isEmpty && global.statsSocket == nil && logForwards.isEmpty && !peersListen
    }
}

/// haproxy's words when `zero-warning` (or -dW) meets a warning.
let zeroWarningAbort = "Some warnings were found and 'zero-warning' is set. Aborting."

/// Writes one message on stderr in haproxy's shape: `[ALERT]    (pid) : config : …`.
func report(_ level: ConfigError.Level, _ message: String) {
    writeStderr(ConfigError.rendered(level, pid: getpid(), message) + "\n")
}

func report(_ level: ConfigError.Level, _ error: any Error) {
    report(level, (error as? ConfigError)?.description ?? "\(error)")
}

/// Loads a configuration and resolves its servers, printing every problem on stderr as
/// haproxy does (`[WARNING]`/`[ALERT]` lines, then a summary line on failure).
/// `warned`: a warning was printed (`swiftlb check` then says "Warnings were found.", as
/// haproxy -c does).
func load(_ path: String, localPeer: String? = nil, configID: String? = nil) -> (runtime: ProxyRuntime, warned: Bool)? {
    do throws(ConfigErrors) {
        let configuration = try ConfigParser.parse(contentsOf: path, facts: BuildInfo.configFacts(localPeer: localPeer, configID: configID))
        for notice in configuration.notices { report(.notice, notice) }
        for (level, message) in configuration.alertsAndWarnings { report(level, message) }
        let runtime = try ProxyRuntime(configuration: configuration)
        let peers = PeersService.check(configuration, localName: PeersService.localName(commandLine: localPeer, configuration: configuration))
        for warning in peers { report(.warning, warning) }
        var warnings = runtime.warnings
        try HeartbeatKey.checkAll(configuration, warnings: &warnings)
        for warning in warnings { report(.warning, warning) }
        // (SwiftLB's own remarks are printed, not counted: HAProxy would say nothing.)
        let warned = !(configuration.warnings.allSatisfy(\.isSwiftLBRemark) && peers.isEmpty && warnings.isEmpty)
        if configuration.global.zeroWarning, warned {
            report(.alert, zeroWarningAbort)
            return nil
        }
        return (runtime, warned)
    } catch {
        for e in error.errors { report(.alert, e) }
        if !error.errors.allSatisfy({ $0.line == 0 }) { report(.alert, "Error(s) found in configuration file : \(path)") }
        report(.alert, "Fatal errors found in configuration.")
        return nil
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a configuration file: exit 0 when valid, 1 when not.",
        discussion: """
            Like haproxy -c: every problem is printed on stderr with its file, line and keyword. \
            Exit status 0: valid; 1: invalid; 2: valid but nothing to run (no frontend, VIP, stats socket, log-forward or peers section this process is a peer of). "Warnings were found." when it printed one, as haproxy -c.
            """)
    @OptionGroup var options: ConfigOption

    func run() throws {
        guard let (runtime, warned) = load(options.config, localPeer: options.localPeer, configID: options.configID) else { throw ExitCode(1) }
        if warned { print("Warnings were found.") }
        if runtime.configuration.hasNothingToRun(localPeer: options.localPeer) {
            print(noListener)
            throw ExitCode(2)
        }
        print("Configuration file is valid")
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a configuration in the foreground; SIGTERM or SIGINT stops gracefully.",
        discussion: """
            SIGHUP and SIGUSR2 reload lb.conf: listeners are opened and closed where the file changed them, \
            established connections and WebSocket tunnels stay, an invalid file is refused and the running \
            one kept. SIGTERM, SIGINT and SIGUSR1 stop gracefully: the VIP is handed over first, then \
            connections get hard-stop-after to end (without it, 30 s after SIGTERM or SIGINT, and after \
            SIGUSR1, HAProxy's soft stop, as long as they last). Under systemd (NOTIFY_SOCKET) it reports READY, \
            RELOADING, STOPPING and WATCHDOG (scripts/swiftlb.service).
            """)
    @OptionGroup var options: ConfigOption

    /// The main thread waits here while the instance runs on the concurrency pool. An async
    /// main would end the main thread (dispatch_main), leaving a zombie thread-group leader
    /// that keeps root's ids in /proc and ps after `user` dropped every live thread's.
    func run() throws {
        final class Outcome: @unchecked Sendable { var error: (any Error)? }
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        let command = self
        Task {
            do { try await command.serve() } catch { outcome.error = error }
            done.signal()
        }
        done.wait()
        if let error = outcome.error { throw error }
    }

    func serve() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "swiftlb")
        logger.logLevel = .info
        guard let runtime = load(options.config, localPeer: options.localPeer, configID: options.configID)?.runtime else { throw ExitCode(1) }
        let configuration = runtime.configuration
        if configuration.hasNothingToRun(localPeer: options.localPeer) {
            report(.alert, noListener)
            throw ExitCode(2)
        }
        let global = configuration.global
        // `daemon`: the parent only relays the detached copy's start and exits with its verdict.
        if Daemon.isDetachedChild { Daemon.prepareDetach() }
        if global.daemon && !Daemon.isDetachedChild {
            if Daemon.underSystemdNotify {
                report(.notice, "'daemon' ignored: started by systemd in notify mode (NOTIFY_SOCKET is set), as haproxy -Ws does")
            } else {
                throw ExitCode(Daemon.spawnAndWait())
            }
        }
        let ulimitN: Int
        switch DescriptorLimit.apply(global) {
        case .applied(let n): ulimitN = n
        case .warned(let n, let message):
            report(.warning, message)
            ulimitN = n
        case .refused(let message):
            report(.alert, message)
            throw ExitCode(1)
        }
        // The pidfile first: a path we must refuse stops the start before anything listens.
        let pidFile: PIDFile?
        do {
            pidFile = try global.pidfile.map { path throws(PIDFile.Failure) in try PIDFile(writingTo: path) }
        } catch {
            report(.alert, "\(configuration.file): \(error)")
            throw ExitCode(1)
        }
        // Removed on every way out (a failed start included), and only if it is still ours.
        defer { pidFile?.remove() }

        // Signals are received through dispatch, not handlers: nothing async-unsafe runs.
        let signals = Signals.install()

        let server = ProxyServer(runtime: runtime, logger: logger)
        let instance = Instance(configPath: options.config, localPeer: options.localPeer, configID: options.configID, ulimitN: ulimitN, server: server, logger: logger)
        let api = RuntimeAPI(actions: InstanceActions(instance: instance), logger: logger)
        server.admin.connect(api)
        var vrrp: VRRPGroup?
        var controls: [ControlSocket] = []
        func place(_ keyword: String) -> String {
            global.keywordLines[keyword].map { "parsing [\(configuration.file):\($0)] : '\(keyword)' : " } ?? ""
        }
        /// Undoes a partial start and exits 1.
        func abandon(_ message: String) async throws -> Never {
            report(.alert, message)
            await vrrp?.resignAndStop()
            for control in controls { await control.stop() }
            await server.stop(grace: .zero)
            throw ExitCode(1)
        }
        // The stats socket before the listeners, as HAProxy has it: whoever sees a frontend
        // answer can already use the socket (scripts and VTest's `-cli` rely on it).
        for settings in global.statsSockets {
            do {
                let socketSettings = try ControlSocketSettings(settings, timeoutNanoseconds: global.statsTimeout?.nanoseconds)
                controls.append(try await ControlSocket.start(socketSettings, api: api, group: server.adminLoop, logger: logger))
            } catch {
                try await abandon("stats socket \(settings.path): \(error)")
            }
        }
        // The syslog relay before the listeners: the first requests' log lines may be its own.
        var logForward: LogForwardService?
        do {
            logForward = try await LogForwardService.start(configuration, logger: logger)
        } catch {
            try await abandon("\(error)")
        }
        do {
            try await server.start()
        } catch {
            try await abandon((error as? ConfigError)?.description ?? "\(error)")
        }
        // The peers after the listeners, before the VIP: a new master should know the tables.
        var peers: [PeersService] = []
        do {
            peers = try await PeersService.start(configuration, runtime: runtime,
                                                 localName: PeersService.localName(commandLine: options.localPeer, configuration: configuration),
                                                 group: server.eventLoopGroup, logger: logger)
        } catch {
            try await abandon("\(error)")
        }
        // The VIP comes after the listeners: once elected, this node must already serve.
        if !configuration.vrrpInstances.isEmpty {
            // Under `chroot` its scripts run outside it, and as `script_user` when there is
            // one, through the script runner, started now: before the chroot and the privilege
            // drop, and before the first script runs.
            var launcher = ScriptLauncher.direct
            if configuration.scriptsNeedTheRunner {
                do {
                    launcher = .runner(try ScriptRunnerCommand.start(options: options, logger: logger))
                } catch {
                    try await abandon(place(global.chroot != nil ? "chroot" : "script_user") + "cannot start the script runner: \(error)")
                }
            }
            // Read at each heartbeat from the configuration in force (a reload may change it).
            let hooks = VRRPGroup.Hooks(
                backendUsable: { name in server.runtime.serverStates.contains { $0.backend == name && $0.acceptsNewClients } },
                proxyLoops: Array(server.eventLoopGroup.makeIterator()), scriptLauncher: launcher)
            do {
                vrrp = try await VRRPGroup.start(configuration: configuration, hooks: hooks, logger: logger)
                instance.vrrp = vrrp
            } catch {
                try await abandon("\(error)")
            }
        }
        // Everything is open: pin the loops, then enter the chroot and give up root.
        let pinning = await CPUAffinity.apply(global, loops: Array(server.eventLoopGroup.makeIterator()))
        if !pinning.isEmpty { try await abandon(place("cpu-map") + "cannot pin event loops: " + pinning.joined(separator: "; ")) }
        // /proc stays readable through a descriptor opened before the chroot hides it.
        guard let tasks = ProcTasks() else { try await abandon("cannot open /proc/self/task: \(String(cString: strerror(errno)))") }
        if let dir = global.chroot, let failure = Chroot.enter(dir) { try await abandon(place("chroot") + failure.description) }
        let drop = PrivilegeDrop(uid: global.uid, gid: global.gid, tasks: tasks,
                                 keep: configuration.vrrpInstances.isEmpty ? [] : [LinuxCalls.CAP_NET_ADMIN, LinuxCalls.CAP_NET_RAW])
        do {
            try drop.apply()
            tasks.close()
        } catch {
            try await abandon(place(global.keywordLines["user"] != nil ? "user" : "uid") + "privilege drop failed: \(error)")
        }
        Signals.ignoreProfilingSignal()
        logger.info("swiftlb \(SwiftLB.configuration.version) started, pid \(getpid())")
        if Daemon.isDetachedChild { Daemon.reportReadyAndDetach() }
        SystemdNotify.send("READY=1\nSTATUS=serving \(configuration.file)\nMAINPID=\(getpid())")
        instance.startupPages?.release()
        let watchdog = SystemdNotify.watchdogInterval.map { interval in
            Task.detached {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    SystemdNotify.send("WATCHDOG=1")
                }
            }
        }
        defer { watchdog?.cancel() }

        // How long connections may take to end once stopping; nil: as long as they last.
        var drain: ConfigDuration? = GlobalSettings.stopSignalDrain
        var requests = signals.makeAsyncIterator()
        signalLoop: while let request = await requests.next() {
            switch request {
            case .reload(let name):
                // The whole file: listeners opened and closed where it changed them, servers'
                // health kept, connections and tunnels untouched; an invalid file changes nothing.
                _ = await instance.reload(trigger: name)
            case .ignored(let name):
                logger.notice("\(name) received and ignored")
            case .stop(let name):
                // The file in force: a reload may have changed hard-stop-after.
                let bound = server.runtime.configuration.global.hardStopAfter ?? GlobalSettings.stopSignalDrain
                drain = bound
                logger.info("received \(name): stopping, connections have \(bound) to end")
                break signalLoop
            case .softStop:
                // HAProxy's soft stop: without hard-stop-after, the process stays until the last one ends.
                drain = server.runtime.configuration.global.hardStopAfter
                logger.info("received SIGUSR1: soft stop, connections have \(drain.map { "\($0)" } ?? "as long as they last") to end")
                break signalLoop
            }
        }
        // Signals still count while connections drain: SIGTERM or SIGINT after a soft stop gives
        // them the stop signal's bound (HAProxy exits at once), a reload stays refused.
        let draining = Task { [requests] in
            var requests = requests
            while let request = await requests.next() {
                if case .stop(let name) = request {
                    logger.info("received \(name) while stopping: connections have \(GlobalSettings.stopSignalDrain) more at most")
                    server.hurryStop(within: .nanoseconds(GlobalSettings.stopSignalDrain.nanoseconds))
                }
            }
        }
        defer { draining.cancel() }
        SystemdNotify.send("STOPPING=1")
        // Hand the VIP over first (the peer takes it while we still serve), then drain.
        await vrrp?.resignAndStop()
        for control in controls { await control.stop() }
        for service in peers { await service.stop() }
        await server.stop(grace: drain.map { .nanoseconds($0.nanoseconds) })
        await logForward?.stop()
        logger.info("stopped")
    }
}

struct Ctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send one command to a running swiftlb's control socket ('stats socket' in lb.conf).",
        discussion: "HAProxy's runtime API: help; show info; show stat; show servers state; show vrrp; set server BACKEND/SERVER state ready|drain|maint; enable|disable server BACKEND/SERVER; reload; several commands separated by ';'.")
    @Option(name: [.short, .customLong("socket")], help: "The control socket path.")
    var socket: String
    @Argument(help: "The command words.")
    var command: [String]

    func run() throws {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(socket.utf8)
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else { throw ValidationError("socket path too long") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path)
            raw[path.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let message = Array("cannot connect to \(socket): \(String(cString: strerror(errno)))\n".utf8)
            _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            throw ExitCode(1)
        }
        let line = Array((command.joined(separator: " ") + "\n").utf8)
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var answer = [UInt8]()
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            answer += buffer[0..<n]
        }
        let text = String(decoding: answer, as: UTF8.self)
        print(text, terminator: "")
        if RuntimeAPI.answerIsFailure(text) { throw ExitCode(1) }
    }
}

