import ArgumentParser
import Glibc
import Logging
import SwiftLBConfig
import SwiftLBHA

/// `swiftlb script-runner` (hidden): the process that runs `vrrp_script` and notify commands
/// outside the chroot. Debian's haproxy.cfg has `chroot /var/lib/haproxy`; inside it there is
/// no /bin/sh and none of keepalived's scripts, so a tracked script would fail forever (a
/// weight-0 one holding the instance in FAULT) and notify scripts would never run. It also
/// gives keepalived's `script_user` a process that can become that user.
///
/// `swiftlb run` starts it (`start`) before entering the chroot, with the same options and
/// its socket as fd 3, and waits for its `ready`. It becomes `script_user`, else the
/// `user`/`group` swiftlb drops to, keeps no capability, never chroots, ends when swiftlb's
/// end of the socket closes, and runs only what lb.conf lists (`ScriptAllowList`, read by
/// itself from the file, before it gives up root).
struct ScriptRunnerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "script-runner",
        abstract: "Run vrrp_script and notify commands for 'swiftlb run' under chroot or script_user (started by it).",
        shouldDisplay: false)

    @OptionGroup var options: ConfigOption

    /// Starts the runner for a `swiftlb run` with `options`: it reads the same file the same
    /// way (`--config`, `--local-peer`, `--config-id`).
    static func start(options: ConfigOption, logger: Logger) throws(ScriptRunnerClient.StartFailure) -> ScriptRunnerClient {
        try ScriptRunnerClient.start(executable: "/proc/self/exe",
                                     argv: arguments(argumentZero: CommandLine.arguments.first, options: options), logger: logger)
    }

    /// argv for the runner: `swiftlb script-runner --config FILE [...]`.
    static func arguments(argumentZero: String?, options: ConfigOption) -> [String] {
        [argumentZero ?? "swiftlb", configuration.commandName!, "--config", options.config]
            + (options.localPeer.map { ["--local-peer", $0] } ?? [])
            + (options.configID.map { ["--config-id", $0] } ?? [])
    }

    func run() throws {
        // swiftlb's signals are its own: a terminal's ^C or systemd's SIGTERM to the group must
        // not end the runner first; it ends when swiftlb's end of the socket closes.
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2] { Glibc.signal(signal, SIG_IGN) }
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "swiftlb script-runner")
        logger.logLevel = .info
        var info = stat()
        guard fstat(3, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK else {
            report(.alert, "script-runner is started by 'swiftlb run' with its socket as fd 3, not by hand")
            throw ExitCode(1)
        }
        // The scripts must not inherit it, whether or not posix_spawn can close descriptors.
        _ = fcntl(3, F_SETFD, FD_CLOEXEC)
        let configuration: Configuration
        do throws(ConfigErrors) {
            configuration = try ConfigParser.parse(contentsOf: options.config,
                                                   facts: BuildInfo.configFacts(localPeer: options.localPeer, configID: options.configID))
        } catch {
            for e in error.errors { logger.error("\(e)") }
            throw ExitCode(1)
        }
        let list = ScriptAllowList(configuration: configuration)
        let (uid, gid) = configuration.scriptUser.map { ($0.uid, $0.gid) } ?? (configuration.global.uid, configuration.global.gid)
        do {
            guard let tasks = ProcTasks() else { throw PrivilegeDrop.Failure(description: "cannot open /proc/self/task: \(String(cString: strerror(errno)))") }
            try PrivilegeDrop(uid: uid, gid: gid, tasks: tasks, keep: []).apply()
            tasks.close()
        } catch {
            logger.error("privilege drop failed: \(error)")
            throw ExitCode(1)
        }
        logger.info("script runner started, pid \(getpid()), uid \(getuid()), gid \(getgid()): \(list.commands.count) commands allowed")
        ScriptRunner(socket: 3, allowList: list, logger: logger).serve()
    }
}
