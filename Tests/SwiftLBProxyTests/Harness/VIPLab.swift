import Foundation
import XCTest

/// Two SwiftLB instances sharing a VIP, in network namespaces this test creates: a bridge
/// namespace, lb1 (priority 150), lb2 (priority 100) and a client, on 10.77.0.0/24 with the
/// VIP 10.77.0.10. Each lb runs a stream_server on its own loopback (port 9101 / 9102, so an
/// answer says which node served it) behind SwiftLB's frontend on :8080. `startSharedNodes()`
/// adds a `be` namespace (10.77.0.100) with three HipChat stand-ins both lbs balance over, for
/// the stickiness scenarios. Active-active scenarios add a second VIP, 10.77.0.20, elected by
/// a second instance (`activeActiveVRRP`).
///
/// Everything is removed in `tearDown()` — call it from a `defer` — and by the deinit, so a
/// failing test leaves no namespace or process behind.
final class VIPLab {
    static let net = "10.77.0"
    static let vip = "10.77.0.10"
    static let vip2 = "10.77.0.20"
    static let port = 5112
    let tag = "s\(getpid() % 100000)"
    let dir: TempDirectory
    let key = "lab-key-" + UUID().uuidString
    private(set) var instances: [String: ChildProcess] = [:]
    private var helpers: [ChildProcess] = []
    private var backends: [String: ChildProcess] = [:]
    private var nodes: [String] = []

    static var available: Bool { getuid() == 0 && shell("command -v ip && command -v python3").status == 0 }

    var bridge: String { "\(tag)-br" }
    func ns(_ node: String) -> String { "\(tag)-\(node)" }
    func address(_ node: String) -> String { "\(Self.net).\(["lb1": 11, "lb2": 12, "client": 50, "be": 100][node]!)" }
    func mac(_ node: String) -> String { "02:77:00:00:00:\(["lb1": "11", "lb2": "12", "client": "50", "be": "a0"][node]!)" }

    init() throws {
        dir = try TempDirectory()
        try run("ip netns add \(bridge) && ip -n \(bridge) link set lo up && ip -n \(bridge) link add br0 type bridge stp_state 0 forward_delay 0 && ip -n \(bridge) link set br0 up")
        nodes.append(bridge)
        for node in ["lb1", "lb2", "client"] { try addNode(node) }
        // keepalived-style notify: every transition appends "NODE INSTANCE NAME STATE PRIORITY".
        _ = try dir.write("notify.sh", "echo \"$@\" >> \(dir.file("notify.log"))\n")
        _ = try dir.write("vrrp.key", key + "\n")
        chmod(dir.file("vrrp.key"), 0o600)
        // Bounded wait for the links (DAD-free IPv4 is quick, but the bridge port needs a moment).
        _ = waitUntil(timeout: 5) { Self.shell("ip netns exec \(self.ns("client")) ping -c1 -W1 -q \(self.address("lb2"))").status == 0 }
    }

    /// A namespace on the bridge with its address and MAC.
    private func addNode(_ node: String) throws {
        let n = ns(node)
        try run("ip netns add \(n)")
        nodes.append(n)
        try run("""
            ip -n \(n) link set lo up && \
            ip -n \(bridge) link add vb-\(node) type veth peer name veth0 netns \(n) && \
            ip -n \(bridge) link set vb-\(node) master br0 up && \
            ip -n \(n) link set veth0 address \(mac(node)) && \
            ip -n \(n) addr add \(address(node))/24 dev veth0 && \
            ip -n \(n) link set veth0 up
            """)
    }

    /// Three HipChat stand-ins (scripts/node_app.py: node1…node3 on 10.77.0.100:8001…8003) in
    /// namespace `be`, reachable from both lbs: what a client is stuck to survives a takeover
    /// only if both instances route it the same way.
    func startSharedNodes() throws {
        try addNode("be")
        for i in 1...3 {
            helpers.append(try spawn("be", "node\(i)", ["python3", Paths.repository.appendingPathComponent("scripts/node_app.py").path,
                                                       "node\(i)", address("be"), "\(8000 + i)"]))
        }
        XCTAssertNotNil(waitUntil(timeout: 10) {
            (1...3).allSatisfy { Self.shell("ip netns exec \(self.ns("client")) curl -s --max-time 1 http://\(self.address("be")):\(8000 + $0)/").out.contains("node\($0)") }
        }, "the shared nodes answer")
    }

    @discardableResult
    static func shell(_ command: String) -> (status: Int32, out: String, err: String) { runCommand("/bin/sh", ["-c", command]) }

    func run(_ command: String) throws {
        let r = Self.shell(command)
        guard r.status == 0 else { throw XCTSkip("lab setup failed (\(command)): \(r.err)") }
    }

    /// lb.conf for one node: frontend VIP:8080 (bound before the node holds the VIP) → its own
    /// stream_server, and the vrrp section. `proxy` replaces the frontend and backend
    /// sections, `vrrp` the vrrp section(s); `preamble` goes before them (a `vrrp_script`).
    /// `timeout check 1s`: without it a check times out after `inter` (100 ms), and two slow
    /// answers of a loaded machine would take the only server (and, tracked, the VIP) away.
    func config(_ node: String, advertInterval: String = "100ms", extraVRRP: String = "", proxy: String? = nil,
                preamble: String = "", vrrp: String? = nil, vips: [String] = [VIPLab.vip], global: String = "") -> String {
        let frontends = proxy ?? """
            frontend web
            \(vips.map { "    bind \($0):8080" }.joined(separator: "\n"))
                default_backend local
            backend local
                timeout check 1s
                server app 127.0.0.1:\(node == "lb1" ? 9101 : 9102) check inter 100ms fall 2 rise 1
            """
        return """
            global
                pidfile \(dir.file("\(node).pid"))
                stats socket \(dir.file("\(node).sock")) level admin
            \(global)
            defaults
                mode http
                timeout connect 1s
                timeout client 5s
                timeout server 5s
            \(frontends)
            \(preamble)
            \(vrrp ?? vrrpSection(node, advertInterval: advertInterval, extra: extraVRRP))
            """
    }

    /// One `vrrp` section of `node`: priority 150 on lb1 and 100 on lb2 unless `lb1Master` is
    /// false (then the reverse); unicast to the other lb, or multicast (no `unicast_peer`).
    func vrrpSection(_ node: String, name: String = "lab_vip", routerID: Int = 77, vip: String = VIPLab.vip, lb1Master: Bool = true,
                     advertInterval: String = "100ms", multicast: Bool = false, extra: String = "") -> String {
        let peer = node == "lb1" ? address("lb2") : address("lb1")
        let high = (node == "lb1") == lb1Master
        let heartbeat = multicast ? "" : "    unicast_src_ip \(address(node))\n    unicast_peer \(peer)\n"
        return """
            vrrp \(name)
                interface veth0
                virtual_router_id \(routerID)
                priority \(high ? 150 : 100)
                advert_int \(advertInterval)
            \(heartbeat)    virtual_ipaddress \(vip)/24
                auth_key_file \(dir.file("vrrp.key"))
                notify "/bin/sh \(dir.file("notify.sh")) \(node)"
                notify_master "touch \(dir.file("\(node).was-master"))"
                notify_stop "touch \(dir.file("\(node).was-stopped"))"
            \(extra)
            """
    }

    /// Active-active: `vip_a` (10.77.0.10, router id 77) with lb1 as master, `vip_b`
    /// (10.77.0.20, router id 78) with lb2 as master, both over the same socket and peer link.
    func activeActiveConfig(_ node: String, advertInterval: String = "100ms") -> String {
        config(node, vrrp: vrrpSection(node, name: "vip_a", routerID: 77, vip: Self.vip, lb1Master: true, advertInterval: advertInterval)
                   + "\n" + vrrpSection(node, name: "vip_b", routerID: 78, vip: Self.vip2, lb1Master: false, advertInterval: advertInterval),
               vips: [Self.vip, Self.vip2])
    }

    /// Runs `command…` inside a node's namespace; `ip netns exec` execs, so the PID is the command's.
    func spawn(_ node: String, _ name: String, _ command: [String]) throws -> ChildProcess {
        try ChildProcess("/usr/bin/env", ["ip", "netns", "exec", node == "bridge" ? bridge : ns(node)] + command, logDirectory: dir, name: name)
    }

    /// A helper process the lab stops in `tearDown`.
    func keep(_ process: ChildProcess) { helpers.append(process) }

    func startBackend(_ node: String) throws {
        let port = node == "lb1" ? 9101 : 9102
        let process = try spawn(node, "\(node)-app", ["python3", Paths.fixtures.appendingPathComponent("stream_server.py").path, "\(port)"])
        backends[node] = process
        helpers.append(process)
    }

    func stopBackend(_ node: String) { backends[node]?.stop() }

    /// Starts SwiftLB in a node and waits until it wrote its pidfile (it has bound and elected).
    @discardableResult
    func startSwiftLB(_ node: String, config text: String? = nil) throws -> ChildProcess {
        let path = try dir.write("\(node).conf", text ?? config(node))
        try? FileManager.default.removeItem(atPath: dir.file("\(node).pid"))
        let process = try spawn(node, "\(node)-swiftlb-\(instances.count)", [Paths.swiftlb, "run", "-c", path])
        instances[node] = process
        let up = waitUntil(timeout: 10) { FileManager.default.fileExists(atPath: self.dir.file("\(node).pid")) || !process.process.isRunning }
        XCTAssertNotNil(up, "swiftlb in \(node) did not start: \(process.stderr)")
        return process
    }

    /// Which lb namespaces carry `vip` now.
    func holders(_ vip: String = VIPLab.vip) -> [String] {
        ["lb1", "lb2"].filter { Self.shell("ip -n \(ns($0)) -4 -o addr show dev veth0").out.contains("inet \(vip)/") }
    }

    func waitForHolders(_ expected: [String], vip: String = VIPLab.vip, timeout: TimeInterval = 10) -> Bool {
        waitUntil(timeout: timeout) { self.holders(vip) == expected } != nil
    }

    /// What the notify scripts recorded, one transition per line.
    var notifications: [String] {
        ((try? String(contentsOfFile: dir.file("notify.log"), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// SIGKILL: the process dies at once, its kernel closes its sockets, its VIP stays behind.
    func kill(_ node: String) {
        instances[node]!.signal(SIGKILL)
        XCTAssertNotNil(instances[node]!.waitForExit(timeout: 5), "\(node) did not die")
    }

    /// An nftables table `name` in `node`'s namespace dropping what each of `matches` selects
    /// (e.g. "tcp dport 5112"), in and out.
    func partition(_ node: String, _ name: String, _ matches: [String]) throws {
        let n = "ip netns exec \(ns(node)) nft"
        var command = "\(n) add table inet \(name) && " +
            "\(n) add chain inet \(name) input '{ type filter hook input priority 0; }' && " +
            "\(n) add chain inet \(name) output '{ type filter hook output priority 0; }'"
        for match in matches { command += " && \(n) add rule inet \(name) input \(match) drop && \(n) add rule inet \(name) output \(match) drop" }
        try run(command)
    }

    func heal(_ node: String, _ name: String) throws {
        try run("ip netns exec \(ns(node)) nft delete table inet \(name)")
    }

    /// `swiftlb ctl show vrrp` of a node.
    func vrrpStatus(_ node: String) -> String {
        runCommand(Paths.swiftlb, ["ctl", "-s", dir.file("\(node).sock"), "show", "vrrp"]).out
    }

    /// Starts the client's probe of http://VIP:8080/whoami every `period` s (bounded: 60 s; 0.3 s
    /// per connect, 2 s per read).
    func startProbe(_ name: String = "probe", vip: String = VIPLab.vip, period: Double = 0.01) throws -> Probe {
        let out = dir.file("\(name).txt")
        FileManager.default.createFile(atPath: out, contents: nil)
        let process = try spawn("client", name, ["python3", Paths.repository.appendingPathComponent("scripts/vip_probe.py").path,
                                                 "http://\(vip):8080/whoami", "--out", out, "--duration", "60", "--period", "\(period)",
                                                 // shorter than TCP's 1 s SYN retransmit: a SYN lost while
                                                 // nobody holds the VIP shows as a failed probe
                                                 "--timeout", "0.3",
                                                 // an established request is reset at once when its
                                                 // address moves; a slow answer (a debug build on a
                                                 // loaded machine) is no failure
                                                 "--read-timeout", "2"])
        helpers.append(process)
        return Probe(process: process, path: out)
    }

    func tearDown() {
        for process in instances.values { process.stop() }
        for process in helpers { process.stop() }
        instances = [:]
        helpers = []
        for n in nodes.reversed() { Self.shell("ip netns del \(n)") }
        nodes = []
    }

    deinit { tearDown() }
}

/// The client's probe log: which node answered each request, and the failures.
struct Probe {
    let process: ChildProcess
    let path: String
    static let lb1 = "stream_server_9101"
    static let lb2 = "stream_server_9102"

    var answers: [(start: Double, answer: String)] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let p = line.split(separator: " ")
            guard p.count == 3, let t = Double(p[0]) else { return nil }
            return (t, String(p[2]))
        }
    }
    var last: String? { answers.last?.answer }
    func failures(since t: Double = 0) -> [String] { answers.filter { $0.start >= t && $0.answer.hasPrefix("FAIL") }.map(\.answer) }
    func waitFor(_ answer: String, timeout: TimeInterval = 10) -> Bool { waitUntil(timeout: timeout) { self.last == answer } != nil }
    func stop() { process.stop() }
}

/// The base of the VIP scenario classes: a fresh lab per test, torn down after it.
class VIPLabTestCase: XCTestCase {
    var lab: VIPLab!

    override func setUpWithError() throws {
        guard VIPLab.available else { throw XCTSkip("needs root, ip and python3 (network namespaces)") }
        lab = try VIPLab()
    }

    override func tearDown() {
        lab?.tearDown()
        lab = nil
    }

    /// lb2 first, then lb1, which preempts; the probe (every `period` s) sees lb1, and the
    /// peer link between them is up (unless `multicast`: then there is none). `lb1Extra` goes
    /// into lb1's vrrp section only, `preamble` before both nodes' vrrp sections, `lb1Global`
    /// into lb1's global section.
    func startPair(advert: String = "100ms", extraVRRP: String = "", lb1Extra: String = "", preamble: String = "",
                   lb1Global: String = "", multicast: Bool = false, period: Double = 0.01) throws -> Probe {
        try lab.startBackend("lb1")
        try lab.startBackend("lb2")
        for node in ["lb2", "lb1"] {
            let extra = extraVRRP + (node == "lb1" && !lb1Extra.isEmpty ? "\n" + lb1Extra : "")
            try lab.startSwiftLB(node, config: lab.config(node, preamble: preamble,
                                                          vrrp: lab.vrrpSection(node, advertInterval: advert, multicast: multicast, extra: extra),
                                                          global: node == "lb1" ? lb1Global : ""))
        }
        XCTAssertTrue(lab.waitForHolders(["lb1"]), "lb1 (priority 150) should hold the VIP: \(lab.holders())")
        let probe = try lab.startProbe(period: period)
        XCTAssertTrue(probe.waitFor(Probe.lb1), "the client should reach lb1 through the VIP; last: \(probe.last ?? "nothing")")
        if !multicast { XCTAssertTrue(linkUp("lb1") && linkUp("lb2"), lab.vrrpStatus("lb2")) }
        return probe
    }

    /// Both backends, then lb2 and lb1 with `config(node)` (lb1 last: it preempts).
    func startNodes(_ config: (String) -> String) throws {
        try lab.startBackend("lb1")
        try lab.startBackend("lb2")
        try lab.startSwiftLB("lb2", config: config("lb2"))
        try lab.startSwiftLB("lb1", config: config("lb1"))
    }

    /// lb1 enters FAULT for `fault` and hands the VIP to lb2, which the client then reaches.
    func assertLB1Faults(_ fault: String, _ probe: Probe, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotNil(waitUntil(timeout: 5) { self.lab.vrrpStatus("lb1").contains("state: FAULT") }, lab.vrrpStatus("lb1"), file: file, line: line)
        XCTAssertTrue(lab.vrrpStatus("lb1").contains(fault), lab.vrrpStatus("lb1"), file: file, line: line)
        XCTAssertTrue(lab.waitForHolders(["lb2"]), "lb1 in FAULT hands the VIP over: \(lab.holders())", file: file, line: line)
        XCTAssertTrue(probe.waitFor(Probe.lb2), file: file, line: line)
    }

    func linkUp(_ node: String, timeout: TimeInterval = 10) -> Bool {
        waitUntil(timeout: timeout) { self.lab.vrrpStatus(node).contains("peer link: up (") } != nil
    }
}
