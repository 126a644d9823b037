import FoundationEssentials
import Glibc
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwiftLBAdmin
import SwiftLBConfig

/// Every VIP instance of one process (`vrrp` sections and keepalived `vrrp_instance` blocks),
/// and what they share. Active-active is the reason there are several: lb1 master of VIP A,
/// lb2 master of VIP B, DNS naming both, so both machines serve. Each instance elects on its
/// own (`VRRPInstance` around its `Elector`); they share
///
/// * one event loop, their own (no proxy loop can delay a heartbeat);
/// * one UDP socket per heartbeat address and port (`HeartbeatSocket`), which sorts packets by
///   router id, and one sender per source address;
/// * one peer link per pair of hosts (`PeerLink`, keyed by local address, peer address and
///   port), whose "the peer's process died" verdict goes to every instance following that
///   peer, and one TCP listener per address and port (`PeerLinkListener`);
/// * one runner per `vrrp_script` (`TrackedScript`), whatever the number of instances
///   tracking it, one /proc scan for every `vrrp_track_process` (`TrackedProcesses`), one
///   reader for every `track_file` (`TrackedFiles`), and the proxy-loop probe.
///
/// `start` checks everything an instance needs before anything is bound, so a bad instance
/// stops the start with its name and reason; `resignAndStop` hands every instance over
/// before the proxy drains.
public final class VRRPGroup: @unchecked Sendable {
    /// What the proxy side lends the instances.
    public struct Hooks: Sendable {
        /// Whether a backend has at least one server that takes new clients.
        public var backendUsable: @Sendable (String) -> Bool
        /// Loops that must keep answering for the instances to hold their VIPs.
        public var proxyLoops: [any EventLoop]
        /// How `vrrp_script` and notify commands start: the script runner under `chroot`.
        public var scriptLauncher: ScriptLauncher
        public init(backendUsable: @escaping @Sendable (String) -> Bool, proxyLoops: [any EventLoop], scriptLauncher: ScriptLauncher = .direct) {
            self.backendUsable = backendUsable
            self.proxyLoops = proxyLoops
            self.scriptLauncher = scriptLauncher
        }
    }

    public struct StartFailure: Error, CustomStringConvertible {
        public let description: String
    }

    /// keepalived's IPv4 group (VRRP's, RFC 5798 §5.1.1.2): where advertisements go when an
    /// instance names no `unicast_peer`.
    public static let multicastGroup = "224.0.0.18"

    private let group: MultiThreadedEventLoopGroup
    private let loop: any EventLoop
    private let logger: Logger
    let instances: [VRRPInstance]
    private let sockets: [HeartbeatSocket]
    private let links: [PeerLink]
    private let listeners: [PeerLinkListener]
    private let scripts: [TrackedScript]
    /// Every `vrrp_track_process` some instance tracks, scanned together (nil: none).
    private let processes: TrackedProcesses?
    /// Every `track_file` some instance tracks, read together (nil: none).
    private let files: TrackedFiles?
    /// Held here: their members point at them weakly.
    private let syncGroups: [SyncGroup]
    /// `smtp_alert`'s sender, shared by the instances and groups that mail (nil: none does).
    private let mailer: SMTPAlert?
    /// Set by the first `resignAndStop`: the loop is gone after it.
    private let stopped = NIOLockedValueBox(false)

    private init(group: MultiThreadedEventLoopGroup, logger: Logger, instances: [VRRPInstance], sockets: [HeartbeatSocket],
                 links: [PeerLink], listeners: [PeerLinkListener], scripts: [TrackedScript], processes: TrackedProcesses?,
                 files: TrackedFiles?, syncGroups: [SyncGroup], mailer: SMTPAlert?) {
        self.group = group
        self.loop = group.next()
        self.logger = logger
        self.instances = instances
        self.sockets = sockets
        self.links = links
        self.listeners = listeners
        self.scripts = scripts
        self.processes = processes
        self.files = files
        self.syncGroups = syncGroups
        self.mailer = mailer
    }

    /// The instance names, in the order of the file.
    public var instanceNames: [String] { instances.map(\.settings.name) }

    // MARK: start

    /// Starts every VIP instance of `configuration` (its `vrrpInstances` and the
    /// `vrrpScripts` they track). The instances start as backup once every tracked script has
    /// reported once.
    public static func start(configuration: Configuration, hooks: Hooks, logger: Logger) async throws(StartFailure) -> VRRPGroup {
        try await start(instances: configuration.vrrpInstances, scripts: configuration.vrrpScripts,
                        trackProcesses: configuration.vrrpTrackProcesses, trackFiles: configuration.vrrpTrackFiles,
                        syncGroups: configuration.vrrpSyncGroups, smtpAlert: configuration.smtpAlert, routerID: configuration.routerID,
                        configFile: configuration.file, hooks: hooks, logger: logger)
    }

    /// Checks what each instance needs (its key, interfaces, a source address, CAP_NET_ADMIN
    /// and CAP_NET_RAW, distinct router ids per socket, one key per shared peer link),
    /// releases VIPs a previous run left behind, binds the sockets and listeners, runs every
    /// tracked script once, and starts the instances as backup.
    public static func start(instances settings: [VRRPSettings], scripts definitions: [String: VRRPScript] = [:],
                             trackProcesses: [String: VRRPTrackProcess] = [:], trackFiles: [String: VRRPTrackFile] = [:],
                             syncGroups: [VRRPSyncGroup] = [], smtpAlert: SMTPAlertSettings = .init(), routerID: String? = nil, configFile: String,
                             hooks: Hooks, logger: Logger) async throws(StartFailure) -> VRRPGroup {
        guard !settings.isEmpty else { throw StartFailure(description: "vrrp: no instance to start") }
        func fail(_ v: VRRPSettings, _ message: String) -> StartFailure { StartFailure(description: "vrrp \(v.name): \(message)") }

        // Everything that can be checked before anything is opened.
        var keys: [[UInt8]?] = []
        var locals: [String] = []
        let allVIPs = Set(settings.flatMap { $0.virtualAddresses.map(\.address) })
        for v in settings {
            var warnings: [ConfigError] = []
            do { keys.append(try HeartbeatKey.load(v, configFile: v.file ?? configFile, warnings: &warnings)) } catch {
                throw StartFailure(description: error.description)
            }
            for name in Set([v.interface] + v.virtualAddresses.compactMap(\.interface)) where if_nametoindex(name) == 0 {
                throw fail(v, "no interface '\(name)' in this network namespace")
            }
            for track in v.trackInterfaces where if_nametoindex(track.interface) == 0 {
                logger.warning("vrrp \(v.name): track_interface \(track.interface): no such interface in this network namespace; counted as down")
            }
            for track in v.trackScripts where definitions[track.script] == nil {
                throw fail(v, "track_script '\(track.script)': no vrrp_script of that name was given to the VIP runtime")
            }
            for track in v.trackFiles where trackFiles[track.file] == nil {
                throw fail(v, "track_file '\(track.file)': no track_file of that name was given to the VIP runtime")
            }
            for track in v.trackProcesses where trackProcesses[track.process] == nil {
                throw fail(v, "track_process '\(track.process)': no vrrp_track_process of that name was given to the VIP runtime")
            }
            guard let local = v.unicastSourceIP ?? v.mcastSourceIP ?? IPv4.firstAddress(of: v.interface, excluding: allVIPs) else {
                throw fail(v, "'\(v.interface)' has no IPv4 address to send heartbeats from; set unicast_src_ip (or mcast_src_ip)")
            }
            locals.append(local)
        }
        // Whatever a crashed run left on the interfaces is not ours until we are elected.
        for v in settings {
            for vip in v.virtualAddresses {
                do { try VIPAddress.remove(vip.cidr, interface: vip.interface ?? v.interface) } catch { throw fail(v, error.description) }
            }
        }
        do { try GratuitousARP.checkPermission() } catch { throw fail(settings[0], error.description) }

        let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = eventLoops.next()
        func shutDown() async { try? await eventLoops.shutdownGracefully() }
        let asksForMail = settings.contains { $0.smtpAlert == true } || syncGroups.contains { $0.smtpAlert == true }
        let mailer = asksForMail ? SMTPAlert(settings: smtpAlert, routerID: routerID, loop: loop, logger: logger) : nil

        // Senders, one per source address (and mode).
        var senders: [String: HeartbeatSender] = [:]
        var instances: [VRRPInstance] = []
        var tracked: [String: TrackedScript] = [:]
        let probe = LoopProbe(loops: hooks.proxyLoops)
        let watchedProcesses = trackProcesses.filter { name, _ in settings.contains { $0.trackProcesses.contains { $0.process == name } } }
        let processes = watchedProcesses.isEmpty ? nil : TrackedProcesses(settings: watchedProcesses, loop: loop, logger: logger)
        // keepalived applies init_file to every block, tracked or not; only tracked files are read.
        let files = trackFiles.isEmpty ? nil : TrackedFiles(settings: trackFiles, watched: Set(settings.flatMap { $0.trackFiles.map(\.file) }),
                                                             loop: loop, logger: logger)
        for (index, v) in settings.enumerated() {
            let multicastInterface = v.multicast ? v.interface : nil
            let ttl = v.multicast ? nil : v.unicastTTL
            let senderKey = "\(locals[index]) \(multicastInterface ?? "") \(ttl ?? 255)"
            let sender: HeartbeatSender
            if let existing = senders[senderKey] {
                sender = existing
            } else {
                do { sender = try HeartbeatSender(source: locals[index], multicastInterface: multicastInterface, unicastTTL: ttl) } catch {
                    await shutDown()
                    throw fail(v, error.description)
                }
                senders[senderKey] = sender
            }
            var own: [String: TrackedScript] = [:]
            for track in v.trackScripts {
                let script = tracked[track.script] ?? TrackedScript(settings: definitions[track.script]!, launcher: hooks.scriptLauncher,
                                                                       loop: loop, logger: logger)
                tracked[track.script] = script
                own[track.script] = script
            }
            instances.append(VRRPInstance(settings: v, key: keys[index], localAddress: locals[index], sender: sender, scripts: own,
                                          processes: v.trackProcesses.isEmpty ? nil : processes, files: v.trackFiles.isEmpty ? nil : files,
                                          probe: probe, hooks: hooks, mailer: mailer, loop: loop, logger: logger))
        }

        // `vrrp_sync_group`s: members that fail together (the parser checked the names).
        let groups = syncGroups.map { SyncGroup(settings: $0, mailer: mailer, launcher: hooks.scriptLauncher, logger: logger) }
        for group in groups {
            for name in group.settings.members {
                if let member = instances.first(where: { $0.settings.name == name }) { group.join(member) }
            }
        }

        // One socket per address and port; router ids distinct on each.
        var sockets: [HeartbeatSocket.Key: HeartbeatSocket] = [:]
        for instance in instances {
            let v = instance.settings
            let key = v.multicast ? HeartbeatSocket.Key(address: multicastGroup, port: v.udpPort, multicastInterface: v.interface)
                                  : HeartbeatSocket.Key(address: instance.localAddress, port: v.udpPort)
            let socket = sockets[key] ?? HeartbeatSocket(key: key, loop: loop)
            sockets[key] = socket
            if let other = socket.add(instance) {
                await shutDown()
                throw fail(v, "virtual_router_id \(v.virtualRouterID) is also vrrp \(other.settings.name)'s, and both receive heartbeats on \(key): give one of them another virtual_router_id")
            }
        }

        // One peer link per pair of hosts, shared by the instances between them.
        var members: [String: [VRRPInstance]] = [:]
        var order: [String] = []
        for instance in instances {
            let v = instance.settings
            if v.multicast {
                instance.linkNote = "off (multicast: the heartbeat timeout is the only judge)"
                continue
            }
            guard v.unicastPeers.count == 1 else {
                instance.linkNote = "off (several unicast_peer: the link is between two instances)"
                continue
            }
            let id = "\(instance.localAddress) \(v.unicastPeers[0]) \(v.udpPort)"
            if members[id] == nil { order.append(id) }
            members[id, default: []].append(instance)
        }
        var links: [PeerLink] = []
        for id in order {
            let sharing = members[id]!
            let first = sharing[0]
            let firstKey = keys[instances.firstIndex { $0 === first }!]
            for other in sharing.dropFirst() where keys[instances.firstIndex { $0 === other }!] != firstKey {
                await shutDown()
                throw fail(other.settings, "it shares the peer link to \(first.settings.unicastPeers[0]) with vrrp \(first.settings.name), but not its key: use one auth_key_file for both (or another udp_port)")
            }
            let link = PeerLink(settings: .init(label: "vrrp " + sharing.map(\.settings.name).joined(separator: ", "), local: first.localAddress,
                                                peer: first.settings.unicastPeers[0], port: first.settings.udpPort, key: firstKey,
                                                advertInterval: sharing.map(\.settings.advertInterval.nanoseconds).min()!),
                                loop: loop, logger: logger)
            link.onProcessDied = { sender in
                for instance in sharing { instance.peerProcessDied(sender) }
            }
            for instance in sharing { instance.link = link }
            links.append(link)
        }
        var byAddress: [String: [PeerLink]] = [:]
        for link in links { byAddress["\(link.settings.local) \(link.settings.port)", default: []].append(link) }
        let listeners = byAddress.values.map { PeerLinkListener(local: $0[0].settings.local, port: $0[0].settings.port, links: $0, loop: loop) }

        let started = VRRPGroup(group: eventLoops, logger: logger, instances: instances, sockets: Array(sockets.values), links: links,
                                listeners: listeners, scripts: Array(tracked.values), processes: processes,
                                files: files, syncGroups: groups, mailer: mailer)
        for socket in started.sockets {
            do { try await socket.start().get() } catch {
                await started.close()
                throw fail(socket.instances.values.first!.settings, "cannot receive heartbeats on \(socket.key) (udp): \(error)")
            }
        }
        for listener in listeners {
            do { try await listener.start().get() } catch {
                await started.close()
                throw fail(instances.first { $0.localAddress == listener.local && $0.link != nil }!.settings,
                           "cannot listen for the peer link on \(listener.local):\(listener.port) (tcp): \(error)")
            }
        }
        for link in links { try? await link.start().get() }

        // The first result of every tracked script before electing: an instance next to a
        // broken service must not take the VIP while its check has not run yet.
        if !tracked.isEmpty {
            logger.info("vrrp: waiting for the first result of \(tracked.keys.sorted().map { "vrrp_script \($0)" }.joined(separator: ", "))")
            for script in tracked.values {
                let instancesTracking = instances.filter { $0.settings.trackScripts.contains { $0.script == script.settings.name } }
                script.onChange = { for instance in instancesTracking { instance.evaluateHealth() } }
            }
            for script in tracked.values { try? await script.start().get() }
        }
        // Likewise the first count of every tracked process (one /proc scan, at once).
        if let processes {
            processes.onChange = { names in
                for instance in instances where instance.settings.trackProcesses.contains(where: { names.contains($0.process) }) {
                    instance.evaluateHealth()
                }
            }
            try? await processes.start().get()
        }
        // And the first value of every track_file (after init_file).
        if let files {
            files.onChange = { names in
                for instance in instances where instance.settings.trackFiles.contains(where: { names.contains($0.file) }) {
                    instance.evaluateHealth()
                }
            }
            try? await files.start().get()
        }

        for instance in instances {
            let v = instance.settings
            let auth = !v.isAuthenticated ? "none" : "hmac-sha256"
            let to = v.multicast ? "\(multicastGroup) (multicast on \(v.interface))" : v.unicastPeers.joined(separator: ", ")
            logger.info("vrrp \(v.name): heartbeats \(instance.localAddress):\(v.udpPort) <-> \(to), every \(v.advertInterval), auth \(auth)")
        }
        try? await loop.submit { for instance in instances { instance.start() } }.get()
        return started
    }

    // MARK: stop

    /// Graceful stop of every instance at once: each master advertises priority 0 and keeps
    /// its VIP until the peer answers as master (bounded, see `VRRPInstance.resign`); backups
    /// simply stop. Then the peer links say goodbye (so the peer reads no death into their
    /// close) and everything closes. Only after this returns should the proxy drain — until
    /// then this node still serves the VIPs it held.
    public func resignAndStop() async {
        guard stopped.withLockedValue({ s in defer { s = true }; return !s }) else { return }
        let resigns = instances.map { $0.resign() }
        try? await EventLoopFuture.andAllComplete(resigns, on: loop).get()
        let groups = syncGroups
        try? await loop.submit { for group in groups { group.stopped() } }.get()
        // The "Stopping" mails: a moment to go out, never long (the proxy waits to drain).
        try? await mailer?.drain(within: .seconds(2)).get()
        await close()
    }

    /// Closes everything, in the order that tells the peer nothing false.
    private func close() async {
        for link in links { try? await link.stop().get() }
        for listener in listeners { try? await listener.stop().get() }
        for socket in sockets { try? await socket.stop().get() }
        for script in scripts { try? await script.stop().get() }
        try? await processes?.stop().get()
        try? await files?.stop().get()
        try? await group.shutdownGracefully()
    }

    // MARK: status

    /// Every instance's state now, for the stats page and /metrics (which show the first).
    public var vipStats: [VIPStats] { instances.map(\.vipStats) }

    /// `swiftlb ctl show vrrp`: every instance, then every peer link once.
    public var statusText: String {
        var text = instances.map(\.statusText).joined(separator: "\n")
        for link in links {
            text += "\n" + link.status.withLockedValue { $0.render() }
        }
        return text + "\n"
    }
}
